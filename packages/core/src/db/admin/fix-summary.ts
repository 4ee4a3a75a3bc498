import { sql } from 'kysely';
import { GUARD_RULES } from '../../fix/guard.ts';
import type { Db, FixAttemptStatus } from '../database.ts';
import { sumTokensAndCost } from './executions.ts';
import { FIX_ATTEMPT_STATUSES } from './fixes.ts';
import { repoCondition, type RepoFilter } from './shared.ts';

/** Filters of {@link summarizeFixes}. */
export interface FixSummaryFilter {
  /** Attempts started at or after this time. */
  since: Date;
  /** The failure's repository. */
  repo?: RepoFilter;
  fixer?: string;
}

/** What the fix attempts of a window came to. Tokens as reported, USD. */
export interface FixSummary {
  /** Attempts started in the window, running ones included. */
  attempts: number;
  /** Attempts per status; every status is present (0 when none). */
  byStatus: Record<FixAttemptStatus, number>;
  /** Refused attempts per guard rule: every rule of `GUARD_RULES` (0 when none), and any other rule stored. */
  byGuardRule: Record<string, number>;
  /** Fixes proposed as a pull request (`byStatus.proposed`). */
  proposed: number;
  tokensIn: number;
  tokensOut: number;
  /** USD of every attempt in the window, whatever its end. */
  costUsd: number;
  /** `costUsd / proposed` (what it takes to get one fix proposed, refused and failed attempts included), USD; `null` when none was proposed. */
  usdPerProposedFix: number | null;
}

/** `fix_attempts` of the window and filters, joined with their failure for the repository. */
function windowQuery(db: Db, filter: FixSummaryFilter) {
  const repo = repoCondition('failures', filter.repo);
  let query = db
    .selectFrom('fix_attempts')
    .innerJoin('failures', 'failures.id', 'fix_attempts.failure_id')
    // started_at is Generated<Timestamp>, which Kysely does not compare with a Date.
    .where(sql<boolean>`fix_attempts.started_at >= ${filter.since}`);
  if (repo) query = query.where(repo);
  if (filter.fixer) query = query.where('fix_attempts.fixer', '=', filter.fixer);
  return query;
}

/**
 * Counts by status and by guard rule, tokens and USD of the fix attempts started since
 * `filter.since` (optionally of one repository or fixer), and USD per proposed fix. Two grouped
 * queries; USD is summed in micro-USD so it does not drift.
 */
export async function summarizeFixes(db: Db, filter: FixSummaryFilter): Promise<FixSummary> {
  const [statuses, rules] = await Promise.all([
    windowQuery(db, filter)
      .select([
        'fix_attempts.status',
        sql<number>`count(*)::int`.as('attempts'),
        sql<string>`coalesce(sum(fix_attempts.tokens_in), 0)::bigint`.as('tokens_in'),
        sql<string>`coalesce(sum(fix_attempts.tokens_out), 0)::bigint`.as('tokens_out'),
        sql<string>`coalesce(sum(fix_attempts.cost_usd), 0)`.as('cost_usd'),
      ])
      .groupBy('fix_attempts.status')
      .execute(),
    windowQuery(db, filter)
      .select(['fix_attempts.guard_rule', sql<number>`count(*)::int`.as('attempts')])
      .where('fix_attempts.status', '=', 'refused')
      .where('fix_attempts.guard_rule', 'is not', null)
      .groupBy('fix_attempts.guard_rule')
      .orderBy('fix_attempts.guard_rule')
      .execute(),
  ]);
  const byStatus = Object.fromEntries(FIX_ATTEMPT_STATUSES.map((s) => [s, 0])) as Record<FixAttemptStatus, number>;
  for (const r of statuses) byStatus[r.status] = r.attempts;
  const byGuardRule: Record<string, number> = Object.fromEntries(GUARD_RULES.map((rule) => [rule, 0]));
  for (const r of rules) byGuardRule[r.guard_rule!] = r.attempts;
  const sums = sumTokensAndCost(statuses.map((r) => ({ tokensIn: Number(r.tokens_in), tokensOut: Number(r.tokens_out), costUsd: Number(r.cost_usd) })));
  const proposed = byStatus.proposed;
  return {
    attempts: statuses.reduce((n, r) => n + r.attempts, 0),
    byStatus,
    byGuardRule,
    proposed,
    ...sums,
    usdPerProposedFix: proposed > 0 ? Math.round((sums.costUsd / proposed) * 1e6) / 1e6 : null,
  };
}
