import { GraphqlResponseError } from '@octokit/graphql';
import { RequestError } from '@octokit/request-error';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Kysely } from 'kysely';
import {
  findFailure,
  findLoop,
  fixAttemptOfCommit,
  FixEventJobData,
  latestFixAttempt,
  loopOfBranch,
  markReadyForReview,
  recordCiVerdict,
  recordPullRequestOutcome,
  resolveFailure,
  type Database,
  type FailureRow,
  type FixAttemptRow,
  type FixLoopRow,
  type Logger,
} from '@pitcrew/core';
import type { GithubApi, PitcrewOctokit } from '../github/github-api.ts';
import { parseJobData } from './parse.ts';

/** What the `fix-events` processor needs; `createWorkers` builds it. */
export interface FixEventDeps {
  db: Kysely<Database>;
  logger: Logger;
  /** GitHub clients (the installation's Octokit marks the PR ready); `null` without a credential. */
  github: GithubApi | null;
  /** `PITCREW_FIX_READY_ON_CI`: mark the draft PR ready for review once CI passed its commit. */
  readyOnCi: boolean;
  /** Enqueues the update of the loop failure's check run and PR comment with CI's verdict (`Publisher.enqueueFix`). */
  publishVerdict(failureId: string, round: number, iteration: number, verdict: 'passed'): Promise<void>;
  /**
   * Called once per change this processor records on a loop (CI passed it, its PR was merged,
   * closed or reopened), with the loop as the `fix_loops` view shows it afterwards: TensorZero
   * feedback and metrics plug in here. An error it throws is logged, never retried: the change is
   * recorded, and a retry would find nothing to change and not call it again.
   */
  onLoopOutcome?: (loop: FixLoopRow) => Promise<void>;
  /**
   * Called once when a merged fix PR resolved the loop's failure (`resolveFailure`, by the PR's
   * head commit): the rest of a resolution (`afterResolved`) plugs in here.
   */
  onResolved?: (failure: FailureRow) => Promise<void>;
}

/** What one fix event did, as the job's return value (shown on the board). */
export type FixEventResult =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'ci-passed'; loopId: string; iteration: number; readyForReview: boolean }
  | { outcome: 'pull-request'; loopId: string; iteration: number; state: 'merged' | 'closed' | 'reopened'; changed: boolean };

/**
 * One fix event (`FixEventJobData`, from ingest):
 *
 * - `ci-success`: the loop is `loopOfBranch(branch)`; the success counts only when it is of the
 *   check that failed (the loop's failure's job or check name; for a run failure, its workflow
 *   or check name) and on a commit an iteration pushed. Then CI's verdict `passed` is recorded
 *   (`recordCiVerdict`: the first completed run decides), and, when `readyOnCi`, the PR is marked
 *   ready for review: `GET /repos/{owner}/{repo}/pulls/{n}` for its `node_id` and `draft`, then
 *   GraphQL `markPullRequestReadyForReview(input: {pullRequestId})` (REST cannot undraft, GitHub
 *   docs, "Changing the stage of a pull request"), then `fix_attempts.ready_for_review`. Last, the
 *   failure's check run and PR comment are re-published to say "verified by CI".
 * - `pull-request`: `closed` records `merged` (with `merged_by` and `outcome_at = closed_at`) or
 *   `closed` on the loop's latest proposed iteration; `reopened` clears it
 *   (`recordPullRequestOutcome`). Only the loop's own PR (its `pr_number`) counts. A merge also
 *   resolves the loop's failure by the PR's head commit (`resolveFailure`, then `onResolved`).
 *
 * Idempotent: a redelivery, a twin delivery (the `check_run` of a `workflow_job`) or a retry
 * records nothing new, sends no second mutation (a PR no longer a draft is left alone) and
 * publishes under the same job ids; `onLoopOutcome` runs only for a change.
 *
 * @throws {UnrecoverableError} when GitHub refuses for good (401, 403, 404, 422, a GraphQL error)
 * @throws {Error} a transient GitHub or database error, retried with backoff
 */
export async function processFixEvent(deps: FixEventDeps, data: FixEventJobData): Promise<FixEventResult> {
  const loopId = loopOfBranch(data.branch);
  const failure = loopId ? await findFailure(deps.db, loopId) : undefined;
  if (!loopId || !failure) return { outcome: 'ignored', reason: `no fix loop ${loopId ?? data.branch}` };
  if (failure.owner !== data.owner || failure.repo !== data.repo) return { outcome: 'ignored', reason: `fix loop ${loopId} is of ${failure.owner}/${failure.repo}, not ${data.owner}/${data.repo}` };
  const log = deps.logger.child({ loopId, deliveryId: data.deliveryId, kind: data.kind });
  if (data.kind === 'ci-success') return ciPassed(deps, log, failure, data);
  return pullRequestEnded(deps, log, failure, data);
}

async function ciPassed(deps: FixEventDeps, log: Logger, failure: FailureRow, data: Extract<FixEventJobData, { kind: 'ci-success' }>): Promise<FixEventResult> {
  const loopId = failure.id;
  const failed = checkOf(failure);
  const passed = data.scope === 'job' ? (data.jobName ?? data.checkName) : (data.workflowName ?? data.checkName);
  if (failure.kind !== data.scope || failed !== passed) return { outcome: 'ignored', reason: `${passed ?? 'a check'} passed, not ${failed ?? 'the check'} that failed` };
  const recorded = await recordCiVerdict(deps.db, { loopId, headSha: data.headSha, passed: true });
  const attempt = recorded ?? (await fixAttemptOfCommit(deps.db, loopId, data.headSha));
  if (!attempt) return { outcome: 'ignored', reason: `no iteration of fix loop ${loopId} pushed ${data.headSha}` };
  if (attempt.ci_verdict !== 'passed') return { outcome: 'ignored', reason: `CI's verdict on ${data.headSha} was ${attempt.ci_verdict} already` };
  if (recorded) log.info({ iteration: attempt.iteration, headSha: data.headSha }, 'fix verified by CI');
  const ready = attempt.ready_for_review || (deps.readyOnCi && (await markReady(deps, log, failure, attempt, data.installationId)));
  if (recorded || ready !== attempt.ready_for_review) {
    await deps.publishVerdict(loopId, failure.attempt_base, attempt.iteration, 'passed');
    await loopChanged(deps, log, loopId);
  }
  return { outcome: 'ci-passed', loopId, iteration: attempt.iteration, readyForReview: ready };
}

/** The name CI knows the failed check by: a job's (or check run's), or a run's workflow (or suite's app). */
function checkOf(failure: FailureRow): string | null {
  return failure.kind === 'job' ? (failure.job_name ?? failure.check_name) : (failure.workflow_name ?? failure.check_name);
}

/**
 * Makes sure the iteration's PR is ready for review: undrafts an open draft, then records
 * `ready_for_review`. A PR already out of draft (a retry, or a human was quicker) is only recorded.
 *
 * @returns whether the PR is now ready for review (false: no PR, dry run, closed, no credential)
 */
async function markReady(deps: FixEventDeps, log: Logger, failure: FailureRow, attempt: FixAttemptRow, installationId: number | null): Promise<boolean> {
  if (attempt.pr_number === null || attempt.dry_run) return false;
  const octokit = deps.github?.forInstallation(installationId ?? (failure.installation_id === null ? null : Number(failure.installation_id)));
  if (!octokit) {
    log.warn({ prNumber: attempt.pr_number }, 'CI passed the fix but there is no GitHub credential to mark its PR ready for review');
    return false;
  }
  const { owner, repo } = failure;
  try {
    const { data: pr } = await octokit.rest.pulls.get({ owner, repo, pull_number: attempt.pr_number });
    if (pr.state !== 'open') return false;
    if (pr.draft) await undraft(octokit, pr.node_id);
  } catch (error) {
    throw asFixEventError(error, `marking ${owner}/${repo}#${attempt.pr_number} ready for review`);
  }
  await markReadyForReview(deps.db, attempt.id);
  log.info({ prNumber: attempt.pr_number }, 'fix PR marked ready for review');
  return true;
}

/** GitHub GraphQL `markPullRequestReadyForReview` of a PR by its node id. */
async function undraft(octokit: PitcrewOctokit, pullRequestId: string): Promise<void> {
  await octokit.graphql(
    `mutation ($pullRequestId: ID!) {
      markPullRequestReadyForReview(input: { pullRequestId: $pullRequestId }) { pullRequest { id isDraft } }
    }`,
    { pullRequestId },
  );
}

async function pullRequestEnded(deps: FixEventDeps, log: Logger, failure: FailureRow, data: Extract<FixEventJobData, { kind: 'pull-request' }>): Promise<FixEventResult> {
  const loopId = failure.id;
  const before = await latestFixAttempt(deps.db, loopId);
  const loop = await findLoop(deps.db, loopId);
  if (!loop || loop.pr_number !== data.prNumber) return { outcome: 'ignored', reason: `#${data.prNumber} is not the pull request of fix loop ${loopId}` };
  const outcome = data.action === 'reopened' ? null : data.merged ? 'merged' : 'closed';
  const at = new Date(data.closedAt ?? data.receivedAt);
  const row = await recordPullRequestOutcome(deps.db, { loopId, outcome, mergedBy: data.mergedBy, at });
  if (!row) return { outcome: 'ignored', reason: `fix loop ${loopId} has no proposed iteration` };
  const changed = before?.id !== row.id || before.outcome !== row.outcome || before.merged_by !== row.merged_by || time(before.outcome_at) !== time(row.outcome_at);
  if (changed) {
    log.info({ iteration: row.iteration, outcome, mergedBy: row.merged_by, prNumber: data.prNumber }, `fix PR ${outcome ?? 'reopened'}`);
    await loopChanged(deps, log, loopId);
  }
  if (outcome === 'merged') {
    // A merged fix resolves the failure it fixes (once: a failure already resolved stays as it was).
    const resolved = await resolveFailure(deps.db, loopId, { sha: data.headSha, runId: null, at });
    if (resolved) await deps.onResolved?.(resolved);
  }
  return { outcome: 'pull-request', loopId, iteration: row.iteration, state: outcome ?? 'reopened', changed };
}

const time = (at: Date | string | null) => (at === null ? null : new Date(at).getTime());

/** Calls `onLoopOutcome` with the loop as it is now; its errors are logged (see {@link FixEventDeps}). */
async function loopChanged(deps: FixEventDeps, log: Logger, loopId: string): Promise<void> {
  if (!deps.onLoopOutcome) return;
  const loop = await findLoop(deps.db, loopId);
  if (!loop) return;
  await deps.onLoopOutcome(loop).catch((error: unknown) => log.error({ err: error }, 'onLoopOutcome hook failed; the outcome is recorded'));
}

/** GitHub's lasting refusals (401, 403, 404, 422, GraphQL errors) as unrecoverable; others as they are, for a retry. */
function asFixEventError(error: unknown, what: string): Error {
  // BullMQ's UnrecoverableError takes only a message; the cause is set on it after.
  const unrecoverable = (message: string) => Object.assign(new UnrecoverableError(message), { cause: error });
  if (error instanceof GraphqlResponseError) return unrecoverable(`${what}: GitHub GraphQL answered ${error.errors?.map((e) => `${e.type}: ${e.message}`).join('; ')}`);
  if (error instanceof RequestError && [401, 403, 404, 422].includes(error.status)) return unrecoverable(`${what}: GitHub answered ${error.status} ${error.message}`);
  return new Error(`${what} failed`, { cause: error });
}

/** The processor of the `fix-events` queue. */
export function fixEventsProcessor(deps: FixEventDeps) {
  return async function processFixEventJob(job: Job): Promise<FixEventResult> {
    const data = parseJobData(FixEventJobData, job);
    const result = await processFixEvent(deps, data);
    if (result.outcome === 'ignored') deps.logger.debug({ jobId: job.id, deliveryId: data.deliveryId, reason: result.reason }, 'fix event ignored');
    return result;
  };
}
