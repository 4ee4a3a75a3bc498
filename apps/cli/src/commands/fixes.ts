import type { FixAttemptStatus, FixAttemptView, FixListItem, FixSummary } from '@pitcrew/core';
import type { AdminClient } from '../admin/client.ts';
import { cell, fields, time, usd } from '../admin/format.ts';
import { renderTable } from '../table.ts';

/** Options of `pitcrew fixes ls`. */
export interface FixesLsOptions {
  status?: FixAttemptStatus;
  /** `rules` or `agent`. */
  fixer?: string;
  /** `owner/repo`, or a repository name under any owner. */
  repo?: string;
  /** ISO 8601 or relative (`24h`, `7d`). */
  since?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

/** Answer of `GET /api/fixes/summary`: {@link FixSummary} and the window's start (ISO 8601). */
export type FixSummaryAnswer = FixSummary & { since: string };

/** `files/lines` changed. */
const size = (f: FixAttemptView) => `${f.filesChanged}/${f.linesChanged}`;

/** The verification in one cell: `exit 0, 4200 ms`, or `-` when none ran. */
const verification = (f: FixAttemptView) => (f.verify.exitCode === null ? '-' : `exit ${f.verify.exitCode}${f.verify.ms !== null ? `, ${f.verify.ms} ms` : ''}`);

/** The pull request in one cell: its URL, else `#number`, else `-`. */
const pullRequest = (f: FixAttemptView) => f.pr.url ?? (f.pr.number !== null ? `#${f.pr.number}` : '-');

/** Columns of {@link fixCells}, shared by the `fixes ls` table and the failure detail's. */
export const FIX_COLUMNS = ['iter', 'fixer', 'status', 'guard rule', 'files/lines', 'verify', 'PR', 'started (UTC)', 'ms', 'tokens in/out', 'USD'];

/** The {@link FIX_COLUMNS} cells of one attempt. */
export function fixCells(f: FixAttemptView): (string | number)[] {
  return [f.iteration, f.fixer, f.status, cell(f.guardRule), size(f), verification(f), pullRequest(f), time(f.startedAt), cell(f.durationMs), `${f.tokensIn}/${f.tokensOut}`, usd(f.costUsd)];
}

/**
 * `pitcrew fixes ls`: fix attempts, newest started first (`GET /api/fixes`), as a table with
 * their failure and repository and a hint for the next page, or the API's JSON with `--json`.
 *
 * @returns the text to print
 * @throws {AdminApiError} on a bad filter or an unreachable API
 */
export async function fixesLs(client: AdminClient, options: FixesLsOptions): Promise<string> {
  const { json: _json, ...filters } = options;
  const page = await client.get<{ items: FixListItem[]; nextCursor: string | null }>('/fixes', { ...filters });
  if (options.json) return JSON.stringify(page, null, 2);
  if (page.items.length === 0) return 'no fix attempts match';
  const table = renderTable(
    ['fix', 'failure', 'repository', 'category', ...FIX_COLUMNS],
    page.items.map((f) => [f.id, f.failureId, `${f.failure.owner}/${f.failure.repo}`, cell(f.failure.category), ...fixCells(f)]),
    40,
  );
  return page.nextCursor ? `${table}\nmore: pitcrew fixes ls --cursor ${page.nextCursor}` : table;
}

/**
 * `pitcrew fixes show ID`: one fix attempt (`GET /api/fixes/:id`): its failure, the guard's
 * verdict, the verification with its output tail, the pull request, tokens and USD; or the API's
 * JSON with `--json`.
 *
 * @throws {AdminApiError} 404 when the attempt is unknown
 */
export async function fixesShow(client: AdminClient, id: string, options: { json?: boolean } = {}): Promise<string> {
  const f = await client.get<FixListItem>(`/fixes/${encodeURIComponent(id)}`);
  if (options.json) return JSON.stringify(f, null, 2);
  const parts = [
    fields([
      ['fix attempt', f.id],
      ['failure', `${f.failureId} (iteration ${f.iteration})`],
      ['repository', `${f.failure.owner}/${f.failure.repo}`],
      ['branch', f.failure.branch],
      ['category', f.failure.category],
      ['fixer', f.fixer],
      ['status', f.status + (f.error ? ` (${f.error})` : '')],
      ['guard', f.guardRule ? `refused by ${f.guardRule}: ${f.guardDetail ?? '-'}` : '-'],
      ['changed', `${f.filesChanged} files, ${f.linesChanged} lines`],
      ['verify', f.verify.command ? `${f.verify.command} → ${verification(f)}` : '-'],
      ['fix branch', f.branch],
      ['pull request', pullRequest(f) + (f.outcome ? ` (${f.outcome})` : '')],
      ['started', time(f.startedAt)],
      ['finished', time(f.finishedAt)],
      ['totals', `${f.durationMs ?? '-'} ms, ${f.tokensIn}/${f.tokensOut} tokens in/out, ${usd(f.costUsd)} USD`],
    ]),
  ];
  if (f.verify.output) parts.push(`verify output\n  ${f.verify.output.replace(/\n/g, '\n  ')}`);
  return parts.join('\n\n');
}

/**
 * `pitcrew fixes summary [--since --repo --fixer]`: what the fix attempts of a window came to
 * (`GET /api/fixes/summary`): counts by status (every status) and by guard rule (the rules that
 * refused something), fixes proposed, tokens, USD and USD per proposed fix; or the API's JSON
 * with `--json`.
 *
 * @throws {AdminApiError} on a bad filter or an unreachable API
 */
export async function fixesSummary(client: AdminClient, options: { since?: string; repo?: string; fixer?: string; json?: boolean } = {}): Promise<string> {
  const s = await client.get<FixSummaryAnswer>('/fixes/summary', { since: options.since, repo: options.repo, fixer: options.fixer });
  if (options.json) return JSON.stringify(s, null, 2);
  const refusals = Object.entries(s.byGuardRule).filter(([, n]) => n > 0);
  return [
    fields([
      ['since (UTC)', time(s.since)],
      ['attempts', s.attempts],
      ['proposed', s.proposed],
      ['tokens in/out', `${s.tokensIn}/${s.tokensOut}`],
      ['USD', usd(s.costUsd)],
      ['USD per proposed fix', s.usdPerProposedFix === null ? '- (none proposed)' : usd(s.usdPerProposedFix)],
    ]),
    `attempts by status\n${renderTable(Object.keys(s.byStatus), [Object.values(s.byStatus)])}`,
    refusals.length > 0 ? `refused by guard rule\n${renderTable(refusals.map(([rule]) => rule), [refusals.map(([, n]) => n)])}` : 'refused by guard rule: none',
  ].join('\n\n');
}
