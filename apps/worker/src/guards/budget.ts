import type { Kysely } from 'kysely';
import { adjustSpend, committedSpend, reserveSpend, type Database } from '@pitcrew/core';
import { BudgetExceededError } from '../errors.ts';

/** Limits in USD per UTC day (org, each repository) and per failure (all attempts); 0 = no limit. */
export interface BudgetLimits {
  orgDailyUsd: number;
  repoDailyUsd: number;
  failureUsd: number;
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
 * Postgres-backed budgets. Each check is one `reserveSpend` (`INSERT … ON CONFLICT DO UPDATE …
 * WHERE spent + reserved + estimate <= limit`), so concurrent calls from any number of processes cannot pass a
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

  return {
    async reserve(scope, estimateUsd) {
      const taken: { day: string; scope: string }[] = [];
      const refuse = async (key: { day: string; scope: string }, limit: number) => {
        for (const t of taken) await adjustSpend(db, t, 0, -estimateUsd);
        return new BudgetExceededError(key.scope, limit, (await committedSpend(db, key)) + estimateUsd);
      };
      for (const { key, day, limit } of scopes(scope)) {
        const at = { day, scope: key };
        // The upsert's WHERE guards existing rows; a first call of the day is checked here.
        if (limit > 0 && estimateUsd > limit) throw await refuse(at, limit);
        if (!(await reserveSpend(db, at, estimateUsd, limit))) throw await refuse(at, limit);
        taken.push(at);
      }
      let done = false;
      return {
        async settle(actualUsd) {
          if (done) return;
          done = true;
          for (const t of taken) await adjustSpend(db, t, actualUsd, -estimateUsd);
        },
        async release() {
          if (done) return;
          done = true;
          for (const t of taken) await adjustSpend(db, t, 0, -estimateUsd);
        },
      };
    },
  };
}
