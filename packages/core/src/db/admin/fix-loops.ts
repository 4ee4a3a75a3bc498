import { sql } from 'kysely';
import type { Db, FixAttemptStatus, FixLoopRow, FixLoopsView } from '../database.ts';
import { listFixAttemptViews, type FixAttemptView } from './fixes.ts';
import { BadCursorError, cursorTime, decodeCursor, iso, keysetPage, outText, repoCondition, type RepoFilter } from './shared.ts';

/** A loop's status in the `fix_loops` view. */
export type FixLoopStatus = FixLoopsView['status'];

/** Every `fix_loops.status`: `open` while an iteration runs or awaits CI, then how the loop ended. Filters and summaries list them all. */
export const FIX_LOOP_STATUSES = ['open', 'verified_by_ci', 'escalated', 'merged', 'closed', 'ended'] as const satisfies readonly FixLoopStatus[];

/**
 * The model of a loop's fix executions: the latest `executions` row of stage `fix` with a model,
 * among the loop's failure and the CI failures on its fix branch (`failures.fix_loop_id`); `null`
 * when none had one (the rules fixer). An expression over the `fix_loops` row of the query.
 */
export function fixLoopModel() {
  return sql<string | null>`(
    select e.model from executions e
    where e.stage = 'fix' and e.model is not null
      and (e.failure_id = fix_loops.loop_id or e.failure_id in (select lf.id from failures lf where lf.fix_loop_id = fix_loops.loop_id))
    order by e.started_at desc, e.id desc
    limit 1
  )`;
}

/**
 * One fix loop (every iteration of one failure's fix) as the admin API shows it, from the
 * `fix_loops` view. Tokens summed as reported, USD summed, times ISO 8601.
 */
export interface FixLoopView {
  /** The loop's id: the id of the failure it fixes (its branch is `pitcrew/fix/<id>`). */
  id: string;
  owner: string;
  repo: string;
  category: string | null;
  /** `open`, or how it ended: `verified_by_ci` (CI passed, the PR not merged or closed yet), `escalated`, `merged`, `closed`, `ended` (refused, verification failed, not attempted). */
  status: FixLoopStatus;
  /** Iterations made, ≥ 1. */
  iterations: number;
  /** The latest iteration's fixer (`rules`, `agent`). */
  fixer: string;
  /** The model of its fix executions ({@link fixLoopModel}); `null` for the rules fixer. */
  model: string | null;
  /** The latest iteration's `fix_attempts.status`. */
  lastStatus: FixAttemptStatus;
  /** Why it escalated (`fixer`, `iterations`, `budget`), from the latest iteration. */
  escalation: string | null;
  /** Whether CI passed on one of its fix commits, whatever came after. */
  verifiedByCi: boolean;
  /** The pull request's end (`merged`, `closed`), `null` while it is open or there is none. */
  outcome: string | null;
  /** Who merged it (login). */
  mergedBy: string | null;
  outcomeAt: string | null;
  /** The fix branch. */
  branch: string | null;
  pr: { number: number | null; url: string | null };
  tokensIn: number;
  tokensOut: number;
  /** USD of every iteration. */
  costUsd: number;
  /** When its first iteration started. */
  startedAt: string;
  /** When its latest iteration finished; `null` while one runs. */
  finishedAt: string | null;
  /** When its first pull request was proposed. */
  proposedAt: string | null;
}

/** A loop with its iterations ({@link getFixLoop}). */
export interface FixLoopDetail extends FixLoopView {
  /** Its fix attempts, first iteration first, each with its verification output and CI verdict. */
  attempts: FixAttemptView[];
}

/** Filters of {@link listFixLoops}. */
export interface FixLoopListFilter {
  status?: FixLoopStatus;
  /** The latest iteration's fixer. */
  fixer?: string;
  repo?: RepoFilter;
  /** Only loops started at or after this time. */
  since?: Date;
  /** Rows per page, 1-500. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** Loops with their model and their start as a cursor's time. */
function loopsQuery(db: Db) {
  return db.selectFrom('fix_loops').selectAll().select([fixLoopModel().as('model'), cursorTime('fix_loops.started_at').as('cursor_time')]);
}

/** A `fix_loops` row (with its model) as the admin API shows it. */
function toFixLoopView(r: FixLoopRow & { model: string | null }): FixLoopView {
  return {
    id: r.loop_id,
    owner: r.owner,
    repo: r.repo,
    category: r.category,
    status: r.status,
    iterations: r.iterations,
    fixer: r.fixer,
    model: r.model,
    lastStatus: r.last_status,
    escalation: r.escalation,
    verifiedByCi: r.verified_by_ci === true,
    outcome: r.outcome,
    mergedBy: r.merged_by,
    outcomeAt: iso(r.outcome_at),
    branch: outText(r.branch),
    pr: { number: r.pr_number, url: r.pr_url },
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    costUsd: Number(r.cost_usd),
    startedAt: iso(r.started_at)!,
    finishedAt: iso(r.finished_at),
    proposedAt: iso(r.proposed_at),
  };
}

/** Cursor ids of this list carry a prefix, so a cursor of `/failures` (whose ids are failure ids too) is refused. */
const CURSOR_ID_PREFIX = 'loop:';

/**
 * Fix loops, newest started first. Keyset pagination on (`started_at`, loop id) descending, like
 * `listFixes`: pass `nextCursor` back as `cursor`; it is `null` on the last page. The view
 * aggregates every attempt, so filters on `status`, `fixer` and `since` apply after grouping.
 *
 * @throws {BadCursorError} when `cursor` is not one this function produced
 */
export async function listFixLoops(db: Db, filter: FixLoopListFilter): Promise<{ items: FixLoopView[]; nextCursor: string | null }> {
  const repo = repoCondition('fix_loops', filter.repo);
  let query = loopsQuery(db).orderBy('fix_loops.started_at', 'desc').orderBy('fix_loops.loop_id', 'desc').limit(filter.limit + 1);
  if (repo) query = query.where(repo);
  if (filter.status) query = query.where('fix_loops.status', '=', filter.status);
  if (filter.fixer) query = query.where('fix_loops.fixer', '=', filter.fixer);
  if (filter.since) query = query.where(sql<boolean>`fix_loops.started_at >= ${filter.since}`);
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    if (!c.id.startsWith(CURSOR_ID_PREFIX)) throw new BadCursorError(filter.cursor);
    query = query.where(sql<boolean>`(fix_loops.started_at, fix_loops.loop_id) < (${c.time}::timestamptz, ${c.id.slice(CURSOR_ID_PREFIX.length)})`);
  }
  return keysetPage(await query.execute(), filter.limit, toFixLoopView, (r) => `${CURSOR_ID_PREFIX}${r.loop_id}`);
}

/** One loop with its iterations (verification output, CI verdicts, pull request); `undefined` when unknown. */
export async function getFixLoop(db: Db, id: string): Promise<FixLoopDetail | undefined> {
  const row = await loopsQuery(db).where('fix_loops.loop_id', '=', id).executeTakeFirst();
  return row ? { ...toFixLoopView(row), attempts: await listFixAttemptViews(db, id) } : undefined;
}
