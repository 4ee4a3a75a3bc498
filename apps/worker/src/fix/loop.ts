import { sql } from 'kysely';
import {
  exhaustedLoopsInARow,
  findLoop,
  fixBreakerState,
  listFixAttempts,
  loopOfBranch,
  recordCiVerdict,
  toOutgoing,
  type CiFailure,
  type Db,
  type FixAttemptRow,
  type FailureRow,
  type FixLoopRow,
} from '@pitcrew/core';
import type { PitcrewOctokit } from '../github/github-api.ts';
import type { FixPolicy } from './policy.ts';

/**
 * The fix loop (part 2): a proposed fix is a hypothesis until CI agrees. CI's next failure on the
 * `pitcrew/fix/<loop>` branch is the loop's own (no incident, nothing published of its own) and
 * starts the next iteration, within the caps (`PITCREW_FIX_MAX_ITERATIONS`, USD per loop); past
 * them, or when the fixer says `ESCALATE:`, the loop ends escalated: its PR gets a label and a
 * comment saying what was tried. After `threshold` exhausted loops in a row a repository's
 * breaker keeps new loops off for a cool-down (the numbers of the bot plugin pitcrew is measured
 * against: 3 loops, 1 h).
 */

/** What a CI failure on a fix branch does to its loop. */
export type IterationDecision =
  | { kind: 'iterate'; loopId: string; iteration: number }
  | { kind: 'escalate'; loop: FixLoopRow; escalation: 'iterations' | 'budget'; reason: string }
  | { kind: 'none'; reason: string };

/**
 * Decides what a failure of CI on `pitcrew/fix/<loop>` does: records CI's verdict (`failed`) on
 * the iteration whose pushed commit it ran on, then the next iteration, or the loop's escalation
 * when its caps are reached. A failure on a pitcrew branch that no iteration pushed (outside a
 * loop), a second failure of the same commit (its verdict is in), or a loop that has ended starts
 * nothing.
 */
export async function decideIteration(db: Db, policy: Pick<FixPolicy, 'maxIterations' | 'loopUsd'>, failure: Pick<CiFailure, 'branch' | 'headSha'>): Promise<IterationDecision> {
  const loopId = loopOfBranch(failure.branch);
  if (!loopId) return { kind: 'none', reason: 'not a fix branch' };
  const iteration = await recordCiVerdict(db, { loopId, headSha: failure.headSha, passed: false });
  if (!iteration) return { kind: 'none', reason: `no iteration of loop ${loopId} is waiting for CI on ${failure.headSha.slice(0, 12)} (outside its loop, or its verdict is recorded)` };
  const loop = await findLoop(db, loopId);
  if (!loop || loop.status !== 'open') return { kind: 'none', reason: `loop ${loopId} has ended (${loop?.status ?? 'gone'})` };
  if (loop.iterations >= policy.maxIterations) return { kind: 'escalate', loop, escalation: 'iterations', reason: `CI still fails after ${loop.iterations} iteration${loop.iterations === 1 ? '' : 's'} (PITCREW_FIX_MAX_ITERATIONS=${policy.maxIterations})` };
  if (policy.loopUsd > 0 && Number(loop.cost_usd) >= policy.loopUsd) return { kind: 'escalate', loop, escalation: 'budget', reason: `the loop spent ${Number(loop.cost_usd).toFixed(4)} USD of PITCREW_FIX_LOOP_BUDGET_USD=${policy.loopUsd}` };
  return { kind: 'iterate', loopId, iteration: loop.iterations + 1 };
}

/**
 * Whether a new loop may start for a failure: its repository's breaker is closed, and no loop
 * for the same branch of the same repository is open (one open loop per pull request / branch).
 *
 * @returns `null` when it may, else why not
 */
export async function loopStartRefusal(db: Db, policy: Pick<FixPolicy, 'breaker'>, failure: Pick<CiFailure, 'owner' | 'repo' | 'branch'>): Promise<string | null> {
  const run = await exhaustedLoopsInARow(db, failure, policy.breaker.threshold);
  const breaker = fixBreakerState(run, policy.breaker, new Date());
  if (breaker.open) return `the fix breaker of ${failure.owner}/${failure.repo} is open until ${breaker.until?.toISOString()} (${run.count} exhausted loops in a row)`;
  const open = await db
    .selectFrom('fix_loops')
    .innerJoin('failures', 'failures.id', 'fix_loops.loop_id')
    .select('fix_loops.loop_id')
    .where('fix_loops.owner', '=', failure.owner)
    .where('fix_loops.repo', '=', failure.repo)
    .where('fix_loops.status', '=', 'open')
    .where(onBranch(failure.branch))
    .executeTakeFirst();
  return open ? `loop ${open.loop_id} is still open for ${failure.branch ?? 'this commit'}` : null;
}

/** `failures.branch` is `branch` (`null`: the failure's payload named no head branch). */
function onBranch(branch: string | null) {
  return branch === null ? sql<boolean>`failures.branch is null` : sql<boolean>`failures.branch = ${branch}`;
}

/**
 * The failures waiting for a branch a loop has just left without a pull request: the triaged,
 * unresolved failures of the same commit (repository, branch, head SHA) that no loop has tried.
 * One open loop per branch refuses the others while it runs (`loopStartRefusal`); when that loop
 * ends with nothing pushed (no fix form, the guard refused, verification failed), a lint failure
 * refused behind a test failure's loop would otherwise never be tried. Oldest first, at most 10.
 * Not among them: CI failures of fix branches (they belong to their loops) and failures of the
 * ended loop's incident (the same breakage, which its fixer could not fix).
 */
export async function waitingForBranch(db: Db, ended: Pick<FailureRow, 'id' | 'owner' | 'repo' | 'branch' | 'head_sha' | 'incident_id'>): Promise<Pick<FailureRow, 'id' | 'attempt_base' | 'category' | 'data'>[]> {
  let query = db
    .selectFrom('failures')
    .select(['failures.id', 'failures.attempt_base', 'failures.category', 'failures.data'])
    .where('failures.owner', '=', ended.owner)
    .where('failures.repo', '=', ended.repo)
    .where(onBranch(ended.branch))
    .where('failures.head_sha', '=', ended.head_sha)
    .where('failures.id', '!=', ended.id)
    .where('failures.status', '=', 'triaged')
    .where('failures.resolved_at', 'is', null)
    .where('failures.fix_loop_id', 'is', null)
    .where((eb) => eb.not(eb.exists(eb.selectFrom('fix_attempts').select('fix_attempts.id').whereRef('fix_attempts.failure_id', '=', 'failures.id'))));
  if (ended.incident_id !== null) query = query.where(sql<boolean>`failures.incident_id is distinct from ${ended.incident_id}`);
  return query.orderBy('failures.received_at').orderBy('failures.id').limit(10).execute();
}

/** Marks the loop's latest iteration as the end of an escalated loop (`escalation`, the reason). @returns the row */
export async function markLoopEscalated(db: Db, loopId: string, escalation: 'fixer' | 'iterations' | 'budget', reason: string): Promise<FixAttemptRow | undefined> {
  const latest = db.selectFrom('fix_attempts').select('id').where('failure_id', '=', loopId).orderBy('iteration', 'desc').limit(1);
  return db.updateTable('fix_attempts').set({ escalation, reason: toOutgoing(reason, 'publish').text }).where('id', '=', latest).returningAll().executeTakeFirst();
}

/** One iteration as the loop's history tells it (the worker's rows and `pitcrew eval fix` alike). */
export interface IterationSummary {
  iteration: number;
  fixer: string | null;
  status: string;
  guardRule: string | null;
  files: number;
  lines: number;
  /** The verification that ran; `left-to-ci` when it was left to CI; `null` when none ran. */
  verify: { command: string | null; exitCode: number | null } | 'left-to-ci' | null;
  /** CI's verdict on the iteration's commit, and the check that failed when known. */
  ci: { verdict: string; commit: string | null; check?: string | null } | null;
  reason: string | null;
}

/** One line of a loop's history: `- iteration 2 (agent): proposed, 1 files, 2 lines; \`npm test\` exit 0; CI failed on abc…`. */
export function iterationLine(i: IterationSummary): string {
  const verify = i.verify === null ? 'not verified' : i.verify === 'left-to-ci' ? 'verification left to CI' : `\`${(i.verify.command ?? '').split('\n')[0]}\` exit ${i.verify.exitCode}`;
  const ci = i.ci ? `; CI ${i.ci.verdict} on ${i.ci.commit?.slice(0, 12) ?? '?'}${i.ci.check ? ` at ${i.ci.check}` : ''}` : '';
  return `- iteration ${i.iteration} (${i.fixer ?? '-'}): ${i.status}${i.guardRule ? ` (${i.guardRule})` : ''}, ${i.files} files, ${i.lines} lines; ${verify}${ci}${i.reason ? `; ${i.reason}` : ''}`;
}

/** What the loop tried, for the next iteration's prompt and the escalation comment: one line per iteration. */
export function loopHistory(attempts: FixAttemptRow[]): string {
  return attempts
    .map((a) =>
      iterationLine({
        iteration: a.iteration,
        fixer: a.fixer,
        status: a.status,
        guardRule: a.guard_rule,
        files: a.files_changed,
        lines: a.lines_changed,
        verify: a.verify_exit_code === null ? 'left-to-ci' : { command: a.verify_command, exitCode: a.verify_exit_code },
        ci: a.ci_verdict ? { verdict: a.ci_verdict, commit: a.commit_sha } : null,
        reason: a.reason,
      }),
    )
    .join('\n');
}

/**
 * Tells the loop's pull request it is escalated: the label (`PITCREW_FIX_ESCALATION_LABEL`) and
 * one comment with the reason and what each iteration tried (redacted). Idempotent by the
 * label: a PR that has it is left alone.
 *
 * @returns whether the PR was told now
 */
export async function escalatePullRequest(octokit: PitcrewOctokit, db: Db, loop: FixLoopRow, label: string, reason: string): Promise<boolean> {
  if (!loop.pr_number) return false;
  const pr = { owner: loop.owner, repo: loop.repo, issue_number: loop.pr_number };
  const { data: labels } = await octokit.issues.listLabelsOnIssue(pr);
  if (labels.some((l) => l.name === label)) return false;
  await octokit.issues.addLabels({ ...pr, labels: [label] });
  const history = loopHistory(await listFixAttempts(db, loop.loop_id));
  const body = [
    `**pitcrew stopped fixing this failure: ${reason}.** A human is needed.`,
    '',
    'What was tried:',
    '',
    history,
    '',
    `<sub>pitcrew fix loop \`${loop.loop_id}\`: ${loop.iterations} iteration${loop.iterations === 1 ? '' : 's'}, ${Number(loop.cost_usd).toFixed(4)} USD.</sub>`,
  ].join('\n');
  await octokit.issues.createComment({ ...pr, body: toOutgoing(body, 'publish').text });
  return true;
}
