import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import {
  defaultJobOptions,
  IntakeJobData,
  QUEUES,
  TriageJobData,
  updateFailure,
  type Database,
  type Logger,
} from '@pitcrew/core';
import { processIntake } from './intake.ts';
import { describeError, FailureNotFoundError, triageFailure, type TriageResult } from './pipeline.ts';
import type { RunnerRegistry } from './runners/registry.ts';

/** Dependencies of {@link createWorkers}; `main.ts` builds the real ones, tests their own. */
export interface WorkerDeps {
  /** Connection for the workers (BullMQ requires `maxRetriesPerRequest: null`). */
  connection: Redis;
  prefix: string;
  db: Kysely<Database>;
  runners: RunnerRegistry;
  logger: Logger;
  /** Triage jobs at once. */
  concurrency: number;
  /** Attempts of the triage jobs this process enqueues. */
  attempts: number;
}

/** The running workers of one process. */
export interface Workers {
  intake: Worker;
  triage: Worker;
  /** The triage queue, used to enqueue triage jobs. */
  triageQueue: Queue;
  /**
   * Stops taking jobs, waits up to `timeoutMs` for active ones, then closes hard (active jobs'
   * locks then expire and the stalled-job check hands them to another worker).
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Starts the intake and triage workers. Errors decide retries: bad job data and missing failures
 * are unrecoverable; anything else is retried with backoff, and when the last attempt fails the
 * failure is marked `failed` with the error.
 */
export function createWorkers(deps: WorkerDeps): Workers {
  const { connection, prefix, db, logger } = deps;
  const triageQueue = new Queue(QUEUES.triage, {
    connection,
    prefix,
    defaultJobOptions: defaultJobOptions(deps.attempts),
  });
  triageQueue.on('error', (error) => logger.warn({ err: error }, 'triage queue error'));

  const intake = new Worker(
    QUEUES.intake,
    async function processIntakeJob(job: Job) {
      const data = parseOrUnrecoverable(IntakeJobData, job);
      return processIntake(db, triageQueue, data);
    },
    { connection, prefix, concurrency: Math.max(4, deps.concurrency) },
  );

  const triage = new Worker(
    QUEUES.triage,
    async function processTriageJob(job: Job, _token?: string, signal?: AbortSignal): Promise<TriageResult> {
      const data = parseOrUnrecoverable(TriageJobData, job);
      const attempt = job.attemptsMade + 1;
      const finalAttempt = attempt >= (job.opts.attempts ?? 1);
      const log = logger.child({ jobId: job.id, failureId: data.failureId, attempt });
      try {
        const result = await triageFailure(
          { db, runners: deps.runners, logger: log },
          { failureId: data.failureId, attempt, finalAttempt, signal: signal ?? new AbortController().signal },
        );
        log.info({ category: result.category, runner: result.runner, reused: result.reused }, 'failure triaged');
        return result;
      } catch (error) {
        if (error instanceof FailureNotFoundError) throw new UnrecoverableError(error.message);
        if (finalAttempt) {
          log.error({ err: error }, 'triage failed on the last attempt; failure marked failed');
          await updateFailure(db, data.failureId, {
            status: 'failed',
            error: describeError(error),
            finished_at: new Date(),
          }).catch((e) => log.error({ err: e }, 'could not mark failure failed'));
        } else {
          log.warn({ err: error }, 'triage attempt failed; will retry');
        }
        throw error;
      }
    },
    { connection, prefix, concurrency: deps.concurrency },
  );

  for (const worker of [intake, triage]) {
    worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));
  }

  let closing: Promise<void> | undefined;
  return {
    intake,
    triage,
    triageQueue,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        const graceful = Promise.all([intake.close(), triage.close()]);
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
        if ((await Promise.race([graceful.then(() => 'closed' as const), timer])) === 'timeout') {
          logger.warn({ timeoutMs }, 'active jobs did not finish in time; closing hard');
          await Promise.all([intake.close(true), triage.close(true)]);
        }
        await triageQueue.close();
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
