import { sql } from 'kysely';
import type { Db } from '../database.ts';
import { sumTokensAndCost } from './executions.ts';
import { fixLoopModel } from './fix-loops.ts';
import type { FixSummaryFilter } from './fix-summary.ts';
import { repoCondition } from './shared.ts';

/**
 * What a set of fix loops came to. Each loop counts once, under its status; the rates are `null`
 * when their denominator is 0. USD, iterations as counted by the `fix_loops` view.
 */
export interface FixLoopFigures {
  /** Loops started in the window, open ones included. */
  loops: number;
  /** Loops by status (they add up to `loops`). */
  open: number;
  /** CI passed on a fix commit and the pull request is neither merged nor closed yet. */
  verifiedByCi: number;
  escalated: number;
  merged: number;
  closed: number;
  /** Ended without a pull request's outcome or CI's pass: refused, verification failed, not attempted. */
  ended: number;
  /** Loops CI passed on, whatever came after (merged and closed ones too). */
  ciPassed: number;
  /** Iterations of every loop. */
  iterations: number;
  /** USD of every loop, whatever its end. */
  costUsd: number;
  /** `merged / (merged + closed)`: of the pull requests a human decided on, the share merged; `null` when none was decided. */
  mergeRate: number | null;
  /** `iterations / merged`: iterations of every loop (closed, escalated and open ones too) per merged fix; `null` when none merged. */
  iterationsPerMergedFix: number | null;
  /** `costUsd / merged`: USD of every loop per merged fix, USD; `null` when none merged. */
  usdPerMergedFix: number | null;
}

/** {@link FixLoopFigures} of the loops of one fixer, model and category. */
export interface FixLoopGroup extends FixLoopFigures {
  /** The latest iteration's fixer. */
  fixer: string;
  /** The model of the loop's fix executions (`fixLoopModel`); `null` for the rules fixer. */
  model: string | null;
  category: string | null;
}

/** The loops of a window ({@link summarizeFixLoops}): all of them, and one group per fixer, model and category. */
export interface FixLoopSummary {
  total: FixLoopFigures;
  /** Ordered by fixer, model, category (`null` last). */
  groups: FixLoopGroup[];
}

/** Counts of one group or of all, before the rates. */
type Counts = Omit<FixLoopFigures, 'mergeRate' | 'iterationsPerMergedFix' | 'usdPerMergedFix'>;

/** A ratio rounded to 6 decimals (USD's scale), `null` over 0. */
const ratio = (numerator: number, denominator: number) => (denominator > 0 ? Math.round((numerator / denominator) * 1e6) / 1e6 : null);

/** Counts with their merge rate, iterations per merged fix and USD per merged fix. */
function withRates(c: Counts): FixLoopFigures {
  return { ...c, mergeRate: ratio(c.merged, c.merged + c.closed), iterationsPerMergedFix: ratio(c.iterations, c.merged), usdPerMergedFix: ratio(c.costUsd, c.merged) };
}

const COUNT_KEYS = ['loops', 'open', 'verifiedByCi', 'escalated', 'merged', 'closed', 'ended', 'ciPassed', 'iterations'] as const;

/**
 * The fix loops started since `filter.since` (optionally of one repository, or whose latest
 * iteration's fixer is `filter.fixer`): counts by status, loops CI passed, iterations, USD, the
 * merge rate, iterations and USD per merged fix, in total and per fixer, model and category. One
 * grouped query over the `fix_loops` view; USD is summed in micro-USD so it does not drift.
 */
export async function summarizeFixLoops(db: Db, filter: FixSummaryFilter): Promise<FixLoopSummary> {
  const repo = repoCondition('fix_loops', filter.repo);
  let loops = db
    .selectFrom('fix_loops')
    .select(['fix_loops.fixer', 'fix_loops.category', 'fix_loops.status', 'fix_loops.verified_by_ci', 'fix_loops.iterations', 'fix_loops.cost_usd', fixLoopModel().as('model')])
    .where(sql<boolean>`fix_loops.started_at >= ${filter.since}`);
  if (repo) loops = loops.where(repo);
  if (filter.fixer) loops = loops.where('fix_loops.fixer', '=', filter.fixer);
  const status = (s: string) => sql<number>`(count(*) filter (where l.status = ${s}))::int`;
  const rows = await db
    .selectFrom(loops.as('l'))
    .select([
      'l.fixer',
      'l.model',
      'l.category',
      sql<number>`count(*)::int`.as('loops'),
      status('open').as('open'),
      status('verified_by_ci').as('verifiedByCi'),
      status('escalated').as('escalated'),
      status('merged').as('merged'),
      status('closed').as('closed'),
      status('ended').as('ended'),
      sql<number>`(count(*) filter (where l.verified_by_ci))::int`.as('ciPassed'),
      sql<number>`coalesce(sum(l.iterations), 0)::int`.as('iterations'),
      sql<string>`coalesce(sum(l.cost_usd), 0)`.as('cost_usd'),
    ])
    .groupBy(['l.fixer', 'l.model', 'l.category'])
    .orderBy('l.fixer')
    .orderBy(sql`l.model nulls last`)
    .orderBy(sql`l.category nulls last`)
    .execute();
  const groups = rows.map(({ cost_usd, ...r }) => ({ ...r, costUsd: Number(cost_usd) }));
  const total = Object.fromEntries(COUNT_KEYS.map((k) => [k, groups.reduce((n, g) => n + g[k], 0)])) as Omit<Counts, 'costUsd'>;
  const { costUsd } = sumTokensAndCost(groups.map((g) => ({ tokensIn: 0, tokensOut: 0, costUsd: g.costUsd })));
  return {
    total: withRates({ ...total, costUsd }),
    groups: groups.map((g) => ({ fixer: g.fixer, model: g.model, category: g.category, ...withRates(g) })),
  };
}
