import type { BudgetLedgerRow, SpendRow } from '@pitcrew/core';
import type { AdminClient } from '../admin/client.ts';
import { usd } from '../admin/format.ts';
import { renderTable } from '../table.ts';

/** Answer of `GET /api/spend`. */
export interface SpendAnswer {
  since: string;
  until: string;
  rows: SpendRow[];
  totals: Omit<SpendRow, 'day' | 'owner' | 'repo'>;
  budgets: BudgetLedgerRow[];
}

/**
 * `pitcrew spend [--since --until --repo]`: USD, tokens in/out and executions per UTC day and
 * repository with a total row, then the budget ledger when budgets are configured.
 *
 * @throws {AdminApiError} on a bad day or an unreachable API
 */
export async function spend(client: AdminClient, options: { since?: string; until?: string; repo?: string; json?: boolean }): Promise<string> {
  const answer: SpendAnswer = await client.call(client.api.spend.$get({ query: { since: options.since, until: options.until, repo: options.repo } }));
  if (options.json) return JSON.stringify(answer, null, 2);
  const t = answer.totals;
  const parts = [
    `spend ${answer.since} .. ${answer.until} (UTC days, from executions)`,
    renderTable(
      ['day', 'repository', 'executions', 'tokens in', 'tokens out', 'USD'],
      [
        ...answer.rows.map((r) => [r.day, `${r.owner}/${r.repo}`, r.executions, r.tokensIn, r.tokensOut, usd(r.costUsd)]),
        ['total', '', t.executions, t.tokensIn, t.tokensOut, usd(t.costUsd)],
      ],
    ),
  ];
  if (answer.budgets.length > 0) {
    parts.push(
      'budget ledger (PITCREW_BUDGET_*)',
      renderTable(['day', 'scope', 'spent USD', 'reserved USD', 'calls'], answer.budgets.map((b) => [b.day, b.scope, usd(b.spentUsd), usd(b.reservedUsd), b.calls])),
    );
  }
  return parts.join('\n');
}
