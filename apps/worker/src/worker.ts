import { MetricsTime, Queue, Worker } from 'bullmq';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { defaultJobOptions, exhaustedLoopsInARow, findFailure, findLoop, fixBreakerState, jobArgs, JOBS, QUEUES, requestRetry, RUNNERS, type CiFailure, type Database, type FailureRow, type FixLoopRow, type Logger, type RunnerName, type RedisConnection } from '@pitcrew/core';
import { decideIteration, escalatePullRequest, loopStartRefusal, markLoopEscalated, waitingForBranch } from './fix/loop.ts';
import { fixRefusal, repoFixRefusal } from './fix/policy.ts';
import { repoEventsProcessor } from './jobs/repo-events.ts';
import { parseStoredFailure } from './stages/runner.ts';
import type { RepoConfigSource } from './repo-config/repo-config.ts';
import type { GithubApi } from './github/github-api.ts';
import { fixProcessor } from './jobs/fix.ts';
import { fixEventsProcessor } from './jobs/fix-events.ts';
import { resolutionsProcessor } from './jobs/resolutions.ts';
import { afterResolved, type ResolutionDeps } from './resolution/resolve.ts';
import { requestRerun, type RerunPolicy } from './rerun/rerun.ts';
import type { FixDeps } from './stages/fix.ts';
import type { LogSource } from './github/log-source.ts';
import type { Guards } from './guards/guarded.ts';
import { watchAbandoned } from './jobs/abandoned.ts';
import { intakeProcessor } from './jobs/intake.ts';
import type { JobEnvironment } from './jobs/retry-policy.ts';
import { runProcessor } from './jobs/run.ts';
import { triageProcessor } from './jobs/triage.ts';
import type { WorkerMetrics } from './metrics.ts';
import { createPublisher, type Publisher, type PublishOptions } from './publish/publisher.ts';
import type { RunnerRegistry } from './runners/registry.ts';
import type { ModelClassifier } from './stages/classify.ts';
import type { StageDeps } from './stages/stage.ts';

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
  connection: RedisConnection;
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
  /** See `StageDeps.degradeAfterMs`; default `DEGRADE_AFTER_MS` (8 s). */
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
  /** The fix loop (`fix` queue and its worker); unset when `PITCREW_FIX=off`. */
  fix?: FixDeps & { concurrency: number };
  /** GitHub clients for the fix's checkout and push (the publisher has its own in `publish`). */
  github?: GithubApi | null;
  /**
   * The `fix-events` worker (always on): `readyOnCi` is `PITCREW_FIX_READY_ON_CI` (default true).
   * It uses `github`, else `publish.github`, to mark fix PRs ready for review.
   */
  fixEvents?: { readyOnCi?: boolean };
  /** Called after a fix event changed a loop (CI passed it, its PR merged, closed or reopened); see `FixEventDeps.onLoopOutcome`. */
  onLoopOutcome?: (loop: FixLoopRow) => Promise<void>;
  /** Resolution (the `resolutions` worker, always on): `quietHours` is `PITCREW_INCIDENT_QUIET_HOURS` (default 24; 0 = never close an incident's issue). */
  resolution?: { quietHours?: number };
  /** Re-runs of transient failures (`PITCREW_RERUN_*`); unset or no repositories = none. */
  rerun?: RerunPolicy;
  /**
   * Per-repository configuration (`.github/pitcrew.yml`): consulted before publishing (sinks,
   * quiet) and before a fix is enqueued; with it the `repo-events` worker runs (config pushes,
   * PR commands). Unset = the organisation's configuration everywhere and no `repo-events` worker.
   */
  repoConfig?: RepoConfigSource;
  /** `/pitcrew` PR commands (`PITCREW_PR_COMMANDS`, default true); they need `repoConfig`. */
  commands?: boolean;
}

/** Default hours an incident must stay without an unresolved occurrence before its escalation issue is closed. */
export const DEFAULT_INCIDENT_QUIET_HOURS = 24;

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

/**
 * Limiter of a runner queue without a configured rate: never reached, but BullMQ applies a manual
 * rate limit (`Queue#rateLimit`, after a 429) only to workers that have a limiter (its
 * `moveToActive` script reads the limit's max from the worker's options).
 */
const UNLIMITED = { max: Number.MAX_SAFE_INTEGER, duration: 60_000 };

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
  /** The `fix` queue and its worker, when the fix loop is on. */
  fix: { queue: Queue; worker: Worker } | null;
  /** The `fix-events` worker: CI's verdicts on fix commits and fix PRs' outcomes (always on). */
  fixEvents: Worker;
  /** The `resolutions` worker and queue: CI successes resolving open failures, incident-quiet checks (always on). */
  resolutions: { queue: Queue; worker: Worker };
  /** The `repo-events` worker (config pushes, PR commands), when `repoConfig` is given. */
  repoEvents: Worker | null;
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
  const common = { connection, prefix, ...bullMetrics, ...lockOptions, name: deps.name ?? workerName() };
  /** Set by `close()` once the shutdown timeout is over and active jobs are being cancelled. */
  let releasing = false;
  const queueOptions = { connection, prefix, defaultJobOptions: defaultJobOptions(deps.attempts) };
  const triageQueue = new Queue(JOBS.triage.queue, queueOptions);
  const configured = RUNNERS.filter((name) => deps.runners.runners[name]);
  const runQueues: Partial<Record<RunnerName, Queue>> = {};
  for (const name of configured) runQueues[name] = new Queue(JOBS.run(name).queue, queueOptions);
  for (const q of [triageQueue, ...Object.values(runQueues)]) q.on('error', (error) => logger.warn({ err: error, queue: q.name }, 'queue error'));
  const repoConfig = deps.repoConfig;
  const publishOptions = deps.publish && repoConfig ? { ...deps.publish, policyFor: (f: Pick<CiFailure, 'owner' | 'repo' | 'installationId'>) => repoConfig.policyFor(f.owner, f.repo, f.installationId) } : deps.publish;
  const publisher = publishOptions?.sinks.length ? createPublisher({ connection, prefix, db, logger, options: publishOptions, workerOptions: { ...bullMetrics, ...lockOptions } }) : null;
  const fixQueue = deps.fix ? new Queue(JOBS.fix.queue, queueOptions) : null;
  fixQueue?.on('error', (error) => logger.warn({ err: error, queue: fixQueue.name }, 'queue error'));
  const fixPolicy = deps.fix?.policy;
  const resolutionQueue = new Queue(JOBS.resolutions.queue, queueOptions);
  resolutionQueue.on('error', (error) => logger.warn({ err: error, queue: resolutionQueue.name }, 'queue error'));
  const resolutionDeps: ResolutionDeps = {
    db,
    redis: connection,
    prefix,
    logger,
    queue: resolutionQueue,
    github: deps.github ?? deps.publish?.github ?? null,
    quietHours: deps.resolution?.quietHours ?? DEFAULT_INCIDENT_QUIET_HOURS,
    publishResolved: async (failureId, round) => {
      await publisher?.enqueueResolved(failureId, round).catch((e: unknown) => logger.error({ err: e, failureId }, 'could not enqueue publishing of the resolution'));
    },
    ...(deps.metrics ? { observer: deps.metrics.observer } : {}),
  };
  const rerunPolicy = deps.rerun?.repositories.length ? deps.rerun : null;
  /**
   * Starts the first fix attempt of a triaged failure when the organisation's policy, the
   * repository's (`.github/pitcrew.yml`) and the loop's breaker allow it.
   * @returns `null` when the fix job was added, else why not
   */
  const startFix = async (failureId: string, round: number, category: string, failure: Pick<CiFailure, 'owner' | 'repo' | 'branch' | 'installationId'>): Promise<string | null> => {
    if (!fixQueue || !fixPolicy) return 'fixing is off in this organisation (PITCREW_FIX=off)';
    const orgRefusal = fixRefusal(fixPolicy, failure, category);
    if (orgRefusal) return orgRefusal;
    const repoRefusal = repoConfig ? repoFixRefusal(await repoConfig.policyFor(failure.owner, failure.repo, failure.installationId), failure, category) : null;
    if (repoRefusal) return repoRefusal;
    const refusal = await loopStartRefusal(db, fixPolicy, failure).catch((e: unknown) => `could not check the loop's breaker: ${String(e)}`);
    if (refusal) return refusal;
    await fixQueue.add(...jobArgs(JOBS.fix, { v: 1, failureId, round, iteration: 1 }));
    return null;
  };
  /** {@link startFix} of a stored failure row (its round, category and stored failure). */
  const startFixOfRow = (row: Pick<FailureRow, 'id' | 'attempt_base' | 'category' | 'data'>) => startFix(row.id, row.attempt_base, row.category ?? 'unknown', parseStoredFailure(row.id, row.data));
  const env: JobEnvironment = {
    db,
    logger,
    releasing: () => releasing,
    async rateLimit(queueName, ms) {
      const queue = Object.values(runQueues).find((q) => q.name === queueName);
      await queue?.rateLimit(ms);
    },
    // Publishing never changes the failure, so an enqueue error is only logged.
    publish: async (failureId) => {
      await publisher?.enqueue(failureId).catch((e: unknown) => logger.error({ err: e, failureId }, 'could not enqueue publishing'));
    },
    // The policy is checked here first, so failures it refuses never become jobs (most failures
    // of most organisations); the fix job checks it again with its own worker's settings.
    fix: async (failureId, round, category, failure) => {
      // The organisation's policy first, so failures it refuses cost nothing more.
      if (!fixQueue || !fixPolicy || fixRefusal(fixPolicy, failure, category)) return;
      const refusal = await startFix(failureId, round, category, failure).catch((e: unknown) => {
        logger.error({ err: e, failureId }, 'could not enqueue the fix');
        return null;
      });
      if (refusal) logger.info({ failureId, reason: refusal }, 'no fix loop started');
    },
    fixIteration: async (failureId, round, failure) => {
      if (!fixQueue || !fixPolicy) return;
      try {
        const decision = await decideIteration(db, fixPolicy, failure);
        if (decision.kind === 'iterate') {
          await fixQueue.add(...jobArgs(JOBS.fix, { v: 1, failureId, round, iteration: decision.iteration, loop: decision.loopId }));
          logger.info({ failureId, loop: decision.loopId, iteration: decision.iteration }, 'fix loop: next iteration');
        } else if (decision.kind === 'escalate') {
          await env.escalateLoop(decision.loop.loop_id, decision.escalation, decision.reason, failure.installationId);
        } else {
          logger.info({ failureId, reason: decision.reason }, 'CI failure on a fix branch starts nothing');
        }
      } catch (e) {
        logger.error({ err: e, failureId }, 'could not take the fix loop to its next iteration');
      }
    },
    escalateLoop: async (loopId, escalation, reason, installationId) => {
      try {
        await markLoopEscalated(db, loopId, escalation, reason);
        const loop = await findLoop(db, loopId);
        if (!loop) return;
        const octokit = fixPolicy && !fixPolicy.dryRun ? deps.github?.forInstallation(installationId) : null;
        if (octokit) await escalatePullRequest(octokit, db, loop, fixPolicy!.escalationLabel, reason);
        deps.metrics?.observer.fixLoopEnded({ fixer: loop.fixer, model: null, category: loop.category, outcome: 'escalated', iterations: loop.iterations, costUsd: Number(loop.cost_usd) });
        if (escalation !== 'fixer') {
          const exhausted = await exhaustedLoopsInARow(db, loop, fixPolicy!.breaker.threshold);
          if (fixBreakerState(exhausted, fixPolicy!.breaker, new Date()).open) {
            logger.warn({ repository: `${loop.owner}/${loop.repo}`, exhausted: exhausted.count }, 'fix breaker opened: no new loop in this repository for the cool-down');
            deps.metrics?.observer.fixBreakerOpened();
          }
        }
        const row = await findFailure(db, loopId);
        await publisher?.enqueueFix(loopId, row?.attempt_base ?? 0, loop.iterations, { escalated: true });
        logger.warn({ loop: loopId, escalation, reason }, 'fix loop escalated');
      } catch (e) {
        logger.error({ err: e, loop: loopId }, 'could not escalate the fix loop');
      }
    },
    ...(rerunPolicy
      ? {
          rerun: async (failureId, failure, classification) => {
            await requestRerun(
              {
                db,
                redis: connection,
                prefix,
                github: deps.github ?? deps.publish?.github ?? null,
                logger,
                ...(deps.metrics ? { observer: deps.metrics.observer } : {}),
                ...(repoConfig ? { repoAllows: async (f) => (await repoConfig.policyFor(f.owner, f.repo, f.installationId)).reruns } : {}),
              },
              rerunPolicy,
              failureId,
              {
                failure,
                category: classification.category,
                flaky: Boolean(classification.flaky),
                flakyHistory: classification.flakyHistory ?? null,
                excerpt: classification.logExcerpt,
                signature: classification.signature ?? null,
              },
            );
          },
        }
      : {}),
    publishFix: async (failureId, round, iteration) => {
      await publisher?.enqueueFix(failureId, round, iteration).catch((e: unknown) => logger.error({ err: e, failureId }, 'could not enqueue publishing of the fix'));
    },
    handOverBranch: async (loopId) => {
      if (!fixQueue || !fixPolicy) return;
      try {
        const ended = await findFailure(db, loopId);
        if (!ended) return;
        for (const row of await waitingForBranch(db, ended)) {
          if ((await startFixOfRow(row)) === null) {
            logger.info({ failureId: row.id, after: loopId }, 'fix loop started: the branch was free again');
            return;
          }
        }
      } catch (error) {
        logger.error({ err: error, loopId }, 'could not hand the branch to the next failure waiting for a fix');
      }
    },
  };
  const stageDeps: StageDeps = {
    db,
    runners: deps.runners,
    logger,
    ...(deps.guards ? { guards: deps.guards } : {}),
    ...(deps.degradeAfterMs !== undefined ? { degradeAfterMs: deps.degradeAfterMs } : {}),
    ...(deps.classifier ? { classifier: deps.classifier } : {}),
    ...(deps.logs ? { logs: deps.logs } : {}),
    ...(deps.incidentWindowHours !== undefined ? { incidentWindowHours: deps.incidentWindowHours } : {}),
    ...(deps.metrics ? { observer: deps.metrics.observer } : {}),
    ...(deps.fix ? { fix: deps.fix } : {}),
    ...(deps.github ? { github: deps.github } : {}),
  };

  const intake = new Worker(QUEUES.intake, intakeProcessor(db, triageQueue), { ...common, concurrency: Math.max(4, deps.concurrency) });
  const triage = new Worker(JOBS.triage.queue, triageProcessor(env, stageDeps, runQueues), { ...common, concurrency: deps.concurrency });
  const run: Partial<Record<RunnerName, Worker>> = {};
  for (const name of configured) {
    const limits = deps.runnerLimits?.[name] ?? { concurrency: deps.concurrency, ratePerMinute: 0 };
    const limiter = limits.ratePerMinute > 0 ? { max: limits.ratePerMinute, duration: 60_000 } : name === 'rules' ? undefined : UNLIMITED;
    run[name] = new Worker(JOBS.run(name).queue, runProcessor(env, stageDeps), { ...common, concurrency: limits.concurrency, ...(limiter ? { limiter } : {}) });
  }

  // Fix jobs hold a checkout and run commands for minutes: their lock outlives a stalled-check
  // interval only when renewed, which BullMQ does every lockDuration/2 while the job runs.
  const fixWorker = fixQueue && deps.fix ? new Worker(JOBS.fix.queue, fixProcessor(env, stageDeps), { ...common, concurrency: deps.fix.concurrency }) : null;

  // A few database statements and at most two GitHub requests per event; rare, so always on.
  const fixEvents = new Worker(
    JOBS.fixEvents.queue,
    fixEventsProcessor({
      db,
      logger,
      github: deps.github ?? deps.publish?.github ?? null,
      readyOnCi: deps.fixEvents?.readyOnCi ?? true,
      publishVerdict: async (failureId, round, iteration, verdict) => {
        await publisher?.enqueueFix(failureId, round, iteration, { verdict }).catch((e: unknown) => logger.error({ err: e, failureId }, 'could not enqueue publishing of the CI verdict'));
      },
      ...(deps.onLoopOutcome ? { onLoopOutcome: deps.onLoopOutcome } : {}),
      onResolved: (failure) => afterResolved(resolutionDeps, failure, 'fix-merge'),
    }),
    { ...common, concurrency: 2 },
  );

  // A few statements per success of a branch with open failures; rare next to all CI, so always on.
  const resolutions = new Worker(JOBS.resolutions.queue, resolutionsProcessor(resolutionDeps), { ...common, concurrency: 4 });

  // Config pushes and PR commands: rare, a few GitHub requests each.
  const repoEvents = repoConfig
    ? new Worker(
        JOBS.repoEvents.queue,
        repoEventsProcessor({
          logger,
          github: deps.github ?? deps.publish?.github ?? null,
          repoConfig,
          ...(deps.commands === false
            ? {}
            : {
                commands: {
                  db,
                  redis: connection,
                  prefix,
                  logger,
                  github: deps.github ?? deps.publish?.github ?? null,
                  repoConfig,
                  startFix: startFixOfRow,
                  explain: async (row) => {
                    const llm = deps.runners.runners.llm;
                    if (!llm) return { refused: 'no model is configured here (LLM_BASE_URL), so there is no strong model to ask' };
                    const round = await requestRetry(db, row.id, 'classify', { model: 'strong' });
                    if (round === null) return { refused: 'it is being triaged right now; try again once its report is in' };
                    // As the admin API's retry: a finished job of that id would make `add` a no-op.
                    const args = jobArgs(JOBS.triage, { v: 1, failureId: row.id, round });
                    const old = await triageQueue.getJob(args[2].jobId);
                    if (old && ((await old.isCompleted()) || (await old.isFailed()))) await old.remove();
                    await triageQueue.add(...args);
                    return { round, model: deps.runners.choose('unknown', { strong: true }).model };
                  },
                },
              }),
        }),
        { ...common, concurrency: 2 },
      )
    : null;

  const all = [intake, triage, ...Object.values(run), ...(publisher ? [publisher.worker] : []), ...(fixWorker ? [fixWorker] : []), fixEvents, resolutions, ...(repoEvents ? [repoEvents] : [])];
  for (const worker of all) worker.on('error', (error) => logger.error({ err: error, queue: worker.name }, 'worker error'));
  for (const worker of all) deps.metrics?.watchWorker(worker);
  for (const worker of [triage, ...Object.values(run)]) watchAbandoned(env, worker);

  let closing: Promise<void> | undefined;
  return {
    intake,
    triage,
    run,
    triageQueue,
    runQueues,
    publisher,
    fix: fixQueue && fixWorker ? { queue: fixQueue, worker: fixWorker } : null,
    fixEvents,
    resolutions: { queue: resolutionQueue, worker: resolutions },
    repoEvents,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        const graceful = Promise.all(all.map((w) => w.close()));
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
        if ((await Promise.race([graceful.then(() => 'closed' as const), timer])) === 'timeout') {
          // Cancel what is still running: each processor sees its AbortSignal, stops its model
          // call or agent, and hands its job back (`settleJobError`). Whatever does not within
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
        await Promise.all([triageQueue, ...Object.values(runQueues), ...(publisher ? [publisher.queue] : []), ...(fixQueue ? [fixQueue] : []), resolutionQueue].map((q) => q.close()));
      })();
      return closing;
    },
  };
}
