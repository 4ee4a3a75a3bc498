import { sign } from '@octokit/webhooks-methods';
import type { Kysely } from 'kysely';
import { FIX_STAGES, TRIAGE_STAGES, type Database, type FixAttemptRow } from '@pitcrew/core';
import { buildDemoDeliveries, type DemoDelivery } from './demo-deliveries.ts';
import { renderTable } from './table.ts';

/** What the demo saw for one delivery. */
export interface DemoRow {
  delivery: DemoDelivery;
  status: number;
  body: Record<string, unknown>;
  /** `accepted`, `duplicate`, `ignored`, `ping` or `error`. */
  outcome: string;
  failureId: string | null;
}

/** Result of {@link runDemo}. */
export interface DemoResult {
  rows: DemoRow[];
  /** Accepted failures that reached `triaged` or `failed`, and those that did not in time. */
  finished: string[];
  unfinished: string[];
  table: string;
  /** Wall time from the first POST to the last final state, ms. */
  elapsedMs: number;
}

/**
 * Signs and POSTs the demo deliveries to a running ingest, waits until every accepted failure is
 * in a final state (or `timeoutMs` passes), and renders the table: event, action, conclusion,
 * ingest outcome, category, runner, stages finished, tokens in/out, the fix attempt, summary.
 */
export async function runDemo(options: {
  ingestUrl: string;
  secret: string;
  db: Kysely<Database>;
  timeoutMs?: number;
  onProgress?: (message: string) => void;
  /** Deliveries sent after GitHub's examples (the fixable failure of `demo-fix.ts`). */
  extraDeliveries?: DemoDelivery[];
  /** Delivery ids whose failure's fix attempt the demo waits for too. */
  awaitFix?: string[];
}): Promise<DemoResult> {
  const progress = options.onProgress ?? (() => {});
  const started = performance.now();
  const rows: DemoRow[] = [];
  const deliveries = [...buildDemoDeliveries(), ...(options.extraDeliveries ?? [])];
  for (const [i, delivery] of deliveries.entries()) {
    const body = JSON.stringify(delivery.payload);
    const response = await fetch(`${options.ingestUrl}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': delivery.event,
        'x-github-delivery': delivery.deliveryId,
        'x-hub-signature-256': await sign(options.secret, body),
        'user-agent': 'GitHub-Hookshot/pitcrew-demo',
      },
      body,
    });
    const json = (await response.json()) as Record<string, unknown>;
    const outcome = json.accepted ? 'accepted' : json.duplicate ? 'duplicate' : json.ignored ? 'ignored' : json.ok ? 'ping' : 'error';
    rows.push({
      delivery,
      status: response.status,
      body: json,
      outcome,
      failureId: typeof json.failureId === 'string' ? json.failureId : null,
    });
    progress(`sent ${i + 1}/${deliveries.length}: ${delivery.label} → ${response.status} ${outcome}`);
  }
  const ids = [...new Set(rows.filter((r) => r.outcome === 'accepted').map((r) => r.failureId!))];
  const acceptedDeliveries = rows.filter((r) => r.outcome === 'accepted').map((r) => r.delivery.deliveryId);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let finished: string[] = [];
  let lastReport = 0;
  while (true) {
    const states = ids.length
      ? await options.db.selectFrom('failures').select(['id', 'status']).where('id', 'in', ids).execute()
      : [];
    finished = states.filter((s) => s.status === 'triaged' || s.status === 'failed').map((s) => s.id);
    // Every accepted delivery is recorded too (a twin delivery merges into a failure that may be final already).
    const recorded = acceptedDeliveries.length
      ? await options.db.selectFrom('deliveries').select('id').where('id', 'in', acceptedDeliveries).execute()
      : [];
    const fixIds = rows.filter((r) => options.awaitFix?.includes(r.delivery.deliveryId) && r.failureId).map((r) => r.failureId!);
    const fixes = fixIds.length ? await options.db.selectFrom('fix_attempts').select(['failure_id', 'status']).where('failure_id', 'in', fixIds).execute() : [];
    const fixed = fixIds.filter((id) => fixes.some((f) => f.failure_id === id && f.status !== 'running'));
    if ((finished.length === ids.length && recorded.length === acceptedDeliveries.length && fixed.length === fixIds.length) || Date.now() > deadline) break;
    if (Date.now() - lastReport > 1_000) {
      progress(`waiting for triage: ${finished.length}/${ids.length} failures final${fixIds.length ? `, fixes ${fixed.length}/${fixIds.length} ended` : ''}`);
      lastReport = Date.now();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const elapsedMs = performance.now() - started;
  const table = await renderDemoTable(options.db, rows);
  return { rows, finished, unfinished: ids.filter((id) => !finished.includes(id)), table, elapsedMs };
}

async function renderDemoTable(db: Kysely<Database>, rows: DemoRow[]): Promise<string> {
  const ids = [...new Set(rows.map((r) => r.failureId).filter((id): id is string => id !== null))];
  const failures = ids.length ? await db.selectFrom('failures').selectAll().where('id', 'in', ids).execute() : [];
  const executions = ids.length
    ? await db.selectFrom('executions').selectAll().where('failure_id', 'in', ids).execute()
    : [];
  const fixes = ids.length ? await db.selectFrom('fix_attempts').selectAll().where('failure_id', 'in', ids).orderBy('iteration').execute() : [];
  const deliveryIds = rows.map((r) => r.delivery.deliveryId);
  const stored = await db.selectFrom('deliveries').select(['id', 'outcome']).where('id', 'in', deliveryIds).execute();
  const body = rows.map((row) => {
    const p = row.delivery.payload as Record<string, any>;
    const object = p[row.delivery.event] as Record<string, any> | undefined;
    const failure = failures.find((f) => f.id === row.failureId);
    const mine = executions.filter((e) => e.failure_id === row.failureId);
    const stages = new Set(mine.filter((e) => e.status === 'succeeded').map((e) => e.stage));
    const execute = mine.filter((e) => e.stage === 'execute' && e.status === 'succeeded').at(-1);
    const tokensIn = mine.reduce((n, e) => n + e.tokens_in, 0);
    const tokensOut = mine.reduce((n, e) => n + e.tokens_out, 0);
    const fix = fixes.filter((f) => f.failure_id === row.failureId).at(-1);
    return [
      row.delivery.event,
      String(p.action ?? '-'),
      `${String(object?.conclusion ?? '-')}${row.delivery.origin.startsWith('example,') ? '*' : ''}`,
      `${row.status} ${row.outcome}${stored.find((d) => d.id === row.delivery.deliveryId)?.outcome === 'merged' ? ', merged' : ''}`,
      failure ? `${failure.category ?? '-'} (${failure.confidence?.toFixed(2) ?? '-'})` : '-',
      execute ? `${execute.runner}${execute.model ? `/${execute.model}` : ''}` : '-',
      failure ? `${[...stages].filter((st) => TRIAGE_STAGES.includes(st as never)).length}/3 ${failure.status}` : '-',
      failure ? `${tokensIn}/${tokensOut}` : '-',
      fix ? fixCell(fix, [...stages]) : '-',
      failure?.summary ?? String(row.body.reason ?? ''),
    ];
  });
  const derived = rows.filter((r) => r.delivery.origin.startsWith('example,'));
  const notes = derived.map((r) => `* ${r.delivery.label}: ${r.delivery.origin}`);
  return [
    renderTable(
      ['event', 'action', 'conclusion', 'ingest', 'category', 'runner', 'stages', 'tokens in/out', 'fix', 'summary / reason'],
      body,
      56,
    ),
    ...notes,
    ...fixes.filter((f) => f.proposal_path).map((f) => `fix of ${f.failure_id}: proposal in ${f.proposal_path} (fix.patch, pull-request.md, verification.json)`),
  ].join('\n');
}

/** `proposed (dry run), verified; rules; 4/4 stages` (fix → guard → verify → propose), or where the attempt ended and why. */
function fixCell(fix: FixAttemptRow, stages: string[]): string {
  const ran = FIX_STAGES.filter((s) => stages.includes(s)).length;
  const how = fix.status === 'proposed' ? `proposed${fix.dry_run ? ' (dry run)' : ` ${fix.pr_url}`}` : fix.status === 'refused' ? `refused (${fix.guard_rule})` : fix.status;
  return `${how}${fix.verify_exit_code === 0 ? ', verified' : ''}; ${fix.fixer}; ${ran}/${FIX_STAGES.length} stages${fix.status !== 'proposed' && fix.reason ? `; ${fix.reason}` : ''}`;
}
