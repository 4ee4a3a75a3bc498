import { sql, type Kysely } from 'kysely';
import type { Database } from '@pitcrew/core';

/** Limits in USD per UTC day (org, each repository) and per failure (all attempts); 0 = no limit. */
export interface BudgetLimits {
  orgDailyUsd: number;
  repoDailyUsd: number;
  failureUsd: number;
}

/** Thrown when a model call would exceed a budget; the caller triages by rules instead. */
export class BudgetExceededError extends Error {
  constructor(readonly scope: string, readonly limitUsd: number, readonly wouldSpendUsd: number) {
    super(`budget ${scope} of ${limitUsd} USD would be exceeded (${wouldSpendUsd.toFixed(6)} USD with this call)`);
    this.name = 'BudgetExceededError';
  }
}

/** A reservation for one model call, to settle with the actual cost or release. */
export interface Reservation {
  settle(actualUsd: number): Promise<void>;
  release(): Promise<void>;
}

/** Spend control shared by every worker host through Postgres. */
export interface Budget {
  /**
   * Reserves `estimateUsd` in every scope of the call, atomically per scope; a scope that would
   * exceed its limit refuses and the reservations already made are released.
   * @throws {BudgetExceededError}
   */
  reserve(scope: { owner: string; repo: string; failureId: string }, estimateUsd: number): Promise<Reservation>;
}

/** Today in UTC as `YYYY-MM-DD`: budgets reset at UTC midnight. */
export function utcDay(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/**
 * Postgres-backed budgets. Each check is one `INSERT … ON CONFLICT DO UPDATE … WHERE spent +
 * reserved + estimate <= limit`, so concurrent calls from any number of processes cannot pass a
 * limit together: at most the calls in flight when the limit is reached overspend it, each by
 * the difference between its estimate and its actual cost ("no overspend beyond one call").
 * Per-failure spend is kept on a fixed day (`1970-01-01`) so it covers all attempts across days.
 */
export function createBudget(db: Kysely<Database>, limits: BudgetLimits): Budget {
  const scopes = (s: { owner: string; repo: string; failureId: string }) =>
    [
      { key: 'org', day: utcDay(), limit: limits.orgDailyUsd },
      { key: `repo:${s.owner}/${s.repo}`, day: utcDay(), limit: limits.repoDailyUsd },
      { key: `failure:${s.failureId}`, day: '1970-01-01', limit: limits.failureUsd },
    ] as const;

  async function adjust(day: string, scope: string, deltaSpent: number, deltaReserved: number) {
    await db
      .updateTable('spend')
      .set({
        spent_usd: sql`spent_usd + ${deltaSpent}`,
        reserved_usd: sql`greatest(reserved_usd + ${deltaReserved}, 0)`,
      })
      .where('day', '=', day)
      .where('scope', '=', scope)
      .execute();
  }

  return {
    async reserve(scope, estimateUsd) {
      const taken: { day: string; key: string }[] = [];
      const refuse = async (key: string, day: string, limit: number) => {
        for (const t of taken) await adjust(t.day, t.key, 0, -estimateUsd);
        const current = await db
          .selectFrom('spend')
          .select(['spent_usd', 'reserved_usd'])
          .where('day', '=', day)
          .where('scope', '=', key)
          .executeTakeFirst();
        return new BudgetExceededError(key, limit, Number(current?.spent_usd ?? 0) + Number(current?.reserved_usd ?? 0) + estimateUsd);
      };
      for (const { key, day, limit } of scopes(scope)) {
        const unlimited = limit <= 0;
        // The upsert's WHERE guards existing rows; a first call of the day is checked here.
        if (!unlimited && estimateUsd > limit) throw await refuse(key, day, limit);
        const row = await db
          .insertInto('spend')
          .values({ day, scope: key, spent_usd: 0, reserved_usd: estimateUsd, calls: 1 })
          .onConflict((oc) =>
            oc
              .columns(['day', 'scope'])
              .doUpdateSet({
                reserved_usd: sql`spend.reserved_usd + ${estimateUsd}`,
                calls: sql`spend.calls + 1`,
              })
              .where(sql<boolean>`${unlimited} or spend.spent_usd + spend.reserved_usd + ${estimateUsd} <= ${limit}`),
          )
          .returning(['spent_usd'])
          .executeTakeFirst();
        if (!row) throw await refuse(key, day, limit);
        taken.push({ day, key });
      }
      let done = false;
      return {
        async settle(actualUsd) {
          if (done) return;
          done = true;
          for (const t of taken) await adjust(t.day, t.key, actualUsd, -estimateUsd);
        },
        async release() {
          if (done) return;
          done = true;
          for (const t of taken) await adjust(t.day, t.key, 0, -estimateUsd);
        },
      };
    },
  };
}
