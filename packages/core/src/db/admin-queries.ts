import { sql } from 'kysely';
import type { FailureStatus } from './database.ts';
import { toOutgoing, toOutgoingJson } from '../outgoing.ts';
import { listPublications } from './publications.ts';
import type { Db } from './database.ts';

/**
 * Read queries of the admin API (`/api` on ingest) and the `pitcrew` CLI: failures with their
 * executions, spend, incidents and stored deliveries. Every function answers plain JSON-ready
 * objects: times as ISO 8601 strings, money as USD numbers, tokens as integers.
 */

/** A repository filter: `owner/repo` matches exactly, a bare `name` matches that repository name under any owner. */
export type RepoFilter = string;

function repoWhere(repoFilter: RepoFilter | undefined): { owner: string | undefined; repo: string } | undefined {
  if (!repoFilter) return undefined;
  const slash = repoFilter.indexOf('/');
  return slash > 0 ? { owner: repoFilter.slice(0, slash), repo: repoFilter.slice(slash + 1) } : { owner: undefined, repo: repoFilter };
}

/** A repository filter as a condition on `table`'s `owner` and `repo` columns; `undefined` without a filter. */
function repoCondition(table: 'failures' | 'incidents', repoFilter: RepoFilter | undefined) {
  const where = repoWhere(repoFilter);
  if (!where) return undefined;
  const repo = sql<boolean>`${sql.ref(`${table}.repo`)} = ${where.repo}`;
  return where.owner ? sql<boolean>`${sql.ref(`${table}.owner`)} = ${where.owner} and ${repo}` : repo;
}

/** A sum of USD amounts in micro-USD (the columns' scale is 6), so floating point does not drift. */
function sumUsd(amounts: number[]): number {
  return amounts.reduce((sum, usd) => sum + Math.round(usd * 1e6), 0) / 1e6;
}

// `unknown`: columns typed `Generated<Timestamp>` in database.ts select as the ColumnType itself,
// while pg hands back a Date.
const iso = (value: unknown): string | null =>
  value === null || value === undefined ? null : new Date(value as Date | string).toISOString();

/** Filters of {@link listFailures}. */
export interface FailureListFilter {
  repo?: RepoFilter;
  category?: string;
  status?: FailureStatus;
  /** Only failures received at or after this time. */
  since?: Date;
  /** Rows per page, 1-500. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** One row of {@link listFailures}. */
export interface FailureListItem {
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
  receivedAt: string;
  finishedAt: string | null;
  incidentId: string | null;
  summary: string | null;
  /** Executions of every stage and attempt. */
  executions: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

/** Thrown for a cursor this release did not produce. */
export class BadCursorError extends Error {
  constructor(cursor: string) {
    super(`cursor ${JSON.stringify(cursor.slice(0, 40))} is not one this API produced`);
    this.name = 'BadCursorError';
  }
}

/** Keyset cursor: base64url of `<received_at with microseconds>|<id>`. */
function encodeCursor(receivedAt: string, id: string): string {
  return Buffer.from(`${receivedAt}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { receivedAt: string; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const bar = text.indexOf('|');
  const receivedAt = text.slice(0, bar);
  if (bar <= 0 || Number.isNaN(Date.parse(receivedAt))) throw new BadCursorError(cursor);
  return { receivedAt, id: text.slice(bar + 1) };
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
      (eb) =>
        eb
          .selectFrom('executions')
          .select([
            sql<number>`count(*)::int`.as('executions'),
            sql<string>`coalesce(sum(tokens_in), 0)::bigint`.as('tokens_in'),
            sql<string>`coalesce(sum(tokens_out), 0)::bigint`.as('tokens_out'),
            sql<string>`coalesce(sum(cost_usd), 0)`.as('cost_usd'),
          ])
          .whereRef('executions.failure_id', '=', 'failures.id')
          .as('totals'),
      (join) => join.onTrue(),
    )
    .select([
      'failures.id',
      'failures.owner',
      'failures.repo',
      'failures.status',
      'failures.category',
      'failures.confidence',
      'failures.runner',
      'failures.workflow_name',
      'failures.job_name',
      'failures.branch',
      'failures.head_sha',
      'failures.conclusion',
      'failures.received_at',
      'failures.finished_at',
      'failures.incident_id',
      'failures.summary',
      'totals.executions',
      'totals.tokens_in',
      'totals.tokens_out',
      'totals.cost_usd',
      sql<string>`to_char(failures.received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_time'),
    ])
    .orderBy('failures.received_at', 'desc')
    .orderBy('failures.id', 'desc')
    .limit(filter.limit + 1);
  if (repo) query = query.where(repo);
  if (filter.category) query = query.where('failures.category', '=', filter.category);
  if (filter.status) query = query.where('failures.status', '=', filter.status);
  if (filter.since) query = query.where('failures.received_at', '>=', filter.since);
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    query = query.where(sql<boolean>`(failures.received_at, failures.id) < (${c.receivedAt}::timestamptz, ${c.id})`);
  }
  const rows = await query.execute();
  const page = rows.slice(0, filter.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({
      id: r.id,
      owner: r.owner,
      repo: r.repo,
      status: r.status,
      category: r.category,
      confidence: r.confidence,
      runner: r.runner,
      workflowName: outName(r.workflow_name),
      jobName: outName(r.job_name),
      branch: outName(r.branch),
      headSha: r.head_sha,
      conclusion: r.conclusion,
      receivedAt: iso(r.received_at)!,
      finishedAt: iso(r.finished_at),
      incidentId: r.incident_id,
      summary: r.summary === null ? null : toOutgoing(r.summary, 'admin-api').text,
      executions: Number(r.executions ?? 0),
      tokensIn: Number(r.tokens_in ?? 0),
      tokensOut: Number(r.tokens_out ?? 0),
      costUsd: Number(r.cost_usd ?? 0),
    })),
    nextCursor: rows.length > filter.limit && last ? encodeCursor(last.cursor_time, last.id) : null,
  };
}

/** One execution of one stage, as the admin API shows it. */
export interface ExecutionView {
  id: string;
  stage: string;
  attempt: number;
  runner: string;
  model: string | null;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  error: string | null;
  /** The stage's stored output (classification, runner markdown, summary). */
  output: unknown;
}

/** Sums over a failure's executions. */
export interface ExecutionTotals {
  executions: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  /** Sum of execution wall times, ms. */
  durationMs: number;
}

/** An incident, without its failures. */
export interface IncidentView {
  id: string;
  owner: string;
  repo: string;
  signature: string;
  category: string;
  leaderFailureId: string;
  occurrences: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** Failures linked to it now. */
  failures: number;
}

/** A stored delivery without its payload. */
export interface DeliveryView {
  id: string;
  event: string;
  action: string | null;
  outcome: string;
  receivedAt: string;
  recordedAt: string;
}

/** Where a failure's result was published (one row per sink; see the worker's publish stage). */
export interface PublicationView {
  sink: string;
  status: string;
  /** The object on the other side: check run id, issue number, …; `null` before the first publish. */
  externalId: string | null;
  externalUrl: string | null;
  /** Publish job attempts over every round. */
  attempts: number;
  lastError: string | null;
  publishedAt: string | null;
  updatedAt: string;
}

/** Everything the admin API tells about one failure. */
export interface FailureDetail {
  failure: {
    id: string;
    provider: string;
    kind: string;
    owner: string;
    repo: string;
    branch: string | null;
    headSha: string;
    runId: string | null;
    runAttempt: number | null;
    jobId: string | null;
    workflowName: string | null;
    jobName: string | null;
    checkName: string | null;
    htmlUrl: string | null;
    conclusion: string;
    failedSteps: string[];
    status: FailureStatus;
    category: string | null;
    confidence: number | null;
    runner: string | null;
    summary: string | null;
    error: string | null;
    signature: string | null;
    budgetSkipped: boolean;
    /** Executions of the current triage round have `attempt > attemptBase`. */
    attemptBase: number;
    retryFromStage: string | null;
    firstDeliveryId: string;
    receivedAt: string;
    createdAt: string;
    updatedAt: string;
    finishedAt: string | null;
  };
  deliveries: DeliveryView[];
  executions: ExecutionView[];
  totals: ExecutionTotals;
  incident: IncidentView | null;
  publications: PublicationView[];
}

/** One failure with its deliveries, executions (oldest first), totals and incident; `undefined` when unknown. */
export async function getFailureDetail(db: Db, id: string): Promise<FailureDetail | undefined> {
  const row = await db.selectFrom('failures').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  const [deliveries, executions, incident, publications] = await Promise.all([
    db
      .selectFrom('deliveries')
      .select(['id', 'event', 'action', 'outcome', 'received_at', 'recorded_at'])
      .where('failure_id', '=', id)
      .orderBy('recorded_at')
      .orderBy('id')
      .execute(),
    db.selectFrom('executions').selectAll().where('failure_id', '=', id).orderBy('started_at').orderBy('id').execute(),
    row.incident_id ? getIncidentView(db, row.incident_id) : Promise.resolve(undefined),
    listPublications(db, id),
  ]);
  const views: ExecutionView[] = executions.map((e) => ({
    id: e.id,
    stage: e.stage,
    attempt: e.attempt,
    runner: e.runner,
    model: e.model,
    status: e.status,
    startedAt: iso(e.started_at)!,
    finishedAt: iso(e.finished_at),
    durationMs: e.duration_ms,
    tokensIn: e.tokens_in,
    tokensOut: e.tokens_out,
    costUsd: Number(e.cost_usd),
    // Excerpts, plans and errors leave through the outgoing-text boundary like any published text.
    error: e.error === null ? null : toOutgoing(e.error, 'admin-api').text,
    output: toOutgoingJson(e.output, 'admin-api'),
  }));
  return {
    failure: {
      id: row.id,
      provider: row.provider,
      kind: row.kind,
      owner: row.owner,
      repo: row.repo,
      branch: outName(row.branch),
      headSha: row.head_sha,
      runId: row.run_id,
      runAttempt: row.run_attempt,
      jobId: row.job_id,
      workflowName: outName(row.workflow_name),
      jobName: outName(row.job_name),
      checkName: outName(row.check_name),
      htmlUrl: row.html_url,
      conclusion: row.conclusion,
      failedSteps: toOutgoingJson(row.failed_steps, 'admin-api'),
      status: row.status,
      category: row.category,
      confidence: row.confidence,
      runner: row.runner,
      summary: row.summary === null ? null : toOutgoing(row.summary, 'admin-api').text,
      error: row.error === null ? null : toOutgoing(row.error, 'admin-api').text,
      signature: row.signature,
      budgetSkipped: row.budget_skipped,
      attemptBase: row.attempt_base,
      retryFromStage: row.retry_from_stage,
      firstDeliveryId: row.first_delivery_id,
      receivedAt: iso(row.received_at)!,
      createdAt: iso(row.created_at)!,
      updatedAt: iso(row.updated_at)!,
      finishedAt: iso(row.finished_at),
    },
    deliveries: deliveries.map((d) => ({
      id: d.id,
      event: d.event,
      action: d.action,
      outcome: d.outcome,
      receivedAt: iso(d.received_at)!,
      recordedAt: iso(d.recorded_at)!,
    })),
    executions: views,
    totals: {
      executions: views.length,
      tokensIn: views.reduce((s, e) => s + e.tokensIn, 0),
      tokensOut: views.reduce((s, e) => s + e.tokensOut, 0),
      costUsd: sumUsd(views.map((e) => e.costUsd)),
      durationMs: views.reduce((s, e) => s + (e.durationMs ?? 0), 0),
    },
    incident: incident ?? null,
    publications: publications.map((p) => ({
      sink: p.sink,
      status: p.status,
      externalId: p.external_id,
      externalUrl: p.external_url,
      attempts: p.attempts,
      lastError: p.last_error,
      publishedAt: iso(p.published_at),
      updatedAt: iso(p.updated_at)!,
    })),
  };
}

/** A stored delivery with its raw payload, for replay; `undefined` when unknown. */
export async function findDelivery(
  db: Db,
  id: string,
): Promise<(DeliveryView & { failureId: string | null; payload: unknown }) | undefined> {
  const d = await db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  if (!d) return undefined;
  return {
    id: d.id,
    event: d.event,
    action: d.action,
    outcome: d.outcome,
    receivedAt: iso(d.received_at)!,
    recordedAt: iso(d.recorded_at)!,
    failureId: d.failure_id,
    payload: d.payload,
  };
}

/** Filters of {@link spendByDay}; days are UTC `YYYY-MM-DD`, both inclusive. */
export interface SpendFilter {
  since: string;
  until: string;
  repo?: RepoFilter;
}

/** Spend of one repository on one UTC day, from the executions started that day. */
export interface SpendRow {
  day: string;
  owner: string;
  repo: string;
  executions: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

/** A budget scope's ledger on one UTC day (the `spend` table the worker's budgets keep). */
export interface BudgetLedgerRow {
  day: string;
  /** `org` or `repo:<owner>/<repo>`. */
  scope: string;
  /** Settled model spend, USD. */
  spentUsd: number;
  /** Estimates of model calls in flight, USD. */
  reservedUsd: number;
  /** Model calls that reserved in this scope. */
  calls: number;
}

/**
 * Spend by UTC day and repository from `executions` (every runner, including rules at 0 USD),
 * with totals, and the budget ledger (`spend` table, org and repository scopes) of the same days.
 * The ledger only has rows when budgets are configured (`PITCREW_BUDGET_*`).
 */
export async function spendByDay(
  db: Db,
  filter: SpendFilter,
): Promise<{ rows: SpendRow[]; totals: Omit<SpendRow, 'day' | 'owner' | 'repo'>; budgets: BudgetLedgerRow[] }> {
  const repo = repoWhere(filter.repo);
  const repoFailures = repoCondition('failures', filter.repo);
  const day = sql<string>`to_char(executions.started_at at time zone 'UTC', 'YYYY-MM-DD')`;
  let query = db
    .selectFrom('executions')
    .innerJoin('failures', 'failures.id', 'executions.failure_id')
    .select([
      day.as('day'),
      'failures.owner',
      'failures.repo',
      sql<number>`count(*)::int`.as('executions'),
      sql<string>`coalesce(sum(executions.tokens_in), 0)::bigint`.as('tokens_in'),
      sql<string>`coalesce(sum(executions.tokens_out), 0)::bigint`.as('tokens_out'),
      sql<string>`coalesce(sum(executions.cost_usd), 0)`.as('cost_usd'),
    ])
    .where('executions.started_at', '>=', sql<Date>`${filter.since}::date at time zone 'UTC'`)
    .where('executions.started_at', '<', sql<Date>`(${filter.until}::date + 1) at time zone 'UTC'`)
    .groupBy([day, 'failures.owner', 'failures.repo'])
    .orderBy(day)
    .orderBy('failures.owner')
    .orderBy('failures.repo');
  if (repoFailures) query = query.where(repoFailures);
  let ledger = db
    .selectFrom('spend')
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'scope', 'spent_usd', 'reserved_usd', 'calls'])
    .where('day', '>=', filter.since)
    .where('day', '<=', filter.until)
    .orderBy('day')
    .orderBy('scope');
  ledger = repo
    ? ledger.where(repo.owner ? sql<boolean>`scope = ${`repo:${repo.owner}/${repo.repo}`}` : sql<boolean>`scope like ${`repo:%/${repo.repo}`}`)
    : ledger.where((eb) => eb.or([eb('scope', '=', 'org'), eb('scope', 'like', 'repo:%')]));
  const [rows, budgets] = await Promise.all([query.execute(), ledger.execute()]);
  const out = rows.map((r) => ({
    day: r.day,
    owner: r.owner,
    repo: r.repo,
    executions: r.executions,
    tokensIn: Number(r.tokens_in),
    tokensOut: Number(r.tokens_out),
    costUsd: Number(r.cost_usd),
  }));
  return {
    rows: out,
    totals: {
      executions: out.reduce((s, r) => s + r.executions, 0),
      tokensIn: out.reduce((s, r) => s + r.tokensIn, 0),
      tokensOut: out.reduce((s, r) => s + r.tokensOut, 0),
      costUsd: sumUsd(out.map((r) => r.costUsd)),
    },
    budgets: budgets.map((b) => ({
      day: b.day,
      scope: b.scope,
      spentUsd: Number(b.spent_usd),
      reservedUsd: Number(b.reserved_usd),
      calls: b.calls,
    })),
  };
}

/** Filters of {@link listIncidents}. */
export interface IncidentListFilter {
  repo?: RepoFilter;
  /** Only incidents last seen at or after this time. */
  since?: Date;
  /** Rows, 1-500. */
  limit: number;
}

function incidentsQuery(db: Db) {
  return db
    .selectFrom('incidents')
    .select((eb) => [
      'incidents.id',
      'incidents.owner',
      'incidents.repo',
      'incidents.signature',
      'incidents.category',
      'incidents.leader_failure_id',
      'incidents.occurrences',
      'incidents.first_seen_at',
      'incidents.last_seen_at',
      eb
        .selectFrom('failures')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('failures.incident_id', '=', 'incidents.id')
        .as('failures'),
    ]);
}

type IncidentQueryRow = Awaited<ReturnType<ReturnType<typeof incidentsQuery>['execute']>>[number];

function toIncidentView(r: IncidentQueryRow): IncidentView {
  return {
    id: r.id,
    owner: r.owner,
    repo: r.repo,
    signature: r.signature,
    category: r.category,
    leaderFailureId: r.leader_failure_id,
    occurrences: r.occurrences,
    firstSeenAt: iso(r.first_seen_at)!,
    lastSeenAt: iso(r.last_seen_at)!,
    failures: Number(r.failures ?? 0),
  };
}

async function getIncidentView(db: Db, id: string): Promise<IncidentView | undefined> {
  const row = await incidentsQuery(db).where('incidents.id', '=', id).executeTakeFirst();
  return row ? toIncidentView(row) : undefined;
}

/** Incidents, most recently seen first. */
export async function listIncidents(db: Db, filter: IncidentListFilter): Promise<IncidentView[]> {
  const repo = repoCondition('incidents', filter.repo);
  let query = incidentsQuery(db).orderBy('incidents.last_seen_at', 'desc').orderBy('incidents.id', 'desc').limit(filter.limit);
  if (repo) query = query.where(repo);
  if (filter.since) query = query.where(sql<boolean>`incidents.last_seen_at >= ${filter.since}`);
  return (await query.execute()).map(toIncidentView);
}

/** A failure linked to an incident. */
export interface IncidentFailure {
  id: string;
  status: FailureStatus;
  category: string | null;
  runner: string | null;
  jobName: string | null;
  headSha: string;
  receivedAt: string;
  /** True for the failure whose execution serves the incident. */
  leader: boolean;
  summary: string | null;
}

/** One incident with its linked failures (oldest first); `undefined` when unknown. */
export async function getIncident(db: Db, id: string): Promise<(IncidentView & { linked: IncidentFailure[] }) | undefined> {
  const incident = await getIncidentView(db, id);
  if (!incident) return undefined;
  const failures = await db
    .selectFrom('failures')
    .select(['id', 'status', 'category', 'runner', 'job_name', 'head_sha', 'received_at', 'summary'])
    .where('incident_id', '=', id)
    .orderBy('received_at')
    .orderBy('id')
    .execute();
  return {
    ...incident,
    linked: failures.map((f) => ({
      id: f.id,
      status: f.status,
      category: f.category,
      runner: f.runner,
      jobName: outName(f.job_name),
      headSha: f.head_sha,
      receivedAt: iso(f.received_at)!,
      leader: f.id === incident.leaderFailureId,
      summary: outName(f.summary),
    })),
  };
}

/** A name from the payload (job, step, branch: an unnamed step is `Run <its command>` and may hold a token) or a stored text, through the boundary. */
function outName(text: string | null): string | null {
  return text === null ? null : toOutgoing(text, 'admin-api').text;
}
