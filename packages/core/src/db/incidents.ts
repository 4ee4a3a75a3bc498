import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Db, IncidentRow } from './database.ts';
import { linkFailureToIncident } from './failures.ts';

/** Failures with one signature in one repository within this many hours join one incident. */
export const INCIDENT_WINDOW_HOURS = 24;

/**
 * Links a failure to the open incident of its breakage (same repository and signature, last seen
 * within `windowHours`), or opens one with this failure as its leader. Idempotent: a failure
 * already linked returns its incident unchanged. Serialized per (repository, signature) with a
 * transaction-scoped advisory lock, so concurrent failures of one breakage elect one leader.
 *
 * @returns the incident, and whether this failure leads it
 */
export async function joinIncident(
  db: Kysely<Database>,
  link: { failureId: string; owner: string; repo: string; signature: string; category: string; windowHours?: number },
): Promise<{ incident: IncidentRow; leader: boolean }> {
  const windowHours = link.windowHours ?? INCIDENT_WINDOW_HOURS;
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`${link.owner}/${link.repo}/${link.signature}`}, 0))`.execute(trx);
    const linked = await trx
      .selectFrom('failures')
      .innerJoin('incidents', 'incidents.id', 'failures.incident_id')
      .selectAll('incidents')
      .where('failures.id', '=', link.failureId)
      .executeTakeFirst();
    if (linked) return { incident: linked, leader: linked.leader_failure_id === link.failureId };
    const open = await trx
      .selectFrom('incidents')
      .selectAll()
      .where('owner', '=', link.owner)
      .where('repo', '=', link.repo)
      .where('signature', '=', link.signature)
      .where(sql<boolean>`last_seen_at > now() - make_interval(hours => ${windowHours})`)
      .orderBy('last_seen_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    const incident = open
      ? await trx
          .updateTable('incidents')
          .set({ occurrences: sql`occurrences + 1`, last_seen_at: sql`now()` })
          .where('id', '=', open.id)
          .returningAll()
          .executeTakeFirstOrThrow()
      : await trx
          .insertInto('incidents')
          .values({ owner: link.owner, repo: link.repo, signature: link.signature, category: link.category, leader_failure_id: link.failureId })
          .returningAll()
          .executeTakeFirstOrThrow();
    await linkFailureToIncident(trx, link.failureId, { signature: link.signature, incidentId: incident.id });
    return { incident, leader: incident.leader_failure_id === link.failureId };
  });
}

/** One incident by id, or `undefined`. */
export async function findIncident(db: Db, id: string): Promise<IncidentRow | undefined> {
  return db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
}

/** An incident, locked until the end of `trx` (one escalation issue per incident). */
export async function lockIncident(trx: Transaction<Database>, id: string): Promise<IncidentRow | undefined> {
  return trx.selectFrom('incidents').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Records the escalation issue of an incident. */
export async function setIncidentIssue(trx: Transaction<Database>, id: string, issue: { number: number; url: string }): Promise<void> {
  await trx.updateTable('incidents').set({ issue_number: issue.number, issue_url: issue.url }).where('id', '=', id).execute();
}

/** The latest `limit` failures of an incident, newest first: what its escalation issue lists. */
export async function recentOccurrences(db: Db, incidentId: string, limit: number) {
  return db
    .selectFrom('failures')
    .select(['id', 'branch', 'head_sha', 'html_url', 'received_at'])
    .where('incident_id', '=', incidentId)
    .orderBy('received_at', 'desc')
    .orderBy('id')
    .limit(limit)
    .execute();
}
