import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { sign } from '@octokit/webhooks-methods';
import type { AdminClient } from '../admin/client.ts';
import { fields } from '../admin/format.ts';

/**
 * `pitcrew replay DELIVERY_ID`: replays a stored delivery through the admin API (a new intake job
 * of the stored payload; idempotent by failure id).
 *
 * @throws {AdminApiError} 404 unknown delivery, 422 no longer a failure
 */
export async function replayStored(client: AdminClient, deliveryId: string, options: { json?: boolean; waitMs?: number } = {}): Promise<string> {
  const answer = await client.call(client.api.deliveries[':id'].replay.$post({ param: { id: deliveryId }, json: options.waitMs !== undefined ? { waitMs: options.waitMs } : {} }));
  if (options.json) return JSON.stringify(answer, null, 2);
  return fields([
    ['replay of', answer.replayOf],
    ['new delivery', answer.deliveryId],
    ['failure', `${answer.failureId} (${answer.failureExisted ? 'already known' : 'new'})`],
    ['recorded', answer.recorded ? `${answer.recorded.outcome}, failure ${answer.recorded.failureStatus}` : 'not yet (the intake job is queued)'],
    ['note', answer.note],
  ]);
}

/** A delivery read from a file: the event name and the payload to send. */
export interface DeliveryFile {
  event: string;
  payload: unknown;
  /** The delivery id the file names, if any (kept for reference; a replay sends a new one). */
  originalDeliveryId: string | null;
}

/**
 * Reads a saved delivery: either `{headers, payload}` (as GitHub's "Recent Deliveries" shows a
 * request; headers matched case-insensitively, `X-GitHub-Event` names the event), or a bare payload
 * whose event is given with `--event`.
 *
 * @throws {Error} when the file is not JSON, or no event is known
 */
export function readDeliveryFile(path: string, event?: string): DeliveryFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path} is not a JSON file: ${(error as Error).message}`, { cause: error });
  }
  const obj = parsed as { headers?: Record<string, unknown>; payload?: unknown };
  if (obj && typeof obj === 'object' && obj.headers && typeof obj.headers === 'object' && obj.payload && typeof obj.payload === 'object') {
    const headers = Object.fromEntries(Object.entries(obj.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const named = event ?? headers['x-github-event'];
    if (!named) throw new Error(`${path} has no X-GitHub-Event header; pass --event`);
    return { event: named, payload: obj.payload, originalDeliveryId: headers['x-github-delivery'] ?? null };
  }
  if (!event) throw new Error(`${path} is a bare payload; pass --event (e.g. workflow_job, check_run)`);
  return { event, payload: parsed, originalDeliveryId: null };
}

/**
 * `pitcrew replay FILE`: sends a saved delivery to the ingest webhook route exactly as GitHub
 * would: JSON body, `X-GitHub-Event`, a fresh `X-GitHub-Delivery` (GitHub's own redeliveries
 * reuse the id, which ingest would drop as a duplicate), and `X-Hub-Signature-256` with the first
 * of `GITHUB_WEBHOOK_SECRET`. It goes through signature check, repository filters and dedupe like
 * any delivery, and needs no database or Redis credentials. Idempotent by failure id: a failure
 * ingest already has gets a merged delivery, not a second row.
 *
 * @returns the ingest's answer, as text or JSON
 * @throws {Error} without a secret, or when ingest cannot be reached
 */
export async function replayFile(
  options: { baseUrl: string; secret: string | undefined; file: DeliveryFile; deliveryId?: string; json?: boolean },
): Promise<{ status: number; text: string }> {
  if (!options.secret) throw new Error('replaying a file needs GITHUB_WEBHOOK_SECRET (the secret ingest verifies with)');
  const body = JSON.stringify(options.file.payload);
  const deliveryId = options.deliveryId ?? randomUUID();
  const url = `${options.baseUrl.replace(/\/+$/, '')}/webhooks/github`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'pitcrew-replay',
        'x-github-event': options.file.event,
        'x-github-delivery': deliveryId,
        'x-hub-signature-256': await sign(options.secret, body),
      },
      body,
    });
  } catch (error) {
    throw new Error(`cannot reach ingest at ${url}: ${(error as Error).message} (PITCREW_INGEST_URL)`, { cause: error });
  }
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  const result = { status: response.status, deliveryId, event: options.file.event, replayOf: options.file.originalDeliveryId, answer };
  if (options.json) return { status: response.status, text: JSON.stringify(result, null, 2) };
  const what = answer.accepted
    ? `accepted: intake job queued for failure ${String(answer.failureId)} (a failure ingest already has records it as a merged delivery)`
    : answer.duplicate
      ? `duplicate delivery id (failure ${String(answer.failureId)}); nothing enqueued`
      : answer.ignored
        ? `ignored: ${String(answer.reason)}`
        : `${String(answer.error ?? 'error')}: ${String(answer.reason ?? '')}`;
  return {
    status: response.status,
    text: fields([
      ['sent', `${options.file.event} as delivery ${deliveryId}${options.file.originalDeliveryId ? ` (replay of ${options.file.originalDeliveryId})` : ''}`],
      ['ingest', `${response.status} ${what}`],
    ]),
  };
}

/** True when `target` names a readable file rather than a delivery id. */
export function isFile(target: string): boolean {
  return existsSync(target);
}
