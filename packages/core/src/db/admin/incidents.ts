import { sql } from 'kysely';
import type { FailureRow, FailureStatus } from '../database.ts';
import type { Db } from '../database.ts';
import { BadCursorError, cursorTime, decodeCursor, iso, keysetPage, outText, repoCondition, type RepoFilter } from './shared.ts';

/** An incident, without its failures. */
export interface IncidentView {
  id: string;
  owner: string;
  repo: string;
  signature: string;
  category: string;
  leaderFailureId: string;
  occurrences: number;
  /** ISO 8601. */
  firstSeenAt: string;
  /** ISO 8601. */
  lastSeenAt: string;
  /** Failures linked to it now. */
  failures: number;
}

/** Filters of {@link listIncidents}. */
export interface IncidentListFilter {
  repo?: RepoFilter;
  /** Only incidents last seen at or after this time. */
  since?: Date;
  /** Rows, 1-500. */
  limit: number;
  /** `nextCursor` of the page before. */
  cursor?: string;
}

/** A failure linked to an incident. */
export interface IncidentFailure {
  id: string;
  status: FailureStatus;
  category: string | null;
  runner: string | null;
  jobName: string | null;
  headSha: string;
  /** ISO 8601. */
  receivedAt: string;
  /** True for the failure whose execution serves the incident. */
  leader: boolean;
  summary: string | null;
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

/** One incident without its failures; `undefined` when unknown. */
export async function getIncidentView(db: Db, id: string): Promise<IncidentView | undefined> {
  const row = await incidentsQuery(db).where('incidents.id', '=', id).executeTakeFirst();
  return row ? toIncidentView(row) : undefined;
}

/** Cursor ids of this list carry a prefix, so a cursor of another list is refused. */
const CURSOR_ID_PREFIX = 'incident:';

/**
 * Incidents, most recently seen first. Keyset pagination on (`last_seen_at`, id) descending, as
 * `listFailures`: pass `nextCursor` back as `cursor`; it is `null` on the last page. The list moves:
 * an incident seen again while a reader pages moves to the first page, ahead of the cursor, so
 * that walk does not show it (again).
 *
 * @throws {BadCursorError} when `cursor` is not one this function produced
 */
export async function listIncidents(db: Db, filter: IncidentListFilter): Promise<{ items: IncidentView[]; nextCursor: string | null }> {
  const repo = repoCondition('incidents', filter.repo);
  let query = incidentsQuery(db)
    .select(cursorTime('incidents.last_seen_at').as('cursor_time'))
    .orderBy('incidents.last_seen_at', 'desc')
    .orderBy('incidents.id', 'desc')
    .limit(filter.limit + 1);
  if (repo) query = query.where(repo);
  if (filter.since) query = query.where(sql<boolean>`incidents.last_seen_at >= ${filter.since}`);
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    const id = c.id.slice(CURSOR_ID_PREFIX.length);
    if (!c.id.startsWith(CURSOR_ID_PREFIX) || !/^\d{1,19}$/.test(id)) throw new BadCursorError(filter.cursor);
    query = query.where(sql<boolean>`(incidents.last_seen_at, incidents.id) < (${c.time}::timestamptz, ${id}::bigint)`);
  }
  return keysetPage(await query.execute(), filter.limit, toIncidentView, (r) => `${CURSOR_ID_PREFIX}${r.id}`);
}

const INCIDENT_FAILURE_COLUMNS = ['id', 'status', 'category', 'runner', 'job_name', 'head_sha', 'received_at', 'summary'] as const;

/** A linked failure; its job name and summary pass the outgoing boundary. */
function toIncidentFailure(f: Pick<FailureRow, (typeof INCIDENT_FAILURE_COLUMNS)[number]>, leaderFailureId: string): IncidentFailure {
  return {
    id: f.id,
    status: f.status,
    category: f.category,
    runner: f.runner,
    jobName: outText(f.job_name),
    headSha: f.head_sha,
    receivedAt: iso(f.received_at)!,
    leader: f.id === leaderFailureId,
    summary: outText(f.summary),
  };
}

/** One incident with its linked failures (oldest first); `undefined` when unknown. */
export async function getIncident(db: Db, id: string): Promise<(IncidentView & { linked: IncidentFailure[] }) | undefined> {
  const incident = await getIncidentView(db, id);
  if (!incident) return undefined;
  const failures = await db
    .selectFrom('failures')
    .select(INCIDENT_FAILURE_COLUMNS)
    .where('incident_id', '=', id)
    .orderBy('received_at')
    .orderBy('id')
    .execute();
  return { ...incident, linked: failures.map((f) => toIncidentFailure(f, incident.leaderFailureId)) };
}
