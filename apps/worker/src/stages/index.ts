import { CarriedTriage, type TriageJobData, claimFailure, findFailure, findSucceededExecution, Stage, type FailureRow, type Logger } from '@pitcrew/core';
import { FailureNotFoundError } from '../errors.ts';
import { classifyStage, type ClassifyOutput } from './classify.ts';
import { executeStage, leaderExecution } from './execute.ts';
import { flushRecorded, parseOutput, parseStoredFailure, runStage } from './runner.ts';
import type { StageDeps, TriageRun } from './stage.ts';
import { TriageScope } from './stage.ts';
import { summarizeStage } from './summarize.ts';

export { classifyStage, ClassifyOutput, ModelVerdict, type ModelClassifier } from './classify.ts';
export { executeStage, ExecuteOutput, leaderExecution, LEADER_WAIT_MS } from './execute.ts';
export { summarizeStage, SummarizeOutput } from './summarize.ts';
export { flushRecorded, parseOutput, parseStoredFailure, runStage } from './runner.ts';
export { TriageScope, type StageDefinition, type StageDeps, type StageResult, type TriageRun } from './stage.ts';

/** What a finished triage recorded on the failure. */
export interface TriageResult {
  category: ClassifyOutput['category'];
  confidence: number;
  runner: string;
  summary: string;
  /** Stages skipped because an earlier attempt finished them. */
  reused: Stage[];
}

/** A failure row as a {@link TriageScope}. @throws {InvalidFailureDataError} when its `data` does not parse (`parseStoredFailure`) */
export function scopeOf(run: TriageRun, row: FailureRow, logger: Logger): TriageScope {
  return new TriageScope(run, parseStoredFailure(run.failureId, row.data), { attemptBase: row.attempt_base, retryFromStage: row.retry_from_stage as Stage | null, recordedAt: new Date(row.created_at as unknown as Date), ...(row.retry_model === 'strong' ? { strongModel: true } : {}) }, logger);
}

/**
 * Claims the failure (`queued` → `running`) and reads it in one statement: the triage job's start.
 *
 * @throws {FailureNotFoundError} when there is no such failure
 * @throws {InvalidFailureDataError} when its row was written in a shape this release cannot read
 */
export async function claimScope(deps: StageDeps, run: TriageRun): Promise<TriageScope> {
  const row = await claimFailure(deps.db, run.failureId);
  if (!row) throw new FailureNotFoundError(run.failureId);
  return scopeOf(run, row, deps.logger);
}

/**
 * The scope and classification a run job needs: carried in the job by classify, or (jobs of
 * older releases) read back from Postgres and parsed.
 *
 * @throws {FailureNotFoundError} / {@link InvalidFailureDataError} as {@link claimScope}
 */
export async function classifiedScope(deps: StageDeps, run: TriageRun, carried: CarriedTriage | undefined): Promise<{ scope: TriageScope; classify: ClassifyOutput }> {
  if (carried) {
    const scope = new TriageScope(run, carried.failure, { attemptBase: carried.attemptBase, retryFromStage: carried.retryFromStage, recordedAt: new Date(carried.recordedAt) }, deps.logger);
    return { scope, classify: parseOutput(classifyStage, run.failureId, carried.classification) };
  }
  const row = await findFailure(deps.db, run.failureId);
  if (!row) throw new FailureNotFoundError(run.failureId);
  const scope = scopeOf(run, row, deps.logger);
  const done = await findSucceededExecution(deps.db, run.failureId, 'classify');
  if (!done) throw new Error(`failure ${run.failureId} has no classification; its triage job must run first`);
  return { scope, classify: parseOutput(classifyStage, run.failureId, done.output) };
}

/**
 * The scope of a triage job: from the failure it carried (a first round: nothing read back, the
 * claim folded into classify's write), else claimed and read in one statement ({@link claimScope}).
 */
export async function triageScope(deps: StageDeps, run: TriageRun, job: TriageJobData): Promise<TriageScope> {
  if (job.carried && job.round === 0) {
    return new TriageScope(run, job.carried.failure, { attemptBase: 0, retryFromStage: null, recordedAt: new Date(job.carried.recordedAt) }, deps.logger);
  }
  return claimScope(deps, run);
}

/** What classify hands the run job (see `CarriedTriage`). */
export function carry(scope: TriageScope, classify: ClassifyOutput): CarriedTriage {
  return { failure: scope.failure, recordedAt: scope.round.recordedAt.toISOString(), attemptBase: scope.round.attemptBase, retryFromStage: scope.round.retryFromStage, classification: classify };
}

/** classify, recording the category on the failure. */
export async function classify(deps: StageDeps, scope: TriageScope): Promise<ClassifyOutput> {
  const output = await runStage(deps, scope, classifyStage, {});
  await flushRecorded(deps, scope);
  return output;
}

/**
 * execute → summarize after classify: the incident leader's execution is looked up first (a
 * follower waits for it, {@link LeaderPendingError}), and summarize completes the triage.
 */
export async function executeAndSummarize(deps: StageDeps, scope: TriageScope, classified: ClassifyOutput): Promise<TriageResult> {
  const shared = await leaderExecution(deps, scope, classified);
  const execute = await runStage(deps, scope, executeStage, { classify: classified, shared });
  const summary = await runStage(deps, scope, summarizeStage, { classify: classified, execute });
  await flushRecorded(deps, scope);
  return { category: classified.category, confidence: classified.confidence, runner: execute.runner, summary: summary.summary, reused: scope.reused };
}

/** classify → execute → summarize in one go (one process, tests, the demo). */
export async function triageFailure(deps: StageDeps, run: TriageRun): Promise<TriageResult> {
  const scope = await claimScope(deps, run);
  return executeAndSummarize(deps, scope, await classify(deps, scope));
}
