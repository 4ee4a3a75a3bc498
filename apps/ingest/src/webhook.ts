import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { verifyWithFallback } from '@octokit/webhooks-methods';
import type { Logger } from 'pino';
import {
  CI_EVENTS,
  FAILURE_CONCLUSIONS,
  isIgnored,
  normalizeGithubEvent,
  PayloadShapeError,
  type CiEvent,
} from '@pitcrew/core';
import { IngestError } from './errors.ts';
import type { IntakeProducer } from './intake-producer.ts';
import type { RepoFilter } from './repo-filter.ts';

/** Options of {@link createGithubWebhookRoutes}. */
export interface GithubWebhookOptions {
  /** Accepted secrets; the first is current, the rest are older ones kept during rotation. */
  secrets: string[];
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
  producer: IntakeProducer;
  logger: Logger;
  /** Repositories whose failures are triaged; default all. */
  repoFilter?: RepoFilter;
  /** Called once per delivery with its outcome, for metrics. */
  onOutcome?: (event: string, outcome: WebhookOutcome, detail: DeliveryDetail) => void;
}

export type WebhookOutcome = 'accepted' | 'duplicate' | 'ignored' | 'ping' | 'rejected';

/** More about one delivery's answer, for metrics. */
export interface DeliveryDetail {
  /** HTTP status answered. */
  status: number;
  /**
   * For `rejected`: the error code answered (`bad_signature`, `payload_too_large`, … — the
   * `IngestError` codes), `internal` for an unexpected error, `http_<status>` otherwise; else null.
   */
  reason: string | null;
  /** ms from the request reaching the route to the answer. */
  latencyMs: number;
}

/** What the handler tells the request log, through `c.set`. */
export interface WebhookVariables {
  outcome: WebhookOutcome;
  failureId: string;
}

const CI_EVENT_SET = new Set<string>(CI_EVENTS);

/**
 * `POST /` for GitHub webhooks, mounted at `/webhooks/github`. In order (as octokit/webhooks
 * does): content type (415) → required headers (400) → size (413, from `Content-Length` or while
 * streaming, never buffering more than the limit) → signature over the raw bytes (401) → event
 * filter, then for JSON bodies the action read from the first key and, for `completed`, a scan for
 * failure conclusions (202 ignored, before parsing; see {@link actionFromPrefix} and
 * {@link conclusionIfNoFailure}) → JSON (400) → normalize (400 for a payload missing fields
 * its event needs) → enqueue (202, or 503 when the queue is unreachable).
 *
 * Answers:
 * - 200 `{ok: true, event: 'ping'}` for `ping`
 * - 202 `{accepted: true, failureId}` for a new failure
 * - 202 `{duplicate: true, failureId}` for a redelivery of a delivery id already enqueued
 * - 202 `{ignored: true, reason}` for everything else that is signed and well-formed
 *
 * @throws {Error} at construction when no secret is given
 */
export function createGithubWebhookRoutes(options: GithubWebhookOptions): Hono<{ Variables: WebhookVariables }> {
  const [secret, ...olderSecrets] = options.secrets;
  if (!secret) throw new Error('createGithubWebhookRoutes needs at least one secret');
  const { producer, logger, onOutcome } = options;
  const settle = (
    c: { set(key: 'outcome', value: WebhookOutcome): void; set(key: 'failureId', value: string): void },
    outcome: WebhookOutcome,
    failureId?: string,
  ) => {
    c.set('outcome', outcome);
    if (failureId) c.set('failureId', failureId);
  };
  const app = new Hono<{ Variables: WebhookVariables }>();

  app.post(
    '/',
    async function logDelivery(c, next) {
      const started = performance.now();
      await next();
      // One structured line per delivery: ids, outcome and latency, never the body or signature.
      const status = c.res.status;
      const outcome = c.get('outcome') ?? (status >= 300 ? 'rejected' : 'ignored');
      const event = c.req.header('x-github-event') ?? '(none)';
      const latencyMs = performance.now() - started;
      const reason = outcome !== 'rejected' ? null : c.error instanceof IngestError ? c.error.code : status >= 500 ? 'internal' : `http_${status}`;
      onOutcome?.(event, outcome, { status, reason, latencyMs });
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : outcome === 'ignored' ? 'debug' : 'info';
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          deliveryId: c.req.header('x-github-delivery'),
          event,
          status,
          outcome,
          failureId: c.get('failureId'),
          latencyMs: Math.round(latencyMs * 100) / 100,
        },
        'webhook delivery',
      );
    },
    async function checkHeaders(c, next) {
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
        throw new IngestError(
          415,
          'unsupported_media_type',
          `content type ${type || '(none)'} is not supported; configure the webhook with application/json`,
        );
      }
      if (!c.req.header('x-hub-signature-256')) {
        throw new IngestError(
          401,
          'missing_signature',
          'X-Hub-Signature-256 header is missing; set a secret on the GitHub webhook',
        );
      }
      for (const header of ['x-github-event', 'x-github-delivery']) {
        if (!c.req.header(header)) {
          throw new IngestError(400, 'missing_header', `${header} header is missing`);
        }
      }
      await next();
    },
    async function receiveGithubWebhook(c) {
      const receivedAt = new Date();
      const event = c.req.header('x-github-event')!;
      const deliveryId = c.req.header('x-github-delivery')!;
      const signature = c.req.header('x-hub-signature-256')!;
      const raw = await readRawBody(c, options.maxBodyBytes);
      if (raw.length === 0) throw new IngestError(400, 'empty_body', 'body is empty');
      if (!(await verifyWithFallback(secret, raw, signature, olderSecrets))) {
        logger.warn(
          { deliveryId, event },
          'webhook signature does not match; verify that GITHUB_WEBHOOK_SECRET matches the secret configured on the GitHub webhook',
        );
        throw new IngestError(
          401,
          'bad_signature',
          'X-Hub-Signature-256 does not match the body for any configured secret',
        );
      }
      if (event === 'ping') {
        settle(c, 'ping');
        return c.json({ ok: true, event: 'ping' }, 200);
      }
      if (!CI_EVENT_SET.has(event)) {
        settle(c, 'ignored');
        return c.json({ ignored: true, reason: `event ${event} is not a CI event` }, 202);
      }
      const contentType = c.req.header('content-type')!;
      // Most of an organisation's CI deliveries are `queued`/`in_progress`/`requested`/`created`:
      // decided from the body's first key, without parsing the rest (see `actionFromPrefix`).
      const action = contentType.startsWith('application/json') ? actionFromPrefix(raw) : undefined;
      if (action !== undefined && action !== 'completed') {
        settle(c, 'ignored');
        return c.json({ ignored: true, reason: `action ${action} is not completed` }, 202);
      }
      // Completed successes are most of the rest: a body with no failure conclusion anywhere in
      // it cannot be a failure (see `conclusionIfNoFailure`).
      const conclusion = action === 'completed' ? conclusionIfNoFailure(raw) : undefined;
      if (conclusion !== undefined) {
        settle(c, 'ignored');
        return c.json({ ignored: true, reason: `conclusion ${conclusion} is not a failure` }, 202);
      }
      const payload = parseBody(raw, contentType);
      let result;
      try {
        result = normalizeGithubEvent(event, payload);
      } catch (error) {
        if (error instanceof PayloadShapeError) {
          throw new IngestError(400, 'bad_payload', error.message, { cause: error });
        }
        throw error;
      }
      if (isIgnored(result)) {
        settle(c, 'ignored');
        return c.json({ ignored: true, reason: result.reason }, 202);
      }
      const repoCheck = options.repoFilter?.(`${result.owner}/${result.repo}`);
      if (repoCheck && !repoCheck.allowed) {
        settle(c, 'ignored');
        return c.json({ ignored: true, reason: repoCheck.reason }, 202);
      }
      let outcome;
      try {
        outcome = await producer.enqueue({
          deliveryId,
          event: event as CiEvent,
          action: 'completed',
          receivedAt,
          failure: result,
          payload,
        });
      } catch (error) {
        logger.error({ err: error, deliveryId, failureId: result.id }, 'could not enqueue failure; GitHub will show the delivery as failed and it can be redelivered');
        throw new IngestError(503, 'queue_unavailable', 'the queue is unreachable; redeliver later', {
          cause: error,
          headers: { 'retry-after': '30' },
        });
      }
      settle(c, outcome, result.id);
      return c.json(
        outcome === 'accepted'
          ? { accepted: true, failureId: result.id }
          : { duplicate: true, failureId: result.id },
        202,
      );
    },
  );
  return app;
}

/**
 * JSON body, or the `payload` field of a form-encoded body (GitHub's other content type option,
 * GitHub docs, "Creating webhooks": `application/x-www-form-urlencoded` sends `payload=<json>`).
 * @throws {IngestError} 400 when it is not JSON or not an object
 */
function parseBody(raw: string, contentType: string): unknown {
  let text = raw;
  if (contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(raw).get('payload');
    if (payload === null) throw new IngestError(400, 'malformed_body', 'form body has no payload field');
    text = payload;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new IngestError(400, 'malformed_json', `body is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new IngestError(400, 'malformed_body', 'body must be a JSON object');
  }
  return parsed;
}

/**
 * The action of a JSON body that starts with `{"action":"<word>"`, as every GitHub webhook body
 * does (GitHub serializes `action` first, without spaces); `undefined` for any other start, which
 * then takes the full parse. `<word>` must be `[a-z_]+`, so an escaped or odd value also falls
 * back to parsing. A delivery whose action is not `completed` cannot be a failure whatever
 * follows, so it is answered without `JSON.parse` of the (5-20 KiB) rest; the body has passed the
 * signature check, so only a holder of the secret could make that rest malformed.
 */
export function actionFromPrefix(raw: string): string | undefined {
  if (!raw.startsWith(ACTION_PREFIX)) return undefined;
  const end = raw.indexOf('"', ACTION_PREFIX.length);
  if (end < 0 || end - ACTION_PREFIX.length > 64) return undefined;
  const action = raw.slice(ACTION_PREFIX.length, end);
  return ACTION_WORD.test(action) ? action : undefined;
}
const ACTION_PREFIX = '{"action":"';

/**
 * For a `completed` JSON body that cannot be a failure, the conclusion to name in the answer;
 * `undefined` when it might be one (then it is parsed and normalized in full).
 *
 * A failure needs its conclusion to be one of `FAILURE_CONCLUSIONS` (`"failure"`, `"timed_out"`,
 * `"startup_failure"`), which appears in the body as that quoted string unless a letter of it is
 * written as a `\u00XX` escape. So a body that contains none of them (searched as `failure"` and
 * `timed_out"`, see `FAILURE_LITERALS`) and no escaped ASCII letter or underscore cannot be a
 * failure. Two substring searches and one regex over the raw text cost a few microseconds, where `JSON.parse` and the shape check of a 10-20 KiB payload
 * cost about a hundred. The conclusion named is the body's first `"conclusion":` value, which in
 * GitHub's field order is the check run's, check suite's, workflow run's or job's own (its steps
 * and suite come later); only the reason text depends on that order, never the decision.
 */
export function conclusionIfNoFailure(raw: string): string | undefined {
  for (const literal of FAILURE_LITERALS) if (raw.includes(literal)) return undefined;
  if (ESCAPED_WORD_CHAR.test(raw)) return undefined;
  const match = FIRST_CONCLUSION.exec(raw);
  return match ? (match[2] ?? 'null') : 'none';
}
/**
 * `failure"` and `timed_out"`: each failure conclusion with its closing quote, dropping those that
 * end with another (`startup_failure"` ends with `failure"`), so one scan covers both. Without
 * the opening quote a few more bodies are parsed in full (a value ending in `failure`); none is
 * missed.
 */
const FAILURE_LITERALS = FAILURE_CONCLUSIONS.map((c) => `${c}"`).filter(
  (literal, _, all) => !all.some((other) => other !== literal && literal.endsWith(other)),
);
/** `\u0041`-`\u007a`: an escaped letter (or `_`, `[`, …) that could spell a conclusion. */
const ESCAPED_WORD_CHAR = /\\u00[4-7][0-9a-fA-F]/;
const FIRST_CONCLUSION = /"conclusion":(null|"([a-z_]*)")/;
const ACTION_WORD = /^[a-z_]+$/;

/**
 * The request body as a UTF-8 string, at most `maxBytes`: 413 from `Content-Length` before
 * reading, or as soon as the streamed bytes pass the limit (reading stops; nothing beyond the
 * limit is buffered).
 *
 * On @hono/node-server it reads the Node `IncomingMessage` (`c.env.incoming`) directly. Hono's
 * `bodyLimit` and `c.req.text()` would make the adapter build a WHATWG `Request` with a web
 * stream body for every delivery, which the ingest profile showed as the largest single cost of
 * the hot path (about a tenth of CPU under load); elsewhere (tests calling `app.request`, other
 * runtimes) it reads `c.req.raw.body` with the same limit.
 *
 * @throws {IngestError} 413 `payload_too_large`
 */
async function readRawBody(c: Context, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new IngestError(413, 'payload_too_large', `body is larger than ${maxBytes} bytes (PITCREW_MAX_BODY_BYTES)`);
  const declared = Number(c.req.header('content-length'));
  if (declared > maxBytes) throw tooLarge();
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && typeof incoming.on === 'function' && !incoming.readableEnded) {
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          cleanup();
          incoming.pause();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = () => {
        cleanup();
        resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const cleanup = () => {
        incoming.off('data', onData);
        incoming.off('end', onEnd);
        incoming.off('error', onError);
      };
      incoming.on('data', onData);
      incoming.on('end', onEnd);
      incoming.on('error', onError);
    });
  }
  const body = c.req.raw.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
