import { sql } from 'kysely';
import { toOutgoingJson } from '../../outgoing.ts';
import type { ExecutionRow } from '../database.ts';
import type { Db } from '../database.ts';
import { iso, outText } from './shared.ts';

/** Executions counted, tokens and USD summed over a group of executions. */
export interface ExecutionSums {
  /** Executions counted, of every stage and attempt. */
  executions: number;
  tokensIn: number;
  tokensOut: number;
  /** USD. */
  costUsd: number;
}

/** One execution of one stage, as the admin API shows it. */
export interface ExecutionView {
  id: string;
  stage: string;
  attempt: number;
  runner: string;
  model: string | null;
  status: string;
  /** ISO 8601. */
  startedAt: string;
  /** ISO 8601; `null` while running. */
  finishedAt: string | null;
  /** Wall time, ms. */
  durationMs: number | null;
  tokensIn: number;
  tokensOut: number;
  /** USD. */
  costUsd: number;
  error: string | null;
  /** The stage's stored output (classification, runner markdown, summary). */
  output: unknown;
}

/** Sums over a failure's executions. */
export interface ExecutionTotals extends ExecutionSums {
  /** Sum of execution wall times, ms. */
  durationMs: number;
}

/** An `executions` row as the admin API shows it; its error and output pass the outgoing boundary. */
function toExecutionView(e: ExecutionRow): ExecutionView {
  return {
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
    error: outText(e.error),
    output: toOutgoingJson(e.output, 'admin-api'),
  };
}

/** A failure's executions of every stage and attempt, oldest first. */
export async function listExecutionViews(db: Db, failureId: string): Promise<ExecutionView[]> {
  const rows = await db.selectFrom('executions').selectAll().where('failure_id', '=', failureId).orderBy('started_at').orderBy('id').execute();
  return rows.map(toExecutionView);
}

/** {@link ExecutionTotals} of a failure's executions. */
export function totalExecutions(views: ExecutionView[]): ExecutionTotals {
  return {
    executions: views.length,
    ...sumTokensAndCost(views),
    durationMs: views.reduce((sum, e) => sum + (e.durationMs ?? 0), 0),
  };
}

/**
 * Select expressions of {@link ExecutionSums} over the `executions` rows of a query or group:
 * `executions` (int), `tokens_in` and `tokens_out` (bigint, as text), `cost_usd` (numeric USD, as text);
 * 0 for no rows. Read them back with {@link toExecutionSums}.
 */
export function selectExecutionSums() {
  return [
    sql<number>`count(*)::int`.as('executions'),
    sql<string>`coalesce(sum(executions.tokens_in), 0)::bigint`.as('tokens_in'),
    sql<string>`coalesce(sum(executions.tokens_out), 0)::bigint`.as('tokens_out'),
    sql<string>`coalesce(sum(executions.cost_usd), 0)`.as('cost_usd'),
  ] as const;
}

/** The columns {@link selectExecutionSums} selects; `null` where a left join found no row. */
export interface ExecutionSumsRow {
  executions: number | null;
  tokens_in: string | null;
  tokens_out: string | null;
  cost_usd: string | null;
}

/** The columns of {@link selectExecutionSums} as numbers; `null` is 0. */
export function toExecutionSums(r: ExecutionSumsRow): ExecutionSums {
  return {
    executions: Number(r.executions ?? 0),
    tokensIn: Number(r.tokens_in ?? 0),
    tokensOut: Number(r.tokens_out ?? 0),
    costUsd: Number(r.cost_usd ?? 0),
  };
}

/** A sum of USD amounts in micro-USD (the columns' scale is 6), so floating point does not drift. */
function sumUsd(amounts: number[]): number {
  return amounts.reduce((sum, usd) => sum + Math.round(usd * 1e6), 0) / 1e6;
}

/** Tokens and USD of several rows added up: tokens as integers, USD summed in micro-USD. */
export function sumTokensAndCost(rows: Omit<ExecutionSums, 'executions'>[]): Omit<ExecutionSums, 'executions'> {
  return {
    tokensIn: rows.reduce((sum, r) => sum + r.tokensIn, 0),
    tokensOut: rows.reduce((sum, r) => sum + r.tokensOut, 0),
    costUsd: sumUsd(rows.map((r) => r.costUsd)),
  };
}
