import type { FIX_ATTEMPT_STATUSES, FixAttemptView, FixBreakerView, FixLoopFigures, FixLoopStatus, FixLoopSummary, FixLoopView, FixSummary } from '@pitcrew/core';
import { num, type AdminClient } from '../admin/client.ts';
import { cell, fields, time, usd } from '../admin/format.ts';
import { renderTable } from '../table.ts';

/** Options of `pitcrew fixes ls`. */
export interface FixesLsOptions {
  /** How the attempt ended (the API's filter: every status but `not_attempted`). */
  status?: (typeof FIX_ATTEMPT_STATUSES)[number];
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

/** Answer of `GET /api/fixes/summary`: {@link FixSummary}, the window's start (ISO 8601) and its loops (absent from APIs before fix loop part 2). */
export type FixSummaryAnswer = FixSummary & { since: string; loops?: FixLoopSummary };

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
  const { status, fixer, repo, since, limit, cursor } = options;
  const page = await client.call(client.api.fixes.$get({ query: { status, fixer, repo, since, limit: num(limit), cursor } }));
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
  const f = await client.call(client.api.fixes[':id'].$get({ param: { id } }));
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
  const s: FixSummaryAnswer = await client.call(client.api.fixes.summary.$get({ query: { since: options.since, repo: options.repo, fixer: options.fixer } }));
  if (options.json) return JSON.stringify(s, null, 2);
  const refusals = Object.entries(s.byGuardRule).filter(([, n]) => n > 0);
  const parts = [
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
  ];
  if (s.loops) parts.push(loopTable(s.loops));
  return parts.join('\n\n');
}

/** A share as a percentage with one decimal (`66.7%`); `-` for none. */
const percent = (share: number | null) => (share === null ? '-' : `${(share * 100).toFixed(1)}%`);

/** The loop figures' cells after the group's own: counts, merge rate, iterations per merged fix, USD, USD per merged fix. */
const figureCells = (f: FixLoopFigures) => [
  f.loops,
  f.open,
  f.verifiedByCi,
  f.escalated,
  f.merged,
  f.closed,
  f.ended,
  percent(f.mergeRate),
  f.iterationsPerMergedFix === null ? '-' : f.iterationsPerMergedFix.toFixed(2),
  usd(f.costUsd),
  f.usdPerMergedFix === null ? '-' : usd(f.usdPerMergedFix),
];

/** The summary's loop table: one row per fixer, model and category, then the total. */
function loopTable(loops: FixLoopSummary): string {
  if (loops.total.loops === 0) return 'fix loops: none started in the window';
  const head = ['fixer', 'model', 'category', 'loops', 'open', 'verified by CI', 'escalated', 'merged', 'closed', 'ended', 'merge rate', 'iterations/merged', 'USD', 'USD/merged'];
  const rows = loops.groups.map((g) => [g.fixer, cell(g.model), cell(g.category), ...figureCells(g)]);
  return `fix loops (merge rate = merged / (merged + closed); iterations and USD of every loop per merged fix)\n${renderTable(head, [...rows, ['total', '', '', ...figureCells(loops.total)]], 40)}`;
}

/** Options of `pitcrew fixes loops`: those of `fixes ls`, with a loop's status; `fixer` is the latest iteration's. */
export type FixLoopsOptions = Omit<FixesLsOptions, 'status'> & { status?: FixLoopStatus };

/** CI's say on a loop: `passed` once a fix commit passed, else `-`. */
const ciCell = (l: FixLoopView) => (l.verifiedByCi ? 'passed' : '-');

/** The outcome in one cell: `merged by octocat`, `closed`, `-`. */
const outcomeCell = (l: FixLoopView) => (l.outcome ? `${l.outcome}${l.mergedBy ? ` by ${l.mergedBy}` : ''}` : '-');

/**
 * `pitcrew fixes loops`: fix loops, newest started first (`GET /api/fix-loops`), as a table
 * (status, iterations, fixer, model, CI, PR and its outcome, tokens, USD) with a hint for the
 * next page, or the API's JSON with `--json`.
 *
 * @throws {AdminApiError} on a bad filter or an unreachable API
 */
export async function fixesLoops(client: AdminClient, options: FixLoopsOptions): Promise<string> {
  const { status, fixer, repo, since, limit, cursor } = options;
  const page = await client.call(client.api['fix-loops'].$get({ query: { status, fixer, repo, since, limit: num(limit), cursor } }));
  if (options.json) return JSON.stringify(page, null, 2);
  if (page.items.length === 0) return 'no fix loops match';
  const table = renderTable(
    ['loop', 'repository', 'category', 'status', 'iter', 'fixer', 'model', 'CI', 'PR', 'outcome', 'started (UTC)', 'tokens in/out', 'USD'],
    page.items.map((l) => [
      l.id,
      `${l.owner}/${l.repo}`,
      cell(l.category),
      l.status + (l.escalation ? ` (${l.escalation})` : ''),
      l.iterations,
      l.fixer,
      cell(l.model),
      ciCell(l),
      cell(l.pr.url ?? (l.pr.number !== null ? `#${l.pr.number}` : null)),
      outcomeCell(l),
      time(l.startedAt),
      `${l.tokensIn}/${l.tokensOut}`,
      usd(l.costUsd),
    ]),
    40,
  );
  return page.nextCursor ? `${table}\nmore: pitcrew fixes loops --cursor ${page.nextCursor}` : table;
}

/** CI's verdict on one iteration's commit: `passed`, `failed`, `-` while pending or none. */
const verdictCell = (f: FixAttemptView) => f.ci?.verdict ?? '-';

/**
 * `pitcrew fixes loop ID`: one fix loop (`GET /api/fix-loops/:id`): its repository, status,
 * pull request and outcome, totals, then its iterations (the `fixes ls` columns with CI's
 * verdict and the CI failure each answered); or the API's JSON with `--json`.
 *
 * @throws {AdminApiError} 404 when the loop is unknown
 */
export async function fixesLoop(client: AdminClient, id: string, options: { json?: boolean } = {}): Promise<string> {
  const l = await client.call(client.api['fix-loops'][':id'].$get({ param: { id } }));
  if (options.json) return JSON.stringify(l, null, 2);
  return [
    fields([
      ['fix loop', l.id],
      ['repository', `${l.owner}/${l.repo}`],
      ['category', l.category],
      ['status', l.status + (l.escalation ? ` (${l.escalation})` : '')],
      ['iterations', l.iterations],
      ['fixer', `${l.fixer}${l.model ? ` (${l.model})` : ''}`],
      ['CI', l.verifiedByCi ? 'passed on a fix commit' : 'not passed'],
      ['fix branch', l.branch],
      ['pull request', (l.pr.url ?? (l.pr.number !== null ? `#${l.pr.number}` : '-')) + (l.outcome ? ` (${outcomeCell(l)}, ${time(l.outcomeAt)})` : '')],
      ['started', time(l.startedAt)],
      ['proposed', time(l.proposedAt)],
      ['finished', time(l.finishedAt)],
      ['totals', `${l.tokensIn}/${l.tokensOut} tokens in/out, ${usd(l.costUsd)} USD`],
    ]),
    renderTable(
      ['fix', ...FIX_COLUMNS, 'CI verdict', 'answers CI failure'],
      l.attempts.map((f) => [f.id, ...fixCells(f), verdictCell(f), cell(f.ci?.failureId)]),
      60,
    ),
  ].join('\n\n');
}

/** Answer of `GET /api/fix-breakers`. */
export interface FixBreakersAnswer {
  threshold: number;
  /** ms. */
  cooldownMs: number;
  breakers: FixBreakerView[];
  open: number;
}

/**
 * `pitcrew fixes breakers`: the per-repository fix-loop breaker (`GET /api/fix-breakers`):
 * exhausted loops in a row against the threshold, open or closed and until when; or the API's
 * JSON with `--json`.
 *
 * @throws {AdminApiError} on an unreachable API
 */
export async function fixesBreakers(client: AdminClient, options: { json?: boolean } = {}): Promise<string> {
  const a = await client.call(client.api['fix-breakers'].$get());
  if (options.json) return JSON.stringify(a, null, 2);
  const settings = `threshold ${a.threshold} exhausted loops in a row, cool-down ${a.cooldownMs} ms`;
  if (a.breakers.length === 0) return `no repository has fix loops (${settings})`;
  return `${renderTable(
    ['repository', 'exhausted in a row', 'threshold', 'state', 'until (UTC)', 'last ended (UTC)'],
    a.breakers.map((b) => [`${b.owner}/${b.repo}`, b.exhaustedInARow, b.threshold, b.state, time(b.until), time(b.lastEndedAt)]),
  )}\n${a.breakers.length} repositories, ${a.open} breakers open (${settings})`;
}
