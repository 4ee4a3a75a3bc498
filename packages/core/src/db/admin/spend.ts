import { sql } from 'kysely';
import type { Db } from '../database.ts';
import { selectExecutionSums, sumTokensAndCost, toExecutionSums, type ExecutionSums, type ExecutionSumsRow } from './executions.ts';
import { repoCondition, repoWhere, type RepoFilter } from './shared.ts';

/** Filters of {@link spendByDay}; days are UTC `YYYY-MM-DD`, both inclusive. */
export interface SpendFilter {
  since: string;
  until: string;
  repo?: RepoFilter;
}

/** Spend of one repository on one UTC day, from the executions started that day. */
export interface SpendRow extends ExecutionSums {
  /** UTC `YYYY-MM-DD`. */
  day: string;
  owner: string;
  repo: string;
}

/** A budget scope's ledger on one UTC day (the `spend` table the worker's budgets keep). */
export interface BudgetLedgerRow {
  /** UTC `YYYY-MM-DD`. */
  day: string;
  /** `org` or `repo:<owner>/<repo>`. */
  scope: string;
  /** Settled model spend, USD. */
  spentUsd: number;
  /** Estimates of model calls in flight, USD. */
  reservedUsd: number;
  /** Model calls that reserved in this scope. */
  calls: number;
}

type SpendQueryRow = { day: string; owner: string; repo: string } & ExecutionSumsRow;

function toSpendRow(r: SpendQueryRow): SpendRow {
  return { day: r.day, owner: r.owner, repo: r.repo, ...toExecutionSums(r) };
}

function toBudgetLedgerRow(b: { day: string; scope: string; spent_usd: string; reserved_usd: string; calls: number }): BudgetLedgerRow {
  return { day: b.day, scope: b.scope, spentUsd: Number(b.spent_usd), reservedUsd: Number(b.reserved_usd), calls: b.calls };
}

/**
 * Spend by UTC day and repository from `executions` (every runner, including rules at 0 USD),
 * with totals, and the budget ledger (`spend` table, org and repository scopes) of the same days.
 * The ledger only has rows when budgets are configured (`PITCREW_BUDGET_*`).
 */
export async function spendByDay(
  db: Db,
  filter: SpendFilter,
): Promise<{ rows: SpendRow[]; totals: Omit<SpendRow, 'day' | 'owner' | 'repo'>; budgets: BudgetLedgerRow[] }> {
  const repo = repoWhere(filter.repo);
  const repoFailures = repoCondition('failures', filter.repo);
  const day = sql<string>`to_char(executions.started_at at time zone 'UTC', 'YYYY-MM-DD')`;
  let query = db
    .selectFrom('executions')
    .innerJoin('failures', 'failures.id', 'executions.failure_id')
    .select([day.as('day'), 'failures.owner', 'failures.repo', ...selectExecutionSums()])
    .where('executions.started_at', '>=', sql<Date>`${filter.since}::date at time zone 'UTC'`)
    .where('executions.started_at', '<', sql<Date>`(${filter.until}::date + 1) at time zone 'UTC'`)
    .groupBy([day, 'failures.owner', 'failures.repo'])
    .orderBy(day)
    .orderBy('failures.owner')
    .orderBy('failures.repo');
  if (repoFailures) query = query.where(repoFailures);
  let ledger = db
    .selectFrom('spend')
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'scope', 'spent_usd', 'reserved_usd', 'calls'])
    .where('day', '>=', filter.since)
    .where('day', '<=', filter.until)
    .orderBy('day')
    .orderBy('scope');
  ledger = repo
    ? ledger.where(repo.owner ? sql<boolean>`scope = ${`repo:${repo.owner}/${repo.repo}`}` : sql<boolean>`scope like ${`repo:%/${repo.repo}`}`)
    : ledger.where((eb) => eb.or([eb('scope', '=', 'org'), eb('scope', 'like', 'repo:%')]));
  const [rows, budgets] = await Promise.all([query.execute(), ledger.execute()]);
  const out = rows.map(toSpendRow);
  return {
    rows: out,
    totals: { executions: out.reduce((sum, r) => sum + r.executions, 0), ...sumTokensAndCost(out) },
    budgets: budgets.map(toBudgetLedgerRow),
  };
}
