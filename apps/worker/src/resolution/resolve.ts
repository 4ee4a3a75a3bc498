import type { Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import {
  failingTestNames,
  findFailure,
  findIncident,
  findSucceededExecution,
  jobArgs,
  JOBS,
  lastResolutionOf,
  lockIncident,
  markIncidentClosed,
  openFailuresKey,
  recordFlakyObservation,
  resolveOpenFailures,
  timeToGreenMs,
  unresolvedOccurrences,
  type Database,
  type FailureRow,
  type Logger,
  type ResolutionJobData,
  type RedisConnection,
} from '@pitcrew/core';
import type { GithubApi } from '../github/github-api.ts';
import type { PipelineObserver } from '../metrics.ts';

/** What resolving needs; `createWorkers` builds it. */
export interface ResolutionDeps {
  db: Kysely<Database>;
  /** The workers' connection: the open-failure sets live beside the queues. */
  redis: RedisConnection;
  prefix: string;
  logger: Logger;
  /** The `resolutions` queue, for the delayed incident-quiet checks. */
  queue: Queue;
  /** Enqueues the in-place update of a published failure's check run and PR comment (`Publisher.enqueueResolved`). */
  publishResolved(failureId: string, round: number): Promise<void>;
  /** GitHub clients, to close an incident's escalation issue; `null` without a credential. */
  github: GithubApi | null;
  /** `PITCREW_INCIDENT_QUIET_HOURS`: hours an incident must stay without an unresolved occurrence before its issue is closed; 0 = never close. */
  quietHours: number;
  observer?: PipelineObserver;
}

/** What one resolutions job did (its return value, shown on the board). */
export type ResolutionResult =
  | { outcome: 'resolved'; failureIds: string[] }
  | { outcome: 'closed'; incidentId: string; issueNumber: number }
  | { outcome: 'ignored'; reason: string };

/**
 * Adds a recorded failure to the open-failure set of its repository and branch
 * (`openFailuresKey`, TTL `OPEN_FAILURES_TTL_SECONDS` from the last addition), one `MULTI`. CI of
 * a fix branch belongs to its loop and is never added; nor is a failure without a branch.
 */
export async function markOpen(redis: RedisConnection, prefix: string, failure: { id: string; owner: string; repo: string; branch: string | null }, ttlSeconds: number): Promise<void> {
  if (!failure.branch) return;
  const key = openFailuresKey(prefix, failure.owner, failure.repo, failure.branch);
  await redis.multi().sadd(key, failure.id).expire(key, ttlSeconds).exec();
}

/**
 * A `ci-success` resolution: resolves the open failures of the check that passed
 * (`resolveOpenFailures`; received before it completed, its `completedAt`, else when ingest
 * received it) and, for each, runs {@link afterResolved}. Idempotent: a redelivery or a retry
 * finds nothing open and does nothing.
 */
export async function resolveSuccess(deps: ResolutionDeps, data: Extract<ResolutionJobData, { kind: 'ci-success' }>): Promise<ResolutionResult> {
  const completed = new Date(data.completedAt ?? data.receivedAt);
  const at = Number.isNaN(completed.getTime()) ? new Date(data.receivedAt) : completed;
  const rows = await resolveOpenFailures(deps.db, { ...data, at });
  if (rows.length === 0) {
    const check = data.scope === 'job' ? (data.jobName ?? data.checkName) : (data.workflowName ?? data.checkName);
    const where = `${data.owner}/${data.repo}@${data.branch}`;
    return { outcome: 'ignored', reason: check ? `no open failure of ${check} on ${where} received before the success (${at.toISOString()})` : `the success on ${where} names no ${data.scope === 'job' ? 'job' : 'workflow'}` };
  }
  for (const row of rows) await afterResolved(deps, row, 'ci');
  return { outcome: 'resolved', failureIds: rows.map((r) => r.id) };
}

/**
 * What follows a failure's resolution, each step idempotent:
 * 1. the failure leaves its branch's open-failure set (`SREM`);
 * 2. the flaky registry counts it (`recordFlakyObservation`, by its job and the failing tests its
 *    excerpt names): a flaky occurrence when it went green on the commit that failed;
 * 3. a failure already triaged has its check run and PR comment updated in place
 *    (`publishResolved`); one still being triaged publishes nothing at all (the publisher's
 *    noise rule: resolved before its triage finished);
 * 4. an occurrence of an incident schedules the incident's quiet check, delayed by
 *    `quietHours` (job id per incident and failure).
 */
export async function afterResolved(deps: ResolutionDeps, row: FailureRow, by: 'ci' | 'fix-merge'): Promise<void> {
  const log = deps.logger.child({ failureId: row.id });
  if (row.branch) await deps.redis.srem(openFailuresKey(deps.prefix, row.owner, row.repo, row.branch), row.id);
  const ms = timeToGreenMs(row) ?? 0;
  deps.observer?.resolved?.(by, ms);
  const job = row.job_name ?? row.check_name ?? row.workflow_name;
  if (job) {
    const classify = await findSucceededExecution(deps.db, row.id, 'classify');
    const excerpt = (classify?.output as { logExcerpt?: string | null } | null)?.logExcerpt ?? null;
    const flaky = by === 'ci' && row.resolved_by_sha === row.head_sha;
    await recordFlakyObservation(deps.db, { owner: row.owner, repo: row.repo, workflow: row.workflow_name ?? '', job, tests: failingTestNames(excerpt), flaky, failureId: row.id, at: new Date(row.resolved_at ?? Date.now()) });
    if (flaky) deps.observer?.flakyOccurrence?.(`${row.owner}/${row.repo}`);
  }
  log.info({ by, resolvedBySha: row.resolved_by_sha, timeToGreenMs: ms, status: row.status }, 'failure resolved');
  if (row.status === 'triaged' || row.status === 'failed') await deps.publishResolved(row.id, row.attempt_base);
  if (row.incident_id !== null && deps.quietHours > 0) {
    const data: ResolutionJobData = { v: 1, kind: 'incident-quiet', incidentId: String(row.incident_id), failureId: row.id };
    const [name, payload, options] = jobArgs(JOBS.resolutions, data);
    await deps.queue.add(name, payload, { ...options, delay: deps.quietHours * 3_600_000 });
  }
}

/**
 * The incident-quiet check (GitHub REST: "Create an issue comment", then "Update an issue" with
 * `state: closed`, `state_reason: completed`): closes the incident's escalation issue when it has
 * one, pitcrew has not closed it yet, none of its occurrences is unresolved, and its latest
 * resolution is at least `quietHours` old (a later one scheduled a check of its own). Under the
 * incident's row lock, so two checks close it once.
 */
export async function closeQuietIncident(deps: ResolutionDeps, data: Extract<ResolutionJobData, { kind: 'incident-quiet' }>): Promise<ResolutionResult> {
  const incident = await findIncident(deps.db, data.incidentId);
  if (!incident) return { outcome: 'ignored', reason: `no incident ${data.incidentId}` };
  if (incident.issue_number === null) return { outcome: 'ignored', reason: 'the incident has no escalation issue' };
  if (incident.closed_at !== null) return { outcome: 'ignored', reason: 'the issue was closed already' };
  const open = await unresolvedOccurrences(deps.db, incident.id);
  if (open > 0) return { outcome: 'ignored', reason: `${open} occurrence(s) still unresolved` };
  const last = await lastResolutionOf(deps.db, incident.id);
  const quietMs = deps.quietHours * 3_600_000;
  if (last && Date.now() - last.getTime() < quietMs - 1_000) return { outcome: 'ignored', reason: 'resolved again within the quiet window; a later check decides' };
  const failure = await findFailure(deps.db, data.failureId);
  const octokit = deps.github?.forInstallation(failure?.installation_id == null ? null : Number(failure.installation_id)) ?? null;
  if (!octokit) return { outcome: 'ignored', reason: 'no GitHub credential to close the issue' };
  const issueNumber = incident.issue_number;
  await deps.db.transaction().execute(async (trx) => {
    const locked = await lockIncident(trx, incident.id);
    if (!locked || locked.closed_at !== null) return;
    const { owner, repo } = locked;
    const hours = deps.quietHours;
    const body = `pitcrew: every occurrence of this breakage is resolved${failure?.resolved_by_sha ? ` (last in ${failure.resolved_by_sha.slice(0, 7)})` : ''}, and it has not failed again for ${hours} hour${hours === 1 ? '' : 's'}. Closing; pitcrew reopens it if it comes back.`;
    await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body });
    await octokit.rest.issues.update({ owner, repo, issue_number: issueNumber, state: 'closed', state_reason: 'completed' });
    await markIncidentClosed(trx, locked.id, new Date());
  });
  deps.logger.info({ incidentId: incident.id, issueNumber }, 'incident quiet: escalation issue closed');
  return { outcome: 'closed', incidentId: incident.id, issueNumber };
}
