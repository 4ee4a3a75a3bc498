import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import {
  defaultJobOptions,
  IntakeJobData,
  QUEUES,
  RUNNERS,
  RunJobData,
  runJobId,
  runnerQueueName,
  TriageJobData,
  updateFailure,
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
  LeaderPendingError,
  type Guards,
  type ModelClassifier,
  type TriageResult,
} from './pipeline.ts';
import type { RunnerRegistry } from './runners/registry.ts';
import type { LogSource } from './github/log-source.ts';

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
  prices?: Record<string, { input: number; output: number }>;
  classifier?: ModelClassifier;
  logs?: LogSource;
  incidentWindowHours?: number;
}

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
  /**
   * Stops taking jobs, waits up to `timeoutMs` for active ones, then closes hard (active jobs'
   * locks then expire and the stalled-job check hands them to another worker).
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
  const queueOptions = { connection, prefix, defaultJobOptions: defaultJobOptions(deps.attempts) };
  const triageQueue = new Queue(QUEUES.triage, queueOptions);
  const configured = RUNNERS.filter((name) => deps.runners.runners[name]);
  const runQueues: Partial<Record<RunnerName, Queue>> = {};
  for (const name of configured) runQueues[name] = new Queue(runnerQueueName(name), queueOptions);
  for (const q of [triageQueue, ...Object.values(runQueues)]) q.on('error', (error) => logger.warn({ err: error, queue: q.name }, 'queue error'));
  const stageDeps = {
    db,
    runners: deps.runners,
    logger,
    ...(deps.guards ? { guards: deps.guards } : {}),
    ...(deps.prices ? { prices: deps.prices } : {}),
    ...(deps.classifier ? { classifier: deps.classifier } : {}),
    ...(deps.logs ? { logs: deps.logs } : {}),
    ...(deps.incidentWindowHours !== undefined ? { incidentWindowHours: deps.incidentWindowHours } : {}),
  };

  const intake = new Worker(
    QUEUES.intake,
    async function processIntakeJob(job: Job) {
      return processIntake(db, triageQueue, parseOrUnrecoverable(IntakeJobData, job));
    },
    { connection, prefix, concurrency: Math.max(4, deps.concurrency) },
  );

  /** Marks the failure failed on the last attempt, then rethrows for BullMQ. */
  const onError = async (job: Job, failureId: string, attempt: number, error: unknown): Promise<never> => {
    const log = logger.child({ jobId: job.id, queue: job.queueName, failureId, attempt });
    if (error instanceof FailureNotFoundError) throw new UnrecoverableError(error.message);
    if (attempt >= (job.opts.attempts ?? 1)) {
      log.error({ err: error }, 'failed on the last attempt; failure marked failed');
      await updateFailure(db, failureId, { status: 'failed', error: describeError(error), finished_at: new Date() }).catch((e) =>
        log.error({ err: e }, 'could not mark failure failed'),
      );
    } else {
      log.warn({ err: error }, 'attempt failed; will retry');
    }
    throw error;
  };
  const runOf = (job: Job, failureId: string, signal?: AbortSignal) => {
    const attempt = job.attemptsMade + 1;
    return { failureId, attempt, finalAttempt: attempt >= (job.opts.attempts ?? 1), signal: signal ?? new AbortController().signal };
  };

  const triage = new Worker(
    QUEUES.triage,
    async function processTriageJob(job: Job, _token?: string, signal?: AbortSignal) {
      const data = parseOrUnrecoverable(TriageJobData, job);
      const run = runOf(job, data.failureId, signal);
      try {
        const { context, classification } = await classifyStage(stageDeps, run);
        const runner = runQueues[classification.runner] ? classification.runner : 'rules';
        const payload: RunJobData = { v: 1, failureId: data.failureId, runner, model: classification.model };
        await runQueues[runner]!.add(runner, payload, { jobId: runJobId(data.failureId, context.row.attempt_base) });
        return { category: classification.category, runner };
      } catch (error) {
        return onError(job, data.failureId, run.attempt, error);
      }
    },
    { connection, prefix, concurrency: deps.concurrency },
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
          return result;
        } catch (error) {
          if (error instanceof DelayedError) throw error;
          return onError(job, data.failureId, r.attempt, error);
        }
      },
      {
        connection,
        prefix,
        concurrency: limits.concurrency,
        ...(limits.ratePerMinute > 0 ? { limiter: { max: limits.ratePerMinute, duration: 60_000 } } : {}),
      },
    );
  }

  const all = [intake, triage, ...Object.values(run)];
  for (const worker of all) worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));

  let closing: Promise<void> | undefined;
  return {
    intake,
    triage,
    run,
    triageQueue,
    runQueues,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        const graceful = Promise.all(all.map((w) => w.close()));
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
        if ((await Promise.race([graceful.then(() => 'closed' as const), timer])) === 'timeout') {
          logger.warn({ timeoutMs }, 'active jobs did not finish in time; closing hard');
          await Promise.all(all.map((w) => w.close(true)));
        }
        await Promise.all([triageQueue, ...Object.values(runQueues)].map((q) => q.close()));
      })();
      return closing;
    },
  };
}

function parseOrUnrecoverable<T>(schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: Error } }, job: Job): T {
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(`job ${job.id} of ${job.queueName} has invalid data: ${parsed.error.message}`);
  }
  return parsed.data;
}
