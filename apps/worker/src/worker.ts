import { DelayedError, MetricsTime, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { sql, type Kysely } from 'kysely';
import {
  defaultJobOptions,
  IntakeJobData,
  QUEUES,
  RUNNERS,
  RunJobData,
  runJobId,
  runnerQueueName,
  TriageJobData,
  type Database,
  type Logger,
  type RunnerName,
} from '@pitcrew/core';
import { processIntake } from './intake.ts';
import {
  classifyStage,
  describeError,
  executeStages,
  FailureNotFoundError,
  InvalidFailureDataError,
  LeaderPendingError,
  parseOrUnrecoverable,
  type Guards,
  type ModelClassifier,
  type TriageResult,
} from './pipeline.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { RunnerRegistry } from './runners/registry.ts';
import type { LogSource } from './github/log-source.ts';
import { createPublisher, type Publisher, type PublishOptions } from './publish/publisher.ts';

/** Concurrency and rate limit of one runner's queue in this process. */
export interface RunnerLimits {
  /** Jobs at once. */
  concurrency: number;
  /** Jobs started per minute across every worker of this queue (BullMQ limiter); 0 = unlimited. */
  ratePerMinute: number;
}

/** Dependencies of {@link createWorkers}; `main.ts` builds the real ones, tests their own. */
export interface WorkerDeps {
  /** Connection for the workers (BullMQ requires `maxRetriesPerRequest: null`). */
  connection: Redis;
  prefix: string;
  db: Kysely<Database>;
  runners: RunnerRegistry;
  logger: Logger;
  /** Classify jobs at once. */
  concurrency: number;
  /** Attempts of the jobs this process enqueues. */
  attempts: number;
  /** Per-runner limits; runners not listed get `concurrency` and no rate limit. */
  runnerLimits?: Partial<Record<RunnerName, RunnerLimits>>;
  guards?: Guards;
  /** See {@link TriageDeps.degradeAfterMs}; default `DEGRADE_AFTER_MS` (8 s). */
  degradeAfterMs?: number;
  classifier?: ModelClassifier;
  logs?: LogSource;
  incidentWindowHours?: number;
  /** Prometheus metrics of this process: executions, tokens, cost, budget skips, finished jobs. */
  metrics?: WorkerMetrics;
  /** Job locks and stalled-job recovery of every worker (BullMQ defaults when unset). */
  locks?: JobLocks;
  /** Sinks that hear of each failure once it is final (`publish` queue); unset or no sinks = none. */
  publish?: PublishOptions;
  /** BullMQ worker name of every worker in this process; default {@link workerName}. */
  name?: string;
}

/**
 * Default BullMQ worker name, `<host name>:<pid>`. Redis lists each worker connection as
 * `<prefix>:<base64 queue>:w:<name>` (CLIENT LIST), which is how a container's health check
 * finds its own workers (`bin/healthcheck.ts`) and how the board shows who processed a job.
 */
export function workerName(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * How BullMQ notices a worker that died holding a job (BullMQ docs, "Stalled Jobs"). A worker
 * renews each job's lock every `lockDurationMs / 2`; a lock not renewed for `lockDurationMs` is
 * lost, and the next stalled-job check (every `stalledIntervalMs`, run by any live worker) moves
 * the job back to wait, with the same attempt number. Recovery after a crash therefore takes
 * between `lockDurationMs` and `lockDurationMs + 2 × stalledIntervalMs`. A job that stalls more
 * than `maxStalledCount` times (a job that crashes its worker every time) is failed instead.
 */
export interface JobLocks {
  /** ms a job's lock lives without renewal; also how long an event-loop stall may last. */
  lockDurationMs: number;
  /** ms between stalled-job checks. */
  stalledIntervalMs: number;
  /** Stalls tolerated per job before it is failed. */
  maxStalledCount: number;
}

/** ms the processors get, after being cancelled at the end of the shutdown timeout, to hand their jobs back. */
export const SHUTDOWN_RELEASE_MS = 5_000;

/** ms a follower waits between looks at its incident leader. */
const LEADER_POLL_MS = 2_000;

/** The running workers of one process. */
export interface Workers {
  intake: Worker;
  triage: Worker;
  /** One worker per configured runner. */
  run: Partial<Record<RunnerName, Worker>>;
  /** The triage queue, used to enqueue triage jobs. */
  triageQueue: Queue;
  runQueues: Partial<Record<RunnerName, Queue>>;
  /** The `publish` queue and worker, when sinks are configured. */
  publisher: Publisher | null;
  /**
   * Stops taking jobs and waits up to `timeoutMs` for active ones; then cancels those still
   * running (their AbortSignal fires) and lets them hand their jobs back to the queue with the
   * attempt unused, for up to {@link SHUTDOWN_RELEASE_MS}; whatever is left is closed hard, and
   * the stalled-job check hands it to another worker once its lock expires. At most
   * `timeoutMs + SHUTDOWN_RELEASE_MS` in all, plus closing the connections.
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Starts the workers: `intake` (record, enqueue triage), `triage` (classify, hand over to the
 * chosen runner's queue) and one `run-<runner>` worker per configured runner (execute,
 * summarize) with its own concurrency and rate limit. Errors decide retries: bad job data and
 * missing failures are unrecoverable; anything else is retried with backoff, and when the last
 * attempt fails the failure is marked `failed` with the error.
 */
export function createWorkers(deps: WorkerDeps): Workers {
  const { connection, prefix, db, logger } = deps;
  // BullMQ's own per-minute completed/failed counts (Queue#getMetrics, Bull Board), kept a week.
  const bullMetrics = { metrics: { maxDataPoints: MetricsTime.ONE_WEEK } };
  const lockOptions = deps.locks
    ? { lockDuration: deps.locks.lockDurationMs, stalledInterval: deps.locks.stalledIntervalMs, maxStalledCount: deps.locks.maxStalledCount }
    : {};
  const named = { name: deps.name ?? workerName() };
  /** Set by `close()` once the shutdown timeout is over and active jobs are being cancelled. */
  let releasing = false;
  /**
   * A job cancelled by shutdown goes back to the queue at once with its attempt unused (BullMQ
   * "delay a job from its processor" keeps `attemptsMade`), so another worker re-runs the same
   * attempt and overwrites the aborted execution row instead of adding one.
   */
  const releaseOnShutdown = async (job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<void> => {
    if (!releasing || !signal?.aborted) return;
    logger.warn({ jobId: job.id, queue: job.queueName }, 'shutdown: job cancelled and handed back to the queue');
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  };
  const queueOptions = { connection, prefix, defaultJobOptions: defaultJobOptions(deps.attempts) };
  const triageQueue = new Queue(QUEUES.triage, queueOptions);
  const configured = RUNNERS.filter((name) => deps.runners.runners[name]);
  const runQueues: Partial<Record<RunnerName, Queue>> = {};
  for (const name of configured) runQueues[name] = new Queue(runnerQueueName(name), queueOptions);
  for (const q of [triageQueue, ...Object.values(runQueues)]) q.on('error', (error) => logger.warn({ err: error, queue: q.name }, 'queue error'));
  const publisher = deps.publish?.sinks.length ? createPublisher({ connection, prefix, db, logger, options: deps.publish, workerOptions: { ...bullMetrics, ...lockOptions } }) : null;
  /** Tells the sinks about a failure in its final state; publishing never changes the failure, so an enqueue error is only logged. */
  const publish = async (failureId: string) =>
    publisher?.enqueue(failureId).catch((e: unknown) => logger.error({ err: e, failureId }, 'could not enqueue publishing'));
  const stageDeps = {
    db,
    runners: deps.runners,
    logger,
    ...(deps.guards ? { guards: deps.guards } : {}),
    ...(deps.degradeAfterMs !== undefined ? { degradeAfterMs: deps.degradeAfterMs } : {}),
    ...(deps.classifier ? { classifier: deps.classifier } : {}),
    ...(deps.logs ? { logs: deps.logs } : {}),
    ...(deps.incidentWindowHours !== undefined ? { incidentWindowHours: deps.incidentWindowHours } : {}),
    ...(deps.metrics ? { observer: deps.metrics.observer } : {}),
  };

  const intake = new Worker(
    QUEUES.intake,
    async function processIntakeJob(job: Job) {
      return processIntake(db, triageQueue, parseOrUnrecoverable(IntakeJobData, job));
    },
    { connection, prefix, concurrency: Math.max(4, deps.concurrency), ...bullMetrics, ...lockOptions, ...named },
  );

  /** Marks the failure failed on the last attempt, then rethrows for BullMQ. */
  const onError = async (job: Job, failureId: string, attempt: number, error: unknown): Promise<never> => {
    const log = logger.child({ jobId: job.id, queue: job.queueName, failureId, attempt });
    if (error instanceof FailureNotFoundError) throw new UnrecoverableError(error.message);
    const hopeless = error instanceof InvalidFailureDataError;
    if (hopeless || attempt >= (job.opts.attempts ?? 1)) {
      log.error({ err: error }, 'failed on the last attempt; failure marked failed');
      // Only a failure still in progress: a worker that lost its job to another one (network
      // partition) must not turn the other's `triaged` into `failed`.
      await failIfInProgress(db, failureId, error).then(
        (marked) => (marked ? publish(failureId) : undefined),
        (e) => log.error({ err: e }, 'could not mark failure failed'),
      );
    } else {
      log.warn({ err: error }, 'attempt failed; will retry');
    }
    if (hopeless) throw new UnrecoverableError(describeError(error));
    throw error;
  };
  const runOf = (job: Job, failureId: string, signal?: AbortSignal) => {
    const attempt = job.attemptsMade + 1;
    return {
      failureId,
      attempt,
      finalAttempt: attempt >= (job.opts.attempts ?? 1),
      retryDelayMs: retryDelayMs(job.opts.backoff, attempt),
      signal: signal ?? new AbortController().signal,
    };
  };

  const triage = new Worker(
    QUEUES.triage,
    async function processTriageJob(job: Job, token?: string, signal?: AbortSignal) {
      const data = parseOrUnrecoverable(TriageJobData, job);
      const run = runOf(job, data.failureId, signal);
      try {
        const { context, classification } = await classifyStage(stageDeps, run);
        const runner = runQueues[classification.runner] ? classification.runner : 'rules';
        const payload: RunJobData = { v: 1, failureId: data.failureId, runner, model: classification.model };
        await runQueues[runner]!.add(runner, payload, { jobId: runJobId(data.failureId, context.row.attempt_base) });
        return { category: classification.category, runner };
      } catch (error) {
        await releaseOnShutdown(job, token, signal);
        return onError(job, data.failureId, run.attempt, error);
      }
    },
    { connection, prefix, concurrency: deps.concurrency, ...bullMetrics, ...lockOptions, ...named },
  );

  const run: Partial<Record<RunnerName, Worker>> = {};
  for (const name of configured) {
    const limits = deps.runnerLimits?.[name] ?? { concurrency: deps.concurrency, ratePerMinute: 0 };
    run[name] = new Worker(
      runnerQueueName(name),
      async function processRunJob(job: Job, token?: string, signal?: AbortSignal): Promise<TriageResult> {
        const data = parseOrUnrecoverable(RunJobData, job);
        const r = runOf(job, data.failureId, signal);
        try {
          let result: TriageResult;
          try {
            result = await executeStages(stageDeps, r);
          } catch (error) {
            if (!(error instanceof LeaderPendingError)) throw error;
            // Wait for the incident leader without using an attempt (BullMQ "delay a job from its processor").
            await job.moveToDelayed(Date.now() + LEADER_POLL_MS, token);
            throw new DelayedError();
          }
          logger.info({ failureId: data.failureId, category: result.category, runner: result.runner, reused: result.reused }, 'failure triaged');
          await publish(data.failureId);
          return result;
        } catch (error) {
          if (error instanceof DelayedError) throw error;
          await releaseOnShutdown(job, token, signal);
          return onError(job, data.failureId, r.attempt, error);
        }
      },
      {
        connection,
        prefix,
        concurrency: limits.concurrency,
        ...bullMetrics,
        ...lockOptions, ...named,
        ...(limits.ratePerMinute > 0 ? { limiter: { max: limits.ratePerMinute, duration: 60_000 } } : {}),
      },
    );
  }

  const all = [intake, triage, ...Object.values(run), ...(publisher ? [publisher.worker] : [])];
  for (const worker of all) worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));
  for (const worker of all) deps.metrics?.watchWorker(worker);
  // A job failed without its processor running — stalled more than `maxStalledCount` times, i.e.
  // it crashed its worker each time — never reached `onError`; mark its failure failed here so
  // it does not stay `running` forever. Failures already final are left alone.
  for (const worker of [triage, ...Object.values(run)]) {
    worker.on('failed', (job, error) => {
      const failureId = (job?.data as { failureId?: unknown } | undefined)?.failureId;
      if (!job || job.finishedOn === undefined || typeof failureId !== 'string') return;
      db.transaction()
        .execute(async (trx) => {
          if (!(await failIfInProgress(trx, failureId, error))) return false;
          // The dead worker's execution rows would say `running` forever.
          await trx
            .updateTable('executions')
            .set({ status: 'failed', error: `abandoned: ${describeError(error)}`, finished_at: new Date() })
            .where('failure_id', '=', failureId)
            .where('status', '=', 'running')
            .execute();
          logger.error({ failureId, jobId: job.id, err: error }, 'job failed outside its processor; failure marked failed');
          return true;
        })
        .then(async (marked) => {
          if (marked) await publish(failureId);
        })
        .catch((e: unknown) => logger.error({ err: e, failureId }, 'could not mark failure failed'));
    });
  }

  let closing: Promise<void> | undefined;
  return {
    intake,
    triage,
    run,
    triageQueue,
    runQueues,
    publisher,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        const graceful = Promise.all(all.map((w) => w.close()));
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
        if ((await Promise.race([graceful.then(() => 'closed' as const), timer])) === 'timeout') {
          // Cancel what is still running: each processor sees its AbortSignal, stops its model
          // call or agent, and hands its job back (releaseOnShutdown). Whatever does not within
          // SHUTDOWN_RELEASE_MS is closed hard and recovered by the stalled-job check.
          logger.warn({ timeoutMs }, 'active jobs did not finish in time; cancelling them');
          releasing = true;
          for (const w of all) w.cancelAllJobs('worker shutting down');
          const released = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), SHUTDOWN_RELEASE_MS).unref());
          if ((await Promise.race([graceful.then(() => 'closed' as const), released])) === 'timeout') {
            logger.warn({ releaseMs: SHUTDOWN_RELEASE_MS }, 'cancelled jobs did not stop in time; closing hard');
            await Promise.all(all.map((w) => w.close(true)));
          }
        }
        await Promise.all([triageQueue, ...Object.values(runQueues), ...(publisher ? [publisher.queue] : [])].map((q) => q.close()));
      })();
      return closing;
    },
  };
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

/**
 * Marks a failure `failed` with `error`, only while it is still in progress (`queued`, `running`):
 * a worker that lost its job to another one (network partition, stall) must not turn the other's
 * `triaged` into `failed`.
 *
 * @returns whether the failure was marked
 */
async function failIfInProgress(db: Kysely<Database>, failureId: string, error: unknown): Promise<boolean> {
  const result = await db
    .updateTable('failures')
    .set({ status: 'failed', error: describeError(error), finished_at: new Date(), updated_at: sql`now()` })
    .where('id', '=', failureId)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

