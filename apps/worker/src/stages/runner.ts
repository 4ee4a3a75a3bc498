import {
  CiFailure,
  ExecutionAlreadySucceededError,
  findSucceededExecution,
  finishExecution,
  recordExecutions,
  startExecution,
  STAGES,
  sweepAbandonedExecutions,
  type Stage,
} from '@pitcrew/core';
import { describeError, InvalidFailureDataError } from '../errors.ts';
import type { StageDefinition, StageDeps, StageResult, TriageScope } from './stage.ts';

/**
 * Runs one stage for one failure as one execution row keyed by (failure, stage, attempt), or
 * returns the output of that stage when it already succeeded in this triage round (an earlier
 * attempt, or a stage before `retry_from_stage` in an earlier round).
 *
 * The execution-row protocol (see `executions.ts` in `@pitcrew/core`):
 * 1. **Reuse.** Looked up only when an earlier run can have succeeded: job attempt > 1, an
 *    attempt that ran before (`run.resumed`), or a stage a requested retry keeps. The first run
 *    of attempt 1 skips the round trip; should another run of the same attempt still record first
 *    (two workers holding one job behind a partition), the write below detects it.
 * 2. **Sweep.** From attempt 2 on, `running` rows of earlier attempts (a run that died between
 *    starting and recording) are marked failed.
 * 3. **Claim or record.** A stage planned on a model or agent (seconds to minutes) writes a
 *    `running` row first and finishes it under that claim; a rules stage (milliseconds) is
 *    recorded once done, together with the job's other rules stages ({@link flushRecorded}: one
 *    statement, before a claimed stage starts and when the job's stages are done). The final
 *    write carries the failure's own change. A run that dies before the flush loses milliseconds
 *    of deterministic work, which the next run repeats.
 * 4. **Timing and metrics**: wall time in ms on the row, the observer told of every execution.
 *
 * @returns the stage's output, parsed with its schema when read back
 * @throws the stage's error, after recording it as a failed execution
 * @throws {InvalidFailureDataError} when a stored output does not parse (written by another release)
 */
export async function runStage<Out, Needs>(deps: StageDeps, scope: TriageScope, stage: StageDefinition<Out, Needs>, needs: Needs): Promise<Out> {
  const { db } = deps;
  const { failureId } = scope;
  const index = STAGES.indexOf(stage.name);
  const retryFrom = scope.round.retryFromStage ? STAGES.indexOf(scope.round.retryFromStage) : -1;
  // A requested retry re-runs `retry_from_stage` and later stages: their earlier results do not count.
  const minAttempt = retryFrom >= 0 && index >= retryFrom ? scope.round.attemptBase : 0;
  const reuse = async (): Promise<Out | undefined> => {
    const done = await findSucceededExecution(db, failureId, stage.name, minAttempt);
    if (!done) return undefined;
    scope.reused.push(stage.name);
    return parseOutput(stage, failureId, done.output);
  };

  if (scope.run.attempt > 1 || scope.run.resumed || (retryFrom >= 0 && index < retryFrom)) {
    const done = await reuse();
    if (done !== undefined) return done;
  }
  if (scope.run.attempt > 1) await sweepAbandonedExecutions(db, failureId, stage.name, scope.attempt);

  const plan = stage.plan(scope, needs, deps);
  const key = { failureId, stage: stage.name, attempt: scope.attempt, ...plan, startedAt: new Date() };
  const claimed = plan.runner !== 'rules';
  let executionId: string | null = null;
  if (claimed) {
    await flushRecorded(deps, scope);
    try {
      // `startedAt` is this run's claim: if another worker takes the same attempt over (this one
      // lost its lock behind a partition), neither run's result is overwritten by the other.
      executionId = await startExecution(db, key);
    } catch (error) {
      if (!(error instanceof ExecutionAlreadySucceededError)) throw error;
      const other = await reuse();
      if (other === undefined) throw error;
      return other;
    }
  }

  const started = performance.now();
  let result: StageResult<Out>;
  try {
    result = await stage.run(scope, needs, deps);
  } catch (error) {
    const failed = { status: 'failed' as const, durationMs: performance.now() - started, error: describeError(error) };
    if (!executionId) scope.pending.push({ key, result: failed });
    await (executionId ? finishExecution(db, executionId, failed, key.startedAt) : flushRecorded(deps, scope)).catch((recordError: unknown) =>
      scope.log.error({ err: recordError, stage: stage.name }, 'could not record stage failure'),
    );
    deps.observer?.execution({ stage: stage.name, ...plan, status: 'failed', durationMs: failed.durationMs, tokensIn: 0, tokensOut: 0, costUsd: 0 });
    throw error;
  }
  const usage = { durationMs: performance.now() - started, tokensIn: result.tokensIn ?? 0, tokensOut: result.tokensOut ?? 0, costUsd: result.costUsd ?? 0 };
  const finished = {
    status: 'succeeded' as const,
    output: result.output,
    ...(result.runner !== undefined ? { runner: result.runner } : {}),
    ...(result.model !== undefined ? { model: result.model } : {}),
    ...(result.inferenceId ? { inferenceId: result.inferenceId } : {}),
    ...(result.episodeId ? { episodeId: result.episodeId } : {}),
    ...usage,
  };
  deps.observer?.execution({ stage: stage.name, runner: result.runner ?? plan.runner, model: result.model !== undefined ? result.model : plan.model, status: 'succeeded', ...usage });
  if (!executionId) {
    scope.pending.push({ key, result: finished });
    if (result.failure) scope.pendingFailure = { ...scope.pendingFailure, ...result.failure };
    return result.output;
  }
  await finishExecution(db, executionId, finished, key.startedAt, result.failure ? { failureId, patch: result.failure } : undefined);
  return result.output;
}

/**
 * Writes the rules executions this run has finished and not yet written, with the failure's
 * merged patch, in one statement (`recordExecutions`). A stage another run of the same attempt
 * recorded first keeps that run's row (the same deterministic result).
 */
export async function flushRecorded(deps: StageDeps, scope: TriageScope): Promise<void> {
  if (scope.pending.length === 0) return;
  const rows = scope.pending.splice(0);
  const patch = scope.pendingFailure;
  scope.pendingFailure = null;
  await recordExecutions(deps.db, rows, patch ? { failureId: scope.failureId, patch } : undefined);
}

/**
 * A failure row's stored `data`, parsed as this release's `CiFailure`.
 *
 * @throws {InvalidFailureDataError} when it does not parse (written by another release)
 */
export function parseStoredFailure(failureId: string, data: unknown): CiFailure {
  const parsed = CiFailure.safeParse(data);
  if (!parsed.success) throw new InvalidFailureDataError(failureId, parsed.error.issues);
  return parsed.data;
}

/**
 * A stored output of `stage`, parsed with its schema.
 *
 * @throws {InvalidFailureDataError} when it does not parse
 */
export function parseOutput<Out>(stage: { name: Stage; output: StageDefinition<Out, unknown>['output'] }, failureId: string, stored: unknown): Out {
  const parsed = stage.output.safeParse(stored);
  if (!parsed.success) throw new InvalidFailureDataError(failureId, parsed.error.issues, `the ${stage.name} output of failure`);
  return parsed.data;
}
