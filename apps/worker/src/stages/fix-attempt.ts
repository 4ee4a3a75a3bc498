import {
  findFailure,
  findSucceededExecution,
  finishFixAttempt,
  listFixAttempts,
  startFixAttempt,
  type FixAttemptResult,
  type FixAttemptRow,
  type FixJobData,
} from '@pitcrew/core';
import { describeError, FailureNotFoundError } from '../errors.ts';
import { failedStepCommand } from '../fix/failed-step.ts';
import { loopHistory } from '../fix/loop.ts';
import { fixRefusal } from '../fix/policy.ts';
import { applyDiff, checkoutWorkspace, cloneUrlOf, type Workspace } from '../fix/workspace.ts';
import { installationToken } from '../github/github-api.ts';
import { prepareSandboxWorkspace } from '../sandbox/sandbox.ts';
import { classifyStage } from './classify.ts';
import { executeStage } from './execute.ts';
import { fixStage, guardStage, verifyStage, type FixOutput, type FixWork, type GuardOutput, type VerifyOutput } from './fix.ts';
import { scopeOf } from './index.ts';
import { proposeStage, type ProposeOutput } from './propose.ts';
import { flushRecorded, parseOutput, parseStoredFailure, runStage } from './runner.ts';
import type { StageDeps, TriageRun, TriageScope } from './stage.ts';
import { summarizeStage } from './summarize.ts';

/** How a fix job ended: the attempt's row, or why no attempt was started. */
export type FixJobResult = { attempt: FixAttemptRow; installationId: number | null } | { skipped: string };

/**
 * One fix attempt of a triaged failure: fix → guard → verify → propose, each an execution row in
 * the stage contract, and the attempt's `fix_attempts` row (started here, keyed by failure and
 * iteration, finished with the first stage that ends it). An iteration after the first
 * (`job.loop`) works on the CI failure of the fix branch: its excerpt, its commit (the previous
 * fix), what the loop tried before, the policy of the loop's own failure; its fix goes onto the
 * loop's branch and PR. The checkout is made for this run and removed after it; a retried job reuses the stages an earlier attempt finished
 * (the fix stage's diff is applied to the new checkout) and opens no second PR (propose reuses
 * its own result, and `proposeFix` an open PR of its branch).
 *
 * @returns the finished attempt, or `{skipped}` when the policy (as this worker has it) refuses
 * @throws {FailureNotFoundError} when the failure is gone
 * @throws a stage's error when a retry follows (checkout, sandbox, GitHub); on the final attempt
 *   the row is finished `failed` with it first
 */
export async function fixFailure(deps: StageDeps, run: TriageRun, job: FixJobData): Promise<FixJobResult> {
  const fix = deps.fix;
  if (!fix) return { skipped: 'PITCREW_FIX is off in this worker' };
  const { db } = deps;
  // An iteration after the first works on the CI failure of the fix branch (its excerpt, its
  // commit: the previous fix) for the loop of the failure it started from.
  const loopId = job.loop ?? job.failureId;
  const [row, origin] = await Promise.all([findFailure(db, job.failureId), job.loop ? findFailure(db, job.loop) : undefined]);
  if (!row) throw new FailureNotFoundError(job.failureId);
  if (job.loop && !origin) throw new FailureNotFoundError(job.loop);
  const scope = scopeOf(run, row, deps.logger);
  const target = origin ? parseStoredFailure(loopId, origin.data) : scope.failure;
  const [classified, executed, summarized] = await Promise.all(['classify', 'execute', 'summarize'].map((stage) => findSucceededExecution(db, job.failureId, stage)));
  if (!classified || !summarized) return { skipped: 'the failure has no finished triage' };
  const classify = parseOutput(classifyStage, job.failureId, classified.output);
  // The scope of the policy is the loop's own failure (its repository, branch and category).
  const refusal = fixRefusal(fix.policy, target, origin?.category ?? classify.category);
  if (refusal) return { skipped: refusal };
  const summary = parseOutput(summarizeStage, job.failureId, summarized.output).summary;
  const diagnosis = [summary, executed ? parseOutput(executeStage, job.failureId, executed.output).markdown : ''].filter(Boolean).join('\n\n');
  const previous = job.loop ? `${loopHistory(await listFixAttempts(db, loopId))}\n- CI on the latest fix failed: ${summary}` : null;

  const attempt = await startFixAttempt(db, { failureId: loopId, iteration: job.iteration, fixer: fix.policy.fixer, headSha: scope.failure.headSha, ciFailureId: job.loop ? job.failureId : null });
  if (attempt.status !== 'running') return { attempt, installationId: scope.failure.installationId };
  const started = performance.now();
  const finish = async (result: FixAttemptResult): Promise<FixJobResult> => {
    await flushRecorded(deps, scope);
    const finished = (await finishFixAttempt(db, attempt.id, result)) ?? attempt;
    deps.observer?.fixAttempt({ fixer: result.fixer ?? attempt.fixer, status: result.status, guardRule: result.guardRule ?? null, costUsd: result.costUsd ?? 0, durationMs: performance.now() - started });
    scope.log.info({ iteration: job.iteration, status: result.status, guardRule: result.guardRule, reason: result.reason, prUrl: result.prUrl }, 'fix attempt ended');
    return { attempt: finished, installationId: scope.failure.installationId };
  };

  let workspace: Workspace | undefined;
  try {
    const token = await installationToken(deps.github, scope.failure.installationId);
    workspace = await checkoutWorkspace({ root: fix.workspaceRoot, name: job.failureId, url: cloneUrlOf(fix.cloneUrl, scope.failure.owner, scope.failure.repo), sha: scope.failure.headSha, token });
    await prepareSandboxWorkspace(fix.sandbox, workspace.dir);
    const work: FixWork = { workspace: workspace.dir, step: await stepOf(deps, scope, workspace.dir), classify, diagnosis, previous, target: { id: loopId, branch: target.branch } };
    return await fixStages(deps, scope, work, finish);
  } catch (error) {
    if (run.finalAttempt && !run.signal.aborted) {
      await finish({ status: 'failed', error: describeError(error), reason: 'the attempt failed on its last try; see error' }).catch((e: unknown) => scope.log.error({ err: e }, 'could not record the failed fix attempt'));
    }
    throw error;
  } finally {
    await workspace?.dispose();
  }
}

/** The stages, each ending the attempt when it decides. */
async function fixStages(deps: StageDeps, scope: TriageScope, work: FixWork, finish: (result: FixAttemptResult) => Promise<FixJobResult>): Promise<FixJobResult> {
  const fixed: FixOutput = await runStage(deps, scope, fixStage, work);
  // Reused from an earlier attempt: this run's checkout is fresh, the fix goes onto it.
  if (scope.reused.includes('fix') && fixed.kind === 'edited') await applyDiff(work.workspace, fixed.diff);
  const usage = { fixer: fixed.fixer ?? undefined, tokensIn: fixed.usage.tokensIn, tokensOut: fixed.usage.tokensOut, costUsd: fixed.usage.costUsd };
  if (fixed.kind !== 'edited') return finish({ ...usage, status: fixed.kind === 'not_attempted' ? 'not_attempted' : fixed.kind, reason: fixed.reason, ...(fixed.kind === 'escalated' ? { escalation: 'fixer' as const } : {}) });
  const guard: GuardOutput = await runStage(deps, scope, guardStage, { work, fix: fixed });
  const size = { filesChanged: guard.files, linesChanged: guard.lines };
  if (!guard.ok) return finish({ ...usage, ...size, status: 'refused', guardRule: guard.rule, guardDetail: guard.detail, reason: `the guard refused the diff: ${guard.rule}` });
  const verify: VerifyOutput = await runStage(deps, scope, verifyStage, work);
  const verified = { command: verify.command, exitCode: verify.exitCode, ms: verify.ms === null ? null : Math.round(verify.ms), output: verify.output };
  if (verify.result === 'failed') return finish({ ...usage, ...size, status: 'verify_failed', verify: verified, reason: verify.reason ?? `\`${verify.command}\` still fails (exit ${verify.exitCode})` });
  const proposed: ProposeOutput = await runStage(deps, scope, proposeStage, { work, fix: fixed, guard, verify });
  const where = { branch: proposed.branch, prNumber: proposed.prNumber, prUrl: proposed.prUrl, dryRun: proposed.kind === 'dry-run', proposalPath: proposed.path, commitSha: proposed.commitSha };
  const leftToCi = verify.result === 'left-to-ci' ? `verification left to CI: ${verify.reason}` : null;
  if (proposed.kind === 'refused') return finish({ ...usage, ...size, ...where, status: 'verified', verify: verified, reason: `not proposed: ${proposed.reason}` });
  return finish({ ...usage, ...size, ...where, status: 'proposed', verify: verified, reason: leftToCi });
}

/** The failed step's command: the checkout's workflow files, else the job log (fetched only then). */
async function stepOf(deps: StageDeps, scope: TriageScope, workspace: string) {
  const fromWorkflow = await failedStepCommand(workspace, scope.failure, null);
  if (fromWorkflow || !deps.logs) return fromWorkflow;
  const log = await deps.logs.fetch(scope.failure, scope.run.signal).catch(() => null);
  return failedStepCommand(workspace, scope.failure, log?.status === 'ok' ? (log.text ?? null) : null);
}
