import { sql } from 'kysely';
import type { Db } from './database.ts';

/**
 * The `spend` table: USD spent and reserved per (UTC day, scope), where a scope is `org`,
 * `repo:<owner>/<repo>` or `failure:<id>` (kept on day `1970-01-01`, so it spans days). The
 * worker's budget guard is its only writer.
 */

/**
 * Reserves `estimateUsd` in one scope, in one statement: `INSERT … ON CONFLICT DO UPDATE … WHERE
 * spent + reserved + estimate <= limit`, so concurrent reservations from any number of processes
 * cannot pass the limit together. A first reservation of the day is checked against the limit by
 * the caller (the upsert's WHERE guards existing rows only).
 *
 * @param limitUsd 0 or less = no limit
 * @returns whether the reservation was taken
 */
export async function reserveSpend(db: Db, key: { day: string; scope: string }, estimateUsd: number, limitUsd: number): Promise<boolean> {
  const unlimited = limitUsd <= 0;
  const row = await db
    .insertInto('spend')
    .values({ day: key.day, scope: key.scope, spent_usd: 0, reserved_usd: estimateUsd, calls: 1 })
    .onConflict((oc) =>
      oc
        .columns(['day', 'scope'])
        .doUpdateSet({ reserved_usd: sql`spend.reserved_usd + ${estimateUsd}`, calls: sql`spend.calls + 1` })
        .where(sql<boolean>`${unlimited} or spend.spent_usd + spend.reserved_usd + ${estimateUsd} <= ${limitUsd}`),
    )
    .returning(['spent_usd'])
    .executeTakeFirst();
  return row !== undefined;
}

/** Moves USD between reserved and spent in one scope: settle (`+actual`, `-estimate`) or release (`0`, `-estimate`). */
export async function adjustSpend(db: Db, key: { day: string; scope: string }, deltaSpentUsd: number, deltaReservedUsd: number): Promise<void> {
  await db
    .updateTable('spend')
    .set({ spent_usd: sql`spent_usd + ${deltaSpentUsd}`, reserved_usd: sql`greatest(reserved_usd + ${deltaReservedUsd}, 0)` })
    .where('day', '=', key.day)
    .where('scope', '=', key.scope)
    .execute();
}

/** USD spent plus reserved in one scope (0 when it has no row). */
export async function committedSpend(db: Db, key: { day: string; scope: string }): Promise<number> {
  const row = await db.selectFrom('spend').select(['spent_usd', 'reserved_usd']).where('day', '=', key.day).where('scope', '=', key.scope).executeTakeFirst();
  return Number(row?.spent_usd ?? 0) + Number(row?.reserved_usd ?? 0);
}
