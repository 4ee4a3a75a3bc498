import type { FailureDetail, FailureStatus, TRIAGE_STAGES } from '@pitcrew/core';
import { num, type AdminClient } from '../admin/client.ts';
import { cell, fields, time, usd } from '../admin/format.ts';
import { renderTable } from '../table.ts';
import { FIX_COLUMNS, fixCells } from './fixes.ts';

/** Options of `pitcrew failures ls`. */
export interface FailuresLsOptions {
  repo?: string;
  category?: string;
  status?: FailureStatus;
  /** ISO 8601 or relative (`24h`, `7d`). */
  since?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

/**
 * `pitcrew failures ls`: newest failures first (`GET /api/failures`), as a table with a hint for
 * the next page, or the API's JSON with `--json`.
 *
 * @returns the text to print
 * @throws {AdminApiError} when the API refuses or cannot be reached
 */
export async function failuresLs(client: AdminClient, options: FailuresLsOptions): Promise<string> {
  const page = await client.call(
    client.api.failures.$get({
      query: { repo: options.repo, category: options.category, status: options.status, since: options.since, limit: num(options.limit), cursor: options.cursor },
    }),
  );
  if (options.json) return JSON.stringify(page, null, 2);
  if (page.items.length === 0) return 'no failures match';
  const table = renderTable(
    ['failure', 'repository', 'job', 'status', 'category', 'runner', 'received (UTC)', 'resolved', 'exec', 'tokens in/out', 'USD'],
    page.items.map((f) => [
      f.id,
      `${f.owner}/${f.repo}`,
      cell(f.jobName ?? f.workflowName),
      f.status,
      cell(f.category),
      cell(f.runner),
      time(f.receivedAt),
      resolvedCell(f),
      f.executions,
      `${f.tokensIn}/${f.tokensOut}`,
      usd(f.costUsd),
    ]),
    40,
  );
  return page.nextCursor ? `${table}\nmore: pitcrew failures ls --cursor ${page.nextCursor}` : table;
}

/** `abc1234 after 42 min`, or `-` while open (older APIs answer without resolution fields). */
function resolvedCell(f: { resolvedAt?: string | null; resolvedBySha?: string | null; timeToGreenMs?: number | null }): string {
  if (!f.resolvedAt) return '-';
  const min = Math.round((f.timeToGreenMs ?? 0) / 60_000);
  return `${f.resolvedBySha ? f.resolvedBySha.slice(0, 7) : 'yes'} after ${min < 120 ? `${min} min` : `${(min / 60).toFixed(1)} h`}`;
}

/**
 * `pitcrew failures show ID`: the failure, its summary, executions, deliveries, incident, publications and fix attempts
 * (`GET /api/failures/:id`), or the API's JSON with `--json`.
 *
 * @throws {AdminApiError} 404 when the failure is unknown
 */
export async function failuresShow(client: AdminClient, id: string, options: { json?: boolean } = {}): Promise<string> {
  const d = await client.call(client.api.failures[':id'].$get({ param: { id } }));
  if (options.json) return JSON.stringify(d, null, 2);
  return renderFailureDetail(d);
}

/** The text form of a {@link FailureDetail}. */
export function renderFailureDetail(d: FailureDetail): string {
  const f = d.failure;
  const parts = [
    fields([
      ['failure', f.id],
      ['repository', `${f.owner}/${f.repo}`],
      ['branch / sha', `${f.branch ?? '-'} / ${f.headSha.slice(0, 12)}`],
      ['workflow / job', `${f.workflowName ?? '-'} / ${f.jobName ?? f.checkName ?? '-'}`],
      ['failed steps', f.failedSteps.join(', ') || '-'],
      ['status', f.status + (f.error ? ` (${f.error})` : '')],
      ['category', f.category ? `${f.category} (confidence ${f.confidence ?? '-'})` : '-'],
      ['runner', f.runner],
      ['resolved', f.resolvedAt ? `${resolvedCell(f)} (${time(f.resolvedAt)} UTC${f.resolvedByRunId ? `, run ${f.resolvedByRunId}` : ''})` : '-'],
      ['re-run', f.rerun ? `${f.rerun.n}/${f.rerun.max}: ${f.rerun.reason}` : '-'],
      ['retry', f.retryFromStage ? `from ${f.retryFromStage}, attempts after ${f.attemptBase}` : '-'],
      ['incident', d.incident ? `#${d.incident.id} ${d.incident.category}, ${d.incident.occurrences} occurrences, leader ${d.incident.leaderFailureId}` : '-'],
      ['received', time(f.receivedAt)],
      ['finished', time(f.finishedAt)],
      ['url', f.htmlUrl],
      ['totals', `${d.totals.executions} executions, ${d.totals.tokensIn}/${d.totals.tokensOut} tokens in/out, ${usd(d.totals.costUsd)} USD, ${d.totals.durationMs} ms`],
    ]),
  ];
  if (f.summary) parts.push(`summary\n  ${f.summary.replace(/\n/g, '\n  ')}`);
  if (d.executions.length > 0) {
    parts.push(
      renderTable(
        ['stage', 'attempt', 'status', 'runner', 'model', 'started (UTC)', 'ms', 'tokens in', 'tokens out', 'USD', 'error'],
        d.executions.map((e) => [e.stage, e.attempt, e.status, e.runner, cell(e.model), time(e.startedAt), cell(e.durationMs), e.tokensIn, e.tokensOut, usd(e.costUsd), cell(e.error)]),
        40,
      ),
    );
  }
  parts.push(
    renderTable(
      ['delivery', 'event', 'outcome', 'received (UTC)'],
      d.deliveries.map((x) => [x.id, x.event, x.outcome, time(x.receivedAt)]),
    ),
  );
  // Older APIs answer without publications.
  if (d.publications?.length) {
    parts.push(
      renderTable(
        ['sink', 'status', 'published (UTC)', 'attempts', 'where', 'last error'],
        d.publications.map((p) => [p.sink, p.status, time(p.publishedAt), p.attempts, cell(p.externalUrl ?? p.externalId), cell(p.lastError)]),
        60,
      ),
    );
  }
  // Older APIs answer without fix attempts.
  if (d.fixAttempts?.length) parts.push(renderTable(['fix', ...FIX_COLUMNS], d.fixAttempts.map((f) => [f.id, ...fixCells(f)]), 60));
  return parts.join('\n\n');
}

/**
 * `pitcrew failures retry ID [--stage S] [--wait]`: asks for a retry from a stage; with `wait`,
 * polls the failure every 500 ms until it is triaged or failed (or `timeoutMs` passes) and shows it.
 *
 * @throws {AdminApiError} 404 unknown, 409 queued or running
 * @throws {Error} when `wait` and the failure is not final within `timeoutMs`
 */
export async function failuresRetry(
  client: AdminClient,
  id: string,
  options: { stage?: (typeof TRIAGE_STAGES)[number]; wait?: boolean; timeoutMs?: number; json?: boolean } = {},
): Promise<string> {
  const answer = await client.call(client.api.failures[':id'].retry.$post({ param: { id }, json: options.stage ? { stage: options.stage } : {} }));
  const line = `retry queued: ${answer.failureId} from ${answer.fromStage} (new attempts after ${answer.attemptBase}, job ${answer.jobId})`;
  if (!options.wait) return options.json ? JSON.stringify(answer, null, 2) : line;
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const detail = await client.call(client.api.failures[':id'].$get({ param: { id } }));
    const round = detail.executions.filter((e) => e.attempt > answer.attemptBase);
    if ((detail.failure.status === 'triaged' || detail.failure.status === 'failed') && round.length > 0) {
      return options.json ? JSON.stringify({ retry: answer, failure: detail }, null, 2) : `${line}\n\n${renderFailureDetail(detail)}`;
    }
    if (Date.now() > deadline) throw new Error(`${line}; still ${detail.failure.status} after ${options.timeoutMs ?? 120_000} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
