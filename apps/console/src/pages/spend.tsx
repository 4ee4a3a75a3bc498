import type { FC } from 'hono/jsx';
import type { BudgetLedgerRow, SpendRow } from '@pitcrew/core';
import { count, usd } from './format.ts';

/** Colours of the repositories' stacks, in order of their total spend (then the last one repeats). */
const PALETTE = ['#0969da', '#8250df', '#1a7f37', '#bc4c00', '#bf3989', '#9a6700', '#1b7c83', '#57606a'];

/** Geometry of the chart, px. */
const W = 900;
const H = 280;
const LEFT = 70;
const BOTTOM = 40;
const TOP = 12;

/** The UTC days from `since` to `until`, both inclusive (`YYYY-MM-DD`). */
export function daysBetween(since: string, until: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${since}T00:00:00Z`); t <= Date.parse(`${until}T00:00:00Z`); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** A round axis maximum at or above `max`: 1, 2 or 5 times a power of ten. */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return ([1, 2, 5, 10].map((m) => m * p).find((v) => v >= max) ?? 10 * p);
}

/** Repositories (`owner/repo`) by total USD, most first, with their totals. */
export function repositoryTotals(rows: SpendRow[]): { repository: string; costUsd: number; tokensIn: number; tokensOut: number; executions: number }[] {
  const totals = new Map<string, { repository: string; costUsd: number; tokensIn: number; tokensOut: number; executions: number }>();
  for (const r of rows) {
    const key = `${r.owner}/${r.repo}`;
    const t = totals.get(key) ?? { repository: key, costUsd: 0, tokensIn: 0, tokensOut: 0, executions: 0 };
    t.costUsd = Math.round((t.costUsd + r.costUsd) * 1e6) / 1e6;
    t.tokensIn += r.tokensIn;
    t.tokensOut += r.tokensOut;
    t.executions += r.executions;
    totals.set(key, t);
  }
  return [...totals.values()].sort((a, b) => b.costUsd - a.costUsd || a.repository.localeCompare(b.repository));
}

/**
 * USD per UTC day stacked by repository, as server-rendered SVG (no script): one bar per day of
 * the range, one segment per repository, an axis in USD and a legend. Each segment's `<title>`
 * tells its figures; the tables below carry them for screen readers.
 */
export const SpendChart: FC<{ rows: SpendRow[]; since: string; until: string }> = ({ rows, since, until }) => {
  const days = daysBetween(since, until);
  const repos = repositoryTotals(rows).map((t) => t.repository);
  const colour = (repo: string) => PALETTE[Math.min(repos.indexOf(repo), PALETTE.length - 1)]!;
  const perDay = (day: string) => rows.filter((r) => r.day === day);
  const max = niceMax(Math.max(0, ...days.map((d) => perDay(d).reduce((s, r) => s + r.costUsd, 0))));
  const plotW = W - LEFT - 10;
  const plotH = H - TOP - BOTTOM;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(4, slot * 0.6);
  const y = (v: number) => TOP + plotH - (v / max) * plotH;
  const legendH = 20 * Math.ceil(repos.length / 3);
  return (
    <svg viewBox={`0 0 ${W} ${H + legendH}`} width={W} height={H + legendH} role="img" aria-labelledby="spend-title" font-family="system-ui, sans-serif" font-size="12">
      <title id="spend-title">{`USD per day from ${since} to ${until}, stacked by repository`}</title>
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <g>
          <line x1={LEFT} x2={W - 10} y1={y(f * max)} y2={y(f * max)} stroke="#d1d9e0" />
          <text x={LEFT - 6} y={y(f * max) + 4} text-anchor="end" fill="#59636e">
            {usd(f * max)}
          </text>
        </g>
      ))}
      {days.map((day, i) => {
        let base = 0;
        const cx = LEFT + slot * i + slot / 2;
        return (
          <g>
            {perDay(day)
              .sort((a, b) => repos.indexOf(`${a.owner}/${a.repo}`) - repos.indexOf(`${b.owner}/${b.repo}`))
              .map((r) => {
                const top = y(base + r.costUsd);
                const height = y(base) - top;
                base += r.costUsd;
                return (
                  <rect x={cx - barW / 2} y={top} width={barW} height={Math.max(0, height)} fill={colour(`${r.owner}/${r.repo}`)}>
                    <title>{`${day} ${r.owner}/${r.repo}: ${usd(r.costUsd)}, ${count(r.tokensIn)}/${count(r.tokensOut)} tokens, ${r.executions} executions`}</title>
                  </rect>
                );
              })}
            {days.length <= 31 && (days.length <= 14 || i % 2 === 0) ? (
              <text x={cx} y={H - BOTTOM + 16} text-anchor="middle" fill="#59636e">
                {day.slice(5)}
              </text>
            ) : null}
          </g>
        );
      })}
      <line x1={LEFT} x2={W - 10} y1={y(0)} y2={y(0)} stroke="#59636e" />
      {repos.map((repo, i) => (
        <g transform={`translate(${LEFT + (i % 3) * 280}, ${H + 4 + Math.floor(i / 3) * 20})`}>
          <rect width={12} height={12} fill={colour(repo)} />
          <text x={18} y={11}>
            {repo}
          </text>
        </g>
      ))}
    </svg>
  );
};

/** Spend per repository over the range, most first. */
export const SpendByRepository: FC<{ rows: SpendRow[] }> = ({ rows }) => (
  <table>
    <caption class="sr-only">Spend per repository</caption>
    <thead>
      <tr>
        <th scope="col">Repository</th>
        <th scope="col" class="num">
          USD
        </th>
        <th scope="col" class="num">
          Tokens in
        </th>
        <th scope="col" class="num">
          Tokens out
        </th>
        <th scope="col" class="num">
          Executions
        </th>
      </tr>
    </thead>
    <tbody>
      {repositoryTotals(rows).map((t) => (
        <tr>
          <td>{t.repository}</td>
          <td class="num">{usd(t.costUsd)}</td>
          <td class="num">{count(t.tokensIn)}</td>
          <td class="num">{count(t.tokensOut)}</td>
          <td class="num">{count(t.executions)}</td>
        </tr>
      ))}
    </tbody>
  </table>
);

/** The budget ledger (only kept when `PITCREW_BUDGET_*` is set): settled and reserved USD per scope and day. */
export const BudgetLedger: FC<{ budgets: BudgetLedgerRow[] }> = ({ budgets }) =>
  budgets.length === 0 ? (
    <p class="muted">No budget ledger for these days (budgets are off unless PITCREW_BUDGET_* is set).</p>
  ) : (
    <table>
      <caption class="sr-only">Budget ledger per day and scope</caption>
      <thead>
        <tr>
          <th scope="col">Day</th>
          <th scope="col">Scope</th>
          <th scope="col" class="num">
            Spent USD
          </th>
          <th scope="col" class="num">
            Reserved USD
          </th>
          <th scope="col" class="num">
            Model calls
          </th>
        </tr>
      </thead>
      <tbody>
        {budgets.map((b) => (
          <tr>
            <td>{b.day}</td>
            <td>{b.scope}</td>
            <td class="num">{usd(b.spentUsd)}</td>
            <td class="num">{usd(b.reservedUsd)}</td>
            <td class="num">{b.calls}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
