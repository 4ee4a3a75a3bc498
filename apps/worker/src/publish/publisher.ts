import { Queue, UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import {
  findFailure,
  JOBS,
  PublishJobData,
  runPublication,
  type CiFailure,
  type Database,
  type EffectivePolicy,
  type Logger,
  type PublicationRow,
  type SinkName,
} from '@pitcrew/core';
import type { GithubApi } from '../github/github-api.ts';
import { InvalidFailureDataError } from '../errors.ts';
import { parseJobData } from '../jobs/parse.ts';
import { checkRunSink } from './check-run.ts';
import { loadPublishContent } from './content.ts';
import { createIssueSink } from './issue.ts';
import { prCommentSink } from './pr-comment.ts';
import { PermanentPublishError, type Sink } from './sink.ts';
import { createSlackSink } from './slack.ts';

/** Sinks that write to GitHub and need a credential. */
export const GITHUB_SINKS: readonly SinkName[] = ['check-run', 'pr-comment', 'issue'];

/** How publishing is configured; `main.ts` builds it from the environment. */
export interface PublishOptions {
  /** The sinks to publish to (already filtered to those that can work, see {@link resolveSinks}). */
  sinks: Sink[];
  /** Octokit clients; `null` without a GitHub credential. */
  github: GithubApi | null;
  /** Attempts per publish job. */
  attempts: number;
  /** The console's public base URL (`PITCREW_CONSOLE_URL`): sinks link to `<url>/failures/<id>`. Unset = no link. */
  consoleUrl?: string;
  /** First retry delay in ms, doubling per attempt (BullMQ exponential backoff). Default 10 s. */
  backoffMs?: number;
  /** Publish jobs at once per process. Default 2. */
  concurrency?: number;
  /**
   * The policy of a failure's repository (`.github/pitcrew.yml` narrowing the organisation's
   * configuration), consulted before each sink publishes; unset = every configured sink.
   */
  policyFor?: (failure: Pick<CiFailure, 'owner' | 'repo' | 'installationId'>) => Promise<EffectivePolicy>;
}

/**
 * Why a repository's policy keeps `sink` from publishing: pitcrew off there, the sink not among
 * its `sinks`, or PR comments while it is `quiet`.
 *
 * @returns `null` when the sink may publish
 */
export function sinkRefusal(policy: EffectivePolicy, sink: SinkName): string | null {
  if (!policy.enabled) return 'enabled: false in .github/pitcrew.yml';
  if (!policy.sinks.includes(sink)) return `${sink} is not among this repository's sinks (.github/pitcrew.yml)`;
  if (sink === 'pr-comment' && policy.quiet) return 'quiet: true in .github/pitcrew.yml';
  return null;
}

/**
 * GitHub asks integrations to make content-creating requests serially and to avoid concurrency
 * ("Best practices for using the REST API", secondary rate limits); two at once per process keeps
 * a few workers well under that.
 */
const DEFAULT_CONCURRENCY = 2;

/**
 * The sinks to run from `PITCREW_PUBLISH`, minus those that cannot work here: GitHub sinks without
 * a GitHub credential, Slack without a webhook URL. Logs one line saying what is on and why
 * anything requested is off.
 */
export function resolveSinks(
  options: { requested: readonly SinkName[]; githubAuth: 'token' | 'app' | null; slackWebhookUrl: string | undefined; escalateAfter: number },
  logger: Logger,
): Sink[] {
  const off: Record<string, string> = {};
  const sinks: Sink[] = [];
  for (const name of options.requested) {
    if (GITHUB_SINKS.includes(name) && !options.githubAuth) {
      off[name] = 'no GITHUB_TOKEN or GITHUB_APP_ID/GITHUB_APP_PRIVATE_KEY';
      continue;
    }
    if (name === 'check-run') sinks.push(checkRunSink);
    else if (name === 'pr-comment') sinks.push(prCommentSink);
    else if (name === 'issue') sinks.push(createIssueSink({ escalateAfter: options.escalateAfter }));
    else if (name === 'slack') {
      if (!options.slackWebhookUrl) off[name] = 'PITCREW_SLACK_WEBHOOK_URL is not set';
      else sinks.push(createSlackSink({ webhookUrl: options.slackWebhookUrl }));
    }
  }
  const note = options.githubAuth === 'token' && sinks.some((s) => s.name === 'check-run') ? 'check runs need a GitHub App (a personal token gets 403)' : undefined;
  logger.info({ sinks: sinks.map((s) => s.name), off, ...(note ? { note } : {}) }, Object.keys(off).length ? 'publishing: some sinks are off' : 'publishing');
  return sinks;
}

/** The publish queue and its worker (the caller listens to the worker's `error` and closes it). */
export interface Publisher {
  queue: Queue;
  worker: Worker;
  /**
   * Enqueues one publish job per sink for a failure in its final state, under
   * {@link publishJobId} (failure, sink, round), so enqueuing twice adds nothing.
   */
  enqueue(failureId: string): Promise<void>;
  /**
   * Enqueues the update of a failure's check run and PR comment with fix attempt `iteration` of
   * triage round `round` (its PR, or why it was not proposed), one job per sink under
   * {@link publishJobId} with the iteration; with `verdict`, the update once CI judged that
   * iteration's commit (its own job id, so it runs after the iteration's first update).
   */
  enqueueFix(failureId: string, round: number, iteration: number, options?: { escalated?: boolean; verdict?: 'passed' | 'failed' }): Promise<void>;
  /**
   * Enqueues the update of a resolved failure's check run and PR comment ("resolved in abc1234
   * after 42 min"), one job per sink under {@link publishJobId} with `resolved`.
   */
  enqueueResolved(failureId: string, round: number): Promise<void>;
}

/**
 * The noise rule: a failure resolved before its triage finished (`resolved_at` ≤ `finished_at`,
 * or resolved while still being triaged) publishes nothing at all, to any sink, unless that sink
 * had published it already (a requested retry's round), which is then updated in place.
 *
 * @returns why nothing is published, or `null` to publish
 */
export function resolvedBeforeTriage(row: Pick<PublicationRow, 'status' | 'external_id'>, failure: { resolved_at: Date | string | null; finished_at: Date | string | null }): string | null {
  if (!failure.resolved_at || (row.status === 'published' && row.external_id !== null)) return null;
  if (failure.finished_at && new Date(failure.resolved_at).getTime() > new Date(failure.finished_at).getTime()) return null;
  return 'resolved before its triage finished; nothing to say';
}

/**
 * Starts the `publish` queue's worker. Each job publishes one failure to one sink inside
 * {@link runPublication} (row lock, outcome recorded), unless the repository's policy refuses
 * that sink ({@link sinkRefusal}: recorded `skipped` with the reason). A sink error is retried with exponential
 * backoff; a permanent refusal (403, 404, 422, revoked webhook) stops at once. Either way the
 * `publications` row says so, and the failure's own status is never touched.
 */
export function createPublisher(deps: {
  connection: Redis;
  prefix: string;
  db: Kysely<Database>;
  logger: Logger;
  options: PublishOptions;
  /** Extra BullMQ worker options (lock duration, stalled-job check, worker name). */
  workerOptions?: Partial<WorkerOptions>;
}): Publisher {
  const { connection, prefix, db, logger, options } = deps;
  const bySink = new Map(options.sinks.map((s) => [s.name, s]));
  const queue = new Queue(JOBS.publish.queue, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: options.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 10_000 },
      removeOnComplete: { age: 24 * 3600, count: 1_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  queue.on('error', (error) => logger.warn({ err: error, queue: queue.name }, 'queue error'));

  const worker = new Worker(
    JOBS.publish.queue,
    async function processPublishJob(job: Job, _token?: string, signal?: AbortSignal): Promise<Pick<PublicationRow, 'status' | 'external_id' | 'external_url'>> {
      const { failureId, sink: sinkName } = parseJobData(PublishJobData, job);
      const sink = bySink.get(sinkName);
      if (!sink) throw new UnrecoverableError(`sink ${sinkName} is not configured in this worker`);
      const attempt = job.attemptsMade + 1;
      const final = attempt >= (job.opts.attempts ?? 1);
      const log = logger.child({ jobId: job.id, failureId, sink: sinkName, attempt });
      const content = await loadPublishContent(db, failureId, { ...(options.consoleUrl ? { consoleUrl: options.consoleUrl } : {}) }).catch((error: unknown) => {
        // A row of another release's shape cannot be read by retrying.
        throw error instanceof InvalidFailureDataError ? new UnrecoverableError(error.message) : error;
      });
      if (!content) throw new UnrecoverableError(`failure ${failureId} is not in the database`);
      if (content.status !== 'triaged' && content.status !== 'failed') {
        // A retry was requested since this job was enqueued; that round publishes when it ends.
        log.info({ status: content.status }, 'failure is being triaged again; not publishing this round');
        return { status: 'skipped', external_id: null, external_url: null };
      }
      const octokit = options.github?.forInstallation(content.failure.installationId) ?? null;
      const policy = options.policyFor ? await options.policyFor(content.failure) : null;
      const refused = policy && sinkRefusal(policy, sinkName);
      if (refused) {
        const row = await runPublication(db, { failureId, sink: sinkName, final, permanent: () => true }, async () => ({ status: 'skipped', reason: refused }));
        log.info({ reason: refused }, 'the repository\'s policy keeps this sink from publishing');
        return { status: row.status, external_id: row.external_id, external_url: row.external_url };
      }
      try {
        // A permanent error ends the job now; it is recorded as final.
        const permanent = (error: unknown) => error instanceof PermanentPublishError;
        const row = await runPublication(db, { failureId, sink: sinkName, final, permanent }, async (previous, trx) => {
          const quiet = resolvedBeforeTriage(previous, content.row);
          if (quiet) return { status: 'skipped', reason: quiet };
          return sink.publish({ content, previous, trx, octokit, logger: log, signal: signal ?? new AbortController().signal });
        });
        log.info({ status: row.status, externalId: row.external_id, reason: row.last_error ?? undefined }, 'publish job done');
        return { status: row.status, external_id: row.external_id, external_url: row.external_url };
      } catch (error) {
        if (error instanceof PermanentPublishError) {
          log.error({ err: error }, 'sink refused; not retrying');
          throw new UnrecoverableError(error.message);
        }
        if (final) log.error({ err: error }, 'sink failed on the last attempt');
        else log.warn({ err: error }, 'sink failed; will retry');
        throw error;
      }
    },
    { ...deps.workerOptions, connection, prefix, concurrency: options.concurrency ?? DEFAULT_CONCURRENCY },
  );

  return {
    queue,
    worker,
    async enqueue(failureId) {
      if (options.sinks.length === 0) return;
      const row = await findFailure(db, failureId);
      if (!row) return;
      await queue.addBulk(
        options.sinks.map((sink) => {
          const data: PublishJobData = { v: 1, failureId, sink: sink.name, round: row.attempt_base };
          return { name: JOBS.publish.name(data), data, opts: { jobId: JOBS.publish.jobId(data) } };
        }),
      );
    },
    async enqueueFix(failureId, round, fixIteration, how) {
      // An escalated loop is also told where escalations go (Slack; the issue sink is per incident).
      const sinks = options.sinks.filter((s) => FIX_SINKS.includes(s.name) || (how?.escalated && s.name === 'slack'));
      if (sinks.length === 0) return;
      await queue.addBulk(
        sinks.map((sink) => {
          const data: PublishJobData = { v: 1, failureId, sink: sink.name, round, fixIteration, ...(how?.escalated ? { escalated: true } : {}), ...(how?.verdict ? { fixVerdict: how.verdict } : {}) };
          return { name: JOBS.publish.name(data), data, opts: { jobId: JOBS.publish.jobId(data) } };
        }),
      );
    },
    async enqueueResolved(failureId, round) {
      const sinks = options.sinks.filter((s) => FIX_SINKS.includes(s.name));
      if (sinks.length === 0) return;
      await queue.addBulk(
        sinks.map((sink) => {
          const data: PublishJobData = { v: 1, failureId, sink: sink.name, round, resolved: true };
          return { name: JOBS.publish.name(data), data, opts: { jobId: JOBS.publish.jobId(data) } };
        }),
      );
    },
  };
}

/** Sinks that show a fix attempt: the ones kept in place (a check run, the PR comment). */
export const FIX_SINKS: readonly SinkName[] = ['check-run', 'pr-comment'];
