import { sql, type Kysely } from 'kysely';
import type { Database, IncidentRow } from './database.ts';

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
    await trx
      .updateTable('failures')
      .set({ signature: link.signature, incident_id: incident.id, updated_at: sql`now()` })
      .where('id', '=', link.failureId)
      .execute();
    return { incident, leader: incident.leader_failure_id === link.failureId };
  });
}
