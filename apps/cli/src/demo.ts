import { sign } from '@octokit/webhooks-methods';
import type { Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import { FIX_STAGES, resolutionJobId, TRIAGE_STAGES, type Database, type FixAttemptRow } from '@pitcrew/core';
import { buildDemoDeliveries, type DemoDelivery } from './demo-deliveries.ts';
import { renderTable } from './table.ts';

/** What the demo saw for one delivery. */
export interface DemoRow {
  delivery: DemoDelivery;
  status: number;
  body: Record<string, unknown>;
  /**
   * `accepted` (a failure), `resolution` (a success of a branch with open failures, a job of the
   * `resolutions` queue), `duplicate`, `ignored`, `ping` or `error`.
   */
  outcome: string;
  failureId: string | null;
  /** What the resolution job of a `resolution` row did, once the demo looked; else `null`. */
  resolution: ResolutionJobState | null;
}

/**
 * Where a delivery's resolution job is: `pending` (waiting, active or retrying, or not found),
 * `completed` with the failures it resolved (none: `reason` says why), or `failed` with why.
 */
export type ResolutionJobState =
  | { state: 'pending' }
  | { state: 'completed'; resolved: string[]; reason: string | null }
  | { state: 'failed'; reason: string };

/** Result of {@link runDemo}. */
export interface DemoResult {
  rows: DemoRow[];
  /** Accepted failures that reached `triaged` or `failed`, and those that did not in time. */
  finished: string[];
  unfinished: string[];
  /** Delivery ids of `resolution` rows whose job ended (completed or failed), and of those that did not in time. */
  resolutionsEnded: string[];
  resolutionsPending: string[];
  /** Failures the demo's resolution jobs resolved. */
  resolved: string[];
  table: string;
  /** Wall time from the first POST to the last final state, ms. */
  elapsedMs: number;
}

/**
 * Signs and POSTs the demo deliveries to a running ingest, waits until every accepted failure is
 * in a final state, then sends the {@link DemoDelivery.afterTriage} successes and waits until
 * each resolution job they made ended (all within `timeoutMs`), and renders the table: event,
 * action, conclusion, ingest outcome, category, runner, stages finished (and `resolved`), tokens
 * in/out, the fix attempt, summary (or what a resolution job did).
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
  /** The state of a delivery's resolution job ({@link resolutionJobsOf}); unset = resolutions are not awaited and show as `pending`. */
  resolutionJob?: (deliveryId: string) => Promise<ResolutionJobState>;
}): Promise<DemoResult> {
  const progress = options.onProgress ?? (() => {});
  const started = performance.now();
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const rows: DemoRow[] = [];
  const all = [...buildDemoDeliveries(), ...(options.extraDeliveries ?? [])];
  const deliveries = [...all.filter((d) => !d.afterTriage), ...all.filter((d) => d.afterTriage)];
  const send = async (delivery: DemoDelivery) => {
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
    // A success of a branch with open failures is answered `{accepted: true, resolution: true}`: a job, not a failure.
    const outcome = json.resolution && json.accepted ? 'resolution' : json.accepted ? 'accepted' : json.duplicate ? 'duplicate' : json.ignored ? 'ignored' : json.ok ? 'ping' : 'error';
    rows.push({
      delivery,
      status: response.status,
      body: json,
      outcome,
      failureId: typeof json.failureId === 'string' ? json.failureId : null,
      resolution: null,
    });
    progress(`sent ${rows.length}/${deliveries.length}: ${delivery.label} → ${response.status} ${outcome}`);
  };
  /** Polls `check` every 200 ms until it returns `null` or the deadline passes; `check` returns a progress line while not done. */
  const waitFor = async (check: () => Promise<string | null>) => {
    let lastReport = 0;
    while (true) {
      const waiting = await check();
      if (waiting === null || Date.now() > deadline) return;
      if (Date.now() - lastReport > 1_000) {
        progress(waiting);
        lastReport = Date.now();
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  for (const delivery of deliveries.filter((d) => !d.afterTriage)) await send(delivery);
  const failureRows = rows.filter((r) => r.outcome === 'accepted' && r.failureId !== null);
  const ids = [...new Set(failureRows.map((r) => r.failureId!))];
  const acceptedDeliveries = failureRows.map((r) => r.delivery.deliveryId);
  let finished: string[] = [];
  await waitFor(async () => {
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
    if (finished.length === ids.length && recorded.length === acceptedDeliveries.length && fixed.length === fixIds.length) return null;
    return `waiting for triage: ${finished.length}/${ids.length} failures final${fixIds.length ? `, fixes ${fixed.length}/${fixIds.length} ended` : ''}`;
  });

  // CI goes green: the successes, now that their branches' failures are recorded (and final).
  for (const delivery of deliveries.filter((d) => d.afterTriage)) await send(delivery);
  const resolutionRows = rows.filter((r) => r.outcome === 'resolution');
  if (options.resolutionJob) {
    const stateOf = options.resolutionJob;
    await waitFor(async () => {
      for (const row of resolutionRows) if (row.resolution?.state !== 'completed' && row.resolution?.state !== 'failed') row.resolution = await stateOf(row.delivery.deliveryId);
      const ended = resolutionRows.filter((r) => r.resolution?.state !== 'pending').length;
      return ended === resolutionRows.length ? null : `waiting for resolutions: ${ended}/${resolutionRows.length} jobs ended`;
    });
  }
  const elapsedMs = performance.now() - started;
  const table = await renderDemoTable(options.db, rows);
  const ended = resolutionRows.filter((r) => r.resolution && r.resolution.state !== 'pending');
  return {
    rows,
    finished,
    unfinished: ids.filter((id) => !finished.includes(id)),
    resolutionsEnded: ended.map((r) => r.delivery.deliveryId),
    resolutionsPending: resolutionRows.filter((r) => !ended.includes(r)).map((r) => r.delivery.deliveryId),
    resolved: [...new Set(ended.flatMap((r) => (r.resolution?.state === 'completed' ? r.resolution.resolved : [])))],
    table,
    elapsedMs,
  };
}

/**
 * {@link runDemo}'s `resolutionJob` over the `resolutions` queue: the job of a delivery by its id
 * (`resolutionJobId`), its state, and what it returned (`{outcome: 'resolved', failureIds}` or
 * `{outcome: 'ignored', reason}`) or why it failed. A job not found (yet) is `pending`.
 *
 * @param queue the `resolutions` queue, under the workers' prefix
 */
export function resolutionJobsOf(queue: Queue): (deliveryId: string) => Promise<ResolutionJobState> {
  return async (deliveryId) => {
    const job = await queue.getJob(resolutionJobId({ kind: 'ci-success', deliveryId }));
    if (!job) return { state: 'pending' };
    const state = await job.getState();
    if (state === 'failed') return { state: 'failed', reason: job.failedReason || 'failed' };
    if (state !== 'completed') return { state: 'pending' };
    const value = (job.returnvalue ?? {}) as { failureIds?: unknown; reason?: unknown };
    const resolved = Array.isArray(value.failureIds) ? value.failureIds.filter((id): id is string => typeof id === 'string') : [];
    return { state: 'completed', resolved, reason: typeof value.reason === 'string' ? value.reason : null };
  };
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
      failure ? `${[...stages].filter((st) => TRIAGE_STAGES.includes(st as never)).length}/3 ${failure.status}${failure.resolved_at ? ', resolved' : ''}` : '-',
      failure ? `${tokensIn}/${tokensOut}` : '-',
      fix ? fixCell(fix, [...stages]) : '-',
      row.outcome === 'resolution' ? resolutionCell(row.resolution) : (failure?.summary ?? String(row.body.reason ?? '')),
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
    ...rows.filter((r) => r.outcome === 'resolution').map((r) => `resolution of the ${r.delivery.label}: ${resolutionCell(r.resolution)}`),
    ...fixes.filter((f) => f.proposal_path).map((f) => `fix of ${f.failure_id}: proposal in ${f.proposal_path} (fix.patch, pull-request.md, verification.json)`),
  ].join('\n');
}

/** What a resolution job did: `resolved gh-suite-1`, `resolved nothing: <why>`, `failed: <why>`, or `not ended`. */
function resolutionCell(job: ResolutionJobState | null): string {
  if (!job || job.state === 'pending') return 'resolution not ended';
  if (job.state === 'failed') return `resolution failed: ${job.reason}`;
  return job.resolved.length ? `resolved ${job.resolved.join(', ')}` : `resolved nothing: ${job.reason ?? 'no open failure'}`;
}

/** `proposed (dry run), verified; rules; 4/4 stages` (fix → guard → verify → propose), or where the attempt ended and why. */
function fixCell(fix: FixAttemptRow, stages: string[]): string {
  const ran = FIX_STAGES.filter((s) => stages.includes(s)).length;
  const how = fix.status === 'proposed' ? `proposed${fix.dry_run ? ' (dry run)' : ` ${fix.pr_url}`}` : fix.status === 'refused' ? `refused (${fix.guard_rule})` : fix.status;
  return `${how}${fix.verify_exit_code === 0 ? ', verified' : ''}; ${fix.fixer}; ${ran}/${FIX_STAGES.length} stages${fix.status !== 'proposed' && fix.reason ? `; ${fix.reason}` : ''}`;
}
