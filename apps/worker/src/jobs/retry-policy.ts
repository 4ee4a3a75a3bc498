import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Kysely } from 'kysely';
import { failIfInProgress, type CiFailure, type Database, type Logger } from '@pitcrew/core';
import { describeError, FailureNotFoundError, InvalidFailureDataError, LeaderPendingError, RateLimitedError } from '../errors.ts';
import type { TriageRun } from '../stages/stage.ts';
import type { ClassifyOutput } from '../stages/classify.ts';

/** ms a follower waits between looks at its incident leader. */
export const LEADER_POLL_MS = 2_000;

/** What the processors of one process share for their error handling. */
export interface JobEnvironment {
  db: Kysely<Database>;
  logger: Logger;
  /** True once shutdown has cancelled the active jobs (`Workers.close`). */
  releasing(): boolean;
  /** Rate-limits one queue for every worker of it (BullMQ `Queue#rateLimit`). */
  rateLimit(queueName: string, ms: number): Promise<void>;
  /** Tells the sinks about a failure in its final state; never throws. */
  publish(failureId: string): Promise<void>;
  /**
   * Enqueues the fix job of a triaged failure when this worker's fix policy allows it (its repository,
   * branch and category); never throws (an enqueue error is logged: the diagnosis stands).
   */
  fix(failureId: string, round: number, category: string, failure: { owner: string; repo: string; branch: string | null; installationId: number | null }): Promise<void>;
  /**
   * A failure of CI on a fix branch (`pitcrew/fix/<loop>`): the loop's next iteration, or its
   * escalation when its caps are reached, or nothing outside a loop (`decideIteration`); never throws.
   */
  fixIteration(failureId: string, round: number, failure: CiFailure): Promise<void>;
  /** Ends a loop escalated: its latest iteration marked, its PR labelled and commented, its check run updated; never throws. */
  escalateLoop(loopId: string, escalation: 'fixer' | 'iterations' | 'budget', reason: string, installationId: number | null): Promise<void>;
  /**
   * Re-runs a classified failure's job when the re-run policy allows it (`requestRerun`), before
   * it is published so the check run and PR comment say so; never throws.
   */
  rerun?(failureId: string, failure: CiFailure, classification: ClassifyOutput): Promise<void>;
  /** Publishes a finished fix attempt: the check run and the PR comment are updated in place with it. */
  publishFix(failureId: string, round: number, iteration: number): Promise<void>;
  /**
   * After loop `loopId` ended at its first iteration with nothing pushed: starts the loop of the
   * first failure of the same commit that waited for the branch (`waitingForBranch`) and that the
   * policies allow; never throws.
   */
  handOverBranch(loopId: string): Promise<void>;
}

/** The run of one job attempt for the stages: attempt numbers, backoff, whether it ran before. */
export function runOfJob(job: Job, failureId: string, signal?: AbortSignal): TriageRun {
  const attempt = job.attemptsMade + 1;
  return {
    failureId,
    attempt,
    finalAttempt: attempt >= (job.opts.attempts ?? 1),
    retryDelayMs: retryDelayMs(job.opts.backoff, attempt),
    // `attemptsStarted` counts every move to active: more than the attempts made + 1 means this
    // attempt was started before (stalled, handed back at shutdown, delayed, rate-limited).
    resumed: (job.attemptsStarted ?? 0) > attempt,
    signal: signal ?? new AbortController().signal,
  };
}

/**
 * The one retry policy of the triage and run jobs. In order:
 * 1. cancelled by shutdown: back to the queue at once with the attempt unused (BullMQ "delay a
 *    job from its processor" keeps `attemptsMade`), so another worker re-runs the same attempt;
 * 2. {@link LeaderPendingError}: delayed {@link LEADER_POLL_MS}, attempt unused;
 * 3. {@link RateLimitedError}: the job's queue is rate-limited for `retryAfterMs` (every worker of
 *    it waits), the job goes back to wait, attempt unused (BullMQ "Manual rate-limit");
 * 4. {@link FailureNotFoundError}: unrecoverable;
 * 5. {@link InvalidFailureDataError}: the failure is marked `failed`, unrecoverable;
 * 6. anything else: backoff (`defaultJobOptions`), and on the last attempt the failure is marked
 *    `failed` with the error (only while still in progress) and published.
 *
 * @throws always: the BullMQ error that carries out the decision, or `error` itself for a backoff
 */
export async function settleJobError(env: JobEnvironment, job: Job, token: string | undefined, signal: AbortSignal | undefined, failureId: string, error: unknown): Promise<never> {
  if (env.releasing() && signal?.aborted) {
    env.logger.warn({ jobId: job.id, queue: job.queueName }, 'shutdown: job cancelled and handed back to the queue');
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }
  if (error instanceof LeaderPendingError) {
    await job.moveToDelayed(Date.now() + LEADER_POLL_MS, token);
    throw new DelayedError();
  }
  if (error instanceof RateLimitedError) {
    env.logger.warn({ jobId: job.id, queue: job.queueName, retryAfterMs: error.retryAfterMs }, 'runner rate-limited; its queue waits');
    await env.rateLimit(job.queueName, error.retryAfterMs);
    throw Worker.RateLimitError();
  }
  if (error instanceof FailureNotFoundError) throw new UnrecoverableError(error.message);
  const attempt = job.attemptsMade + 1;
  const log = env.logger.child({ jobId: job.id, queue: job.queueName, failureId, attempt });
  const hopeless = error instanceof InvalidFailureDataError;
  if (hopeless || attempt >= (job.opts.attempts ?? 1)) {
    log.error({ err: error }, 'failed on the last attempt; failure marked failed');
    await failIfInProgress(env.db, failureId, describeError(error)).then(
      (marked) => (marked ? env.publish(failureId) : undefined),
      (e: unknown) => log.error({ err: e }, 'could not mark failure failed'),
    );
  } else {
    log.warn({ err: error }, 'attempt failed; will retry');
  }
  if (hopeless) throw new UnrecoverableError(describeError(error));
  throw error;
}

/**
 * ms BullMQ waits before retrying a job whose `attempt` (1-based) failed, for its `backoff`
 * option: fixed = `delay`, exponential = `2^(attempt-1) × delay` (BullMQ `Backoffs.builtinStrategies`,
 * jitter ignored); 0 for none or a custom strategy.
 */
export function retryDelayMs(backoff: number | { type: string; delay?: number } | undefined, attempt: number): number {
  if (backoff === undefined) return 0;
  if (typeof backoff === 'number') return backoff;
  const delay = backoff.delay ?? 0;
  if (backoff.type === 'fixed') return delay;
  if (backoff.type === 'exponential') return Math.round(2 ** (attempt - 1) * delay);
  return 0;
}
