import { sql } from 'kysely';
import { toOutgoingJson } from '../../outgoing.ts';
import type { FailureRow, FailureStatus } from '../database.ts';
import type { Db } from '../database.ts';
import { listDeliveryViews, type DeliveryView } from './deliveries.ts';
import { listExecutionViews, selectExecutionSums, toExecutionSums, totalExecutions, type ExecutionSums, type ExecutionSumsRow, type ExecutionTotals, type ExecutionView } from './executions.ts';
import { listFixAttemptViews, type FixAttemptView } from './fixes.ts';
import { getIncidentView, type IncidentView } from './incidents.ts';
import { listPublicationViews, type PublicationView } from './publications.ts';
import { cursorTime, decodeCursor, iso, keysetPage, outText, repoCondition, type RepoFilter } from './shared.ts';

/** What the failure list and the failure detail both show of a failure. */
interface FailureBasics {
  id: string;
  owner: string;
  repo: string;
  status: FailureStatus;
  category: string | null;
  confidence: number | null;
  runner: string | null;
  workflowName: string | null;
  jobName: string | null;
  branch: string | null;
  headSha: string;
  conclusion: string;
  /** ISO 8601. */
  receivedAt: string;
  /** ISO 8601; `null` until triaged or failed. */
  finishedAt: string | null;
  summary: string | null;
  /** ISO 8601 time the same check went green on the branch (or the fix PR was merged); `null` while open. */
  resolvedAt: string | null;
  /** The commit that went green. */
  resolvedBySha: string | null;
  /** The workflow run that went green; `null` for a check run's success or a merged fix. */
  resolvedByRunId: string | null;
  /** ms from receipt to resolution; `null` while open. */
  timeToGreenMs: number | null;
  /** The re-run pitcrew asked GitHub for (`n` of `max` for the run, why, when), or `null`. */
  rerun: { n: number; max: number; reason: string; at: string; scope: 'job' | 'run' } | null;
}

/** Filters of {@link listFailures}. */
export interface FailureListFilter {
  repo?: RepoFilter;
  category?: string;
  status?: FailureStatus;
  /** The CI conclusion (`failure`, `timed_out`, `startup_failure`, …). */
  conclusion?: string;
  /** `open`: not resolved yet; `resolved`: the same check went green since (or its fix PR was merged). */
  resolution?: 'open' | 'resolved';
  /** Only failures received at or after this time. */
  since?: Date;
  /** Only failures received before this time. */
  until?: Date;
  /** Rows per page, 1-500. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** One row of {@link listFailures}: the failure, its incident and the sums over its executions. */
export interface FailureListItem extends FailureBasics, ExecutionSums {
  incidentId: string | null;
}

/** Everything the admin API tells about one failure. */
export interface FailureDetail {
  failure: FailureBasics & {
    provider: string;
    kind: string;
    runId: string | null;
    runAttempt: number | null;
    jobId: string | null;
    checkName: string | null;
    htmlUrl: string | null;
    failedSteps: string[];
    error: string | null;
    signature: string | null;
    budgetSkipped: boolean;
    /** Executions of the current triage round have `attempt > attemptBase`. */
    attemptBase: number;
    retryFromStage: string | null;
    firstDeliveryId: string;
    /** ISO 8601. */
    createdAt: string;
    /** ISO 8601. */
    updatedAt: string;
  };
  deliveries: DeliveryView[];
  executions: ExecutionView[];
  totals: ExecutionTotals;
  incident: IncidentView | null;
  publications: PublicationView[];
  /** Its fix attempts, first iteration first (with the verification output). */
  fixAttempts: FixAttemptView[];
}

const FAILURE_BASICS_COLUMNS = [
  'id',
  'owner',
  'repo',
  'status',
  'category',
  'confidence',
  'runner',
  'workflow_name',
  'job_name',
  'branch',
  'head_sha',
  'conclusion',
  'received_at',
  'finished_at',
  'summary',
  'resolved_at',
  'resolved_by_sha',
  'resolved_by_run_id',
  'rerun',
] as const;

/** The {@link FailureBasics} of a row: names, the branch and the summary pass the outgoing boundary. */
function toFailureBasics(r: Pick<FailureRow, (typeof FAILURE_BASICS_COLUMNS)[number]>): FailureBasics {
  return {
    id: r.id,
    owner: r.owner,
    repo: r.repo,
    status: r.status,
    category: r.category,
    confidence: r.confidence,
    runner: r.runner,
    workflowName: outText(r.workflow_name),
    jobName: outText(r.job_name),
    branch: outText(r.branch),
    headSha: r.head_sha,
    conclusion: r.conclusion,
    receivedAt: iso(r.received_at)!,
    finishedAt: iso(r.finished_at),
    summary: outText(r.summary),
    resolvedAt: iso(r.resolved_at),
    resolvedBySha: r.resolved_by_sha,
    resolvedByRunId: r.resolved_by_run_id,
    timeToGreenMs: r.resolved_at ? Math.max(0, new Date(r.resolved_at).getTime() - new Date(r.received_at).getTime()) : null,
    rerun: r.rerun ? { ...r.rerun, reason: outText(r.rerun.reason) ?? '' } : null,
  };
}

/** The detail's `failure`: the check name, failed steps and error pass the outgoing boundary too. */
function toFailureView(row: FailureRow): FailureDetail['failure'] {
  return {
    ...toFailureBasics(row),
    provider: row.provider,
    kind: row.kind,
    runId: row.run_id,
    runAttempt: row.run_attempt,
    jobId: row.job_id,
    checkName: outText(row.check_name),
    htmlUrl: row.html_url,
    failedSteps: toOutgoingJson(row.failed_steps, 'admin-api'),
    error: outText(row.error),
    signature: row.signature,
    budgetSkipped: row.budget_skipped,
    attemptBase: row.attempt_base,
    retryFromStage: row.retry_from_stage,
    firstDeliveryId: row.first_delivery_id,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  };
}

type FailureListRow = Pick<FailureRow, (typeof FAILURE_BASICS_COLUMNS)[number] | 'incident_id'> & ExecutionSumsRow;

function toFailureListItem(r: FailureListRow): FailureListItem {
  return { ...toFailureBasics(r), incidentId: r.incident_id, ...toExecutionSums(r) };
}

/**
 * Failures, newest received first, with their execution totals. Keyset pagination on
 * (`received_at`, `id`) descending: pass `nextCursor` back as `cursor` for the next page; it is
 * `null` on the last page. Stable under concurrent inserts (new failures appear on page one only).
 *
 * @throws {BadCursorError} when `cursor` is not one this function produced
 */
export async function listFailures(db: Db, filter: FailureListFilter): Promise<{ items: FailureListItem[]; nextCursor: string | null }> {
  const repo = repoCondition('failures', filter.repo);
  let query = db
    .selectFrom('failures')
    .leftJoinLateral(
      (eb) => eb.selectFrom('executions').select(selectExecutionSums()).whereRef('executions.failure_id', '=', 'failures.id').as('totals'),
      (join) => join.onTrue(),
    )
    .select([
      ...FAILURE_BASICS_COLUMNS.map((column) => `failures.${column}` as const),
      'failures.incident_id',
      'totals.executions',
      'totals.tokens_in',
      'totals.tokens_out',
      'totals.cost_usd',
      cursorTime('failures.received_at').as('cursor_time'),
    ])
    .orderBy('failures.received_at', 'desc')
    .orderBy('failures.id', 'desc')
    .limit(filter.limit + 1);
  if (repo) query = query.where(repo);
  if (filter.category) query = query.where('failures.category', '=', filter.category);
  if (filter.status) query = query.where('failures.status', '=', filter.status);
  if (filter.conclusion) query = query.where('failures.conclusion', '=', filter.conclusion);
  if (filter.resolution) query = query.where('failures.resolved_at', filter.resolution === 'open' ? 'is' : 'is not', null);
  if (filter.since) query = query.where('failures.received_at', '>=', filter.since);
  if (filter.until) query = query.where('failures.received_at', '<', filter.until);
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(failures.received_at, failures.id) < (${c.time}::timestamptz, ${c.id})`);
  }
  return keysetPage(await query.execute(), filter.limit, toFailureListItem, (r) => r.id);
}

/** One failure with its deliveries, executions (oldest first), totals, incident, publications and fix attempts; `undefined` when unknown. */
export async function getFailureDetail(db: Db, id: string): Promise<FailureDetail | undefined> {
  const row = await db.selectFrom('failures').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  const [deliveries, executions, incident, publications, fixAttempts] = await Promise.all([
    listDeliveryViews(db, id),
    listExecutionViews(db, id),
    row.incident_id ? getIncidentView(db, row.incident_id) : Promise.resolve(undefined),
    listPublicationViews(db, id),
    listFixAttemptViews(db, id),
  ]);
  return {
    failure: toFailureView(row),
    deliveries,
    executions,
    totals: totalExecutions(executions),
    incident: incident ?? null,
    publications,
    fixAttempts,
  };
}
