import { Hono, type Context } from 'hono';
import type { Logger } from 'pino';
import { isIgnored, loopOfBranch, normalizeCiSuccess, normalizeFixEvent, normalizeGithubEvent, normalizeRepoEvent, PayloadShapeError, type CiEvent, type FixEvent, type Ignored } from '@pitcrew/core';
import { logDeliveries, type DeliveryDetail, type DeliveryLogVariables, type WebhookOutcome } from './delivery-log.ts';
import { IngestError } from './errors.ts';
import type { FixEventProducer } from './fix-event-producer.ts';
import type { IntakeProducer } from './intake-producer.ts';
import type { RepoEventProducer } from './repo-event-producer.ts';
import type { RepoFilter } from './repo-filter.ts';
import type { ResolutionProducer } from './resolution-producer.ts';
import { withTimeout } from './timeout.ts';
import { parseWebhookJson, webhookJsonText } from './webhook-body.ts';
import { webhookHeaders } from './webhook-headers.ts';
import { decideBeforeParsing, FIX_HEAD_BRANCH } from './webhook-prefilter.ts';
import { verifyGithubSignature, type SignatureVariables } from './webhook-signature.ts';

export type { DeliveryDetail, WebhookOutcome } from './delivery-log.ts';
// The pre-parse decisions, where webhook-node.int.test.ts has always imported them from.
export { actionFromPrefix, conclusionIfNoFailure } from './webhook-prefilter.ts';

/** Options of {@link createGithubWebhookRoutes}. */
export interface GithubWebhookOptions {
  /** Accepted secrets; the first is current, the rest are older ones kept during rotation. */
  secrets: string[];
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
  producer: IntakeProducer;
  /** Where fix events go (the `fix-events` queue); without it they are answered 202 ignored. */
  fixEvents?: FixEventProducer;
  /**
   * Where completed successes of branches with open failures go (the `resolutions` queue); without
   * it (`PITCREW_RESOLUTION=off`) every success is answered 202 ignored without a lookup.
   */
  resolutions?: ResolutionProducer;
  /** Where repository events go (the `repo-events` queue: `.github/pitcrew.yml` pushed, `/pitcrew` PR commands); without it they are answered 202 ignored. */
  repoEvents?: RepoEventProducer;
  logger: Logger;
  /** Repositories whose failures are triaged; default all. */
  repoFilter?: RepoFilter;
  /** Called once per delivery with its outcome, for metrics. */
  onOutcome?: (event: string, outcome: WebhookOutcome, detail: DeliveryDetail) => void;
  /**
   * ms from the delivery's arrival at this route within which its Redis steps (the open-failures
   * lookup of a success, then the enqueue) must finish, together; past it the enqueue is answered
   * 503 (Retry-After) and a lookup counts as failed. What was sent to Redis is not withdrawn: an
   * enqueue that completes after its 503 stays, and GitHub's redelivery (same delivery id) is
   * answered 202 duplicate. Default: no deadline.
   */
  redisDeadlineMs?: number;
}

/** What the webhook route's middlewares and handler share through `c.set` / `c.get`. */
export type WebhookVariables = DeliveryLogVariables & SignatureVariables;

/**
 * `POST /` for GitHub webhooks, mounted at `/webhooks/github`. In order (as octokit/webhooks
 * does): one log line and metrics per delivery (`delivery-log.ts`) → content type (415) and
 * required headers (401/400, `webhook-headers.ts`) → size (413, `raw-body.ts`) and signature
 * over the raw bytes (401, `webhook-signature.ts`) → `ping` → decisions without parsing
 * (`webhook-prefilter.ts`, 202 ignored) → JSON (400) → normalize as a failure or, for what the
 * prefilter found might be one, as a fix event (`normalizeFixEvent`; 400 for a payload missing
 * fields its event needs) → repository filter → enqueue (202, or 503 when the queue is
 * unreachable or has not answered within `redisDeadlineMs`).
 *
 * Answers:
 * - 200 `{ok: true, event: 'ping'}` for `ping`
 * - 202 `{accepted: true, failureId}` for a new failure
 * - 202 `{duplicate: true, failureId}` for a redelivery of a delivery id already enqueued
 * - 202 `{accepted: true, fixEvent: true, kind, loopId}` for a new fix event (a CI success on a
 *   `pitcrew/fix/` branch, a fix PR closed or reopened), `{duplicate: true, fixEvent: true, kind,
 *   loopId}` for its redelivery
 * - 202 `{accepted: true, resolution: true, repository, branch}` for a completed success of a
 *   branch with open failures (`{duplicate: true, resolution: true, …}` for its redelivery); a
 *   success of any other branch costs one Redis `EXISTS` and is answered 202 ignored
 * - 202 `{accepted: true, repoEvent: true, kind}` for a new repository event (a `push` to the
 *   default branch that changed `.github/pitcrew.yml`, a `/pitcrew <command>` comment on a pull
 *   request), `{duplicate: true, repoEvent: true, kind}` for its redelivery
 * - 202 `{ignored: true, reason}` for everything else that is signed and well-formed (a push or a
 *   comment the prefilter dropped before parsing among them)
 * - errors as `IngestError` (`{error, reason}`, rendered by the app's `onError`)
 *
 * @throws {Error} at construction when no secret is given
 */
export function createGithubWebhookRoutes(options: GithubWebhookOptions): Hono<{ Variables: WebhookVariables }> {
  const { producer, logger } = options;
  const app = new Hono<{ Variables: WebhookVariables }>();
  app.post(
    '/',
    logDeliveries({ logger, ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}) }),
    webhookHeaders,
    verifyGithubSignature({ secrets: options.secrets, maxBodyBytes: options.maxBodyBytes, logger }),
    async function receiveGithubWebhook(c) {
      const receivedAt = new Date();
      const event = c.req.header('x-github-event')!;
      const deliveryId = c.req.header('x-github-delivery')!;
      const contentType = c.req.header('content-type')!;
      if (event === 'ping') {
        c.set('outcome', 'ping');
        return c.json({ ok: true, event: 'ping' }, 200);
      }
      const raw = c.get('rawBody');
      const decision = decideBeforeParsing(event, raw, contentType);
      if ('ignored' in decision) return answerIgnored(c, decision.ignored);
      if ('lookup' in decision) {
        const resolutions = options.resolutions;
        if (!resolutions) return answerIgnored(c, decision.reason);
        const open = await beforeDeadline(resolutions.hasOpenFailures(decision.repository, decision.branch), receivedAt, options.redisDeadlineMs).catch((error: unknown) => {
          // A success that cannot be looked up only leaves its failures open; it is not redelivered.
          logger.warn({ err: error, deliveryId }, 'could not look up open failures; the success is ignored and its failures stay open');
          return false;
        });
        if (!open) return answerIgnored(c, decision.reason);
        const success = normalize(normalizeCiSuccess, event, parseWebhookJson(raw));
        if (isIgnored(success) || success.branch === null) return answerIgnored(c, isIgnored(success) ? success.reason : decision.reason);
        const repoCheck = options.repoFilter?.(`${success.owner}/${success.repo}`);
        if (repoCheck && !repoCheck.allowed) return answerIgnored(c, repoCheck.reason);
        const outcome = await beforeDeadline(resolutions.enqueue({ v: 1, kind: 'ci-success', deliveryId, receivedAt: receivedAt.toISOString(), ...success, branch: success.branch }), receivedAt, options.redisDeadlineMs)
          .catch((error: unknown) => {
            logger.error({ err: error, deliveryId }, 'could not enqueue resolution; GitHub will show the delivery as failed and it can be redelivered');
            throw new IngestError(503, 'queue_unavailable', 'the queue is unreachable; redeliver later', { cause: error, headers: { 'retry-after': '30' } });
          });
        c.set('outcome', outcome);
        const repository = `${success.owner}/${success.repo}`;
        return c.json(outcome === 'accepted' ? { accepted: true, resolution: true, repository, branch: success.branch } : { duplicate: true, resolution: true, repository, branch: success.branch }, 202);
      }
      const jsonText = webhookJsonText(raw, contentType);
      const payload = parseWebhookJson(jsonText);
      if (decision.parse === 'fix-event') return acceptFixEvent(c, options, normalize(normalizeFixEvent, event, payload), deliveryId, receivedAt);
      if (decision.parse === 'repo-event') {
        const repoEvent = normalize(normalizeRepoEvent, event, payload);
        if (isIgnored(repoEvent)) return answerIgnored(c, repoEvent.reason);
        const repoCheck = options.repoFilter?.(`${repoEvent.owner}/${repoEvent.repo}`);
        if (repoCheck && !repoCheck.allowed) return answerIgnored(c, repoCheck.reason);
        if (!options.repoEvents) return answerIgnored(c, 'this ingest has no repo-events queue');
        const outcome = await beforeDeadline(options.repoEvents.enqueue({ v: 1, deliveryId, receivedAt: receivedAt.toISOString(), ...repoEvent }), receivedAt, options.redisDeadlineMs).catch((error: unknown) => {
          logger.error({ err: error, deliveryId, kind: repoEvent.kind }, 'could not enqueue repository event; GitHub will show the delivery as failed and it can be redelivered');
          throw new IngestError(503, 'queue_unavailable', 'the queue is unreachable; redeliver later', { cause: error, headers: { 'retry-after': '30' } });
        });
        c.set('outcome', outcome);
        return c.json(outcome === 'accepted' ? { accepted: true, repoEvent: true, kind: repoEvent.kind } : { duplicate: true, repoEvent: true, kind: repoEvent.kind }, 202);
      }
      // A JSON body is stored as the bytes GitHub sent; a form body as its `payload` field.
      const payloadJson = jsonText === raw ? c.get('rawBytes') : jsonText;
      const result = normalize(normalizeGithubEvent, event, payload);
      if (isIgnored(result)) {
        // A form body, or a JSON body the prefilter could not read, may still be a fix event.
        return jsonText.includes(FIX_HEAD_BRANCH) ? acceptFixEvent(c, options, normalize(normalizeFixEvent, event, payload), deliveryId, receivedAt) : answerIgnored(c, result.reason);
      }
      const repoCheck = options.repoFilter?.(`${result.owner}/${result.repo}`);
      if (repoCheck && !repoCheck.allowed) return answerIgnored(c, repoCheck.reason);
      const outcome = await beforeDeadline(producer.enqueue({ deliveryId, event: event as CiEvent, action: 'completed', receivedAt, failure: result, payload, payloadJson }), receivedAt, options.redisDeadlineMs)
        .catch((error: unknown) => {
          logger.error({ err: error, deliveryId, failureId: result.id }, 'could not enqueue failure; GitHub will show the delivery as failed and it can be redelivered');
          throw new IngestError(503, 'queue_unavailable', 'the queue is unreachable; redeliver later', {
            cause: error,
            headers: { 'retry-after': '30' },
          });
        });
      c.set('outcome', outcome);
      c.set('failureId', result.id);
      return c.json(outcome === 'accepted' ? { accepted: true, failureId: result.id } : { duplicate: true, failureId: result.id }, 202);
    },
  );
  return app;
}

/**
 * Answers 202 `{ignored: true, reason}`. This and {@link acceptFixEvent} are module functions
 * rather than closures made per delivery: tsx (esbuild `keepNames`) wraps each named closure in a
 * `__name` call, which showed in the ingest profile.
 */
function answerIgnored(c: Context<{ Variables: WebhookVariables }>, reason: string): Response {
  c.set('outcome', 'ignored');
  return c.json({ ignored: true, reason }, 202);
}

/** A fix event: filtered by repository, enqueued on `fix-events` (503 when the queue is unreachable). */
async function acceptFixEvent(c: Context<{ Variables: WebhookVariables }>, options: GithubWebhookOptions, fix: FixEvent | Ignored, deliveryId: string, receivedAt: Date): Promise<Response> {
  if (isIgnored(fix)) return answerIgnored(c, fix.reason);
  const repoCheck = options.repoFilter?.(`${fix.owner}/${fix.repo}`);
  if (repoCheck && !repoCheck.allowed) return answerIgnored(c, repoCheck.reason);
  if (!options.fixEvents) return answerIgnored(c, 'this ingest has no fix-events queue');
  const loopId = loopOfBranch(fix.branch)!;
  const outcome = await beforeDeadline(options.fixEvents.enqueue({ v: 1, deliveryId, receivedAt: receivedAt.toISOString(), ...fix }), receivedAt, options.redisDeadlineMs).catch((error: unknown) => {
    options.logger.error({ err: error, deliveryId, loopId }, 'could not enqueue fix event; GitHub will show the delivery as failed and it can be redelivered');
    throw new IngestError(503, 'queue_unavailable', 'the queue is unreachable; redeliver later', { cause: error, headers: { 'retry-after': '30' } });
  });
  c.set('outcome', outcome);
  c.set('failureId', loopId);
  return c.json(outcome === 'accepted' ? { accepted: true, fixEvent: true, kind: fix.kind, loopId } : { duplicate: true, fixEvent: true, kind: fix.kind, loopId }, 202);
}

/**
 * `step`, or a rejection (`no answer within <ms> ms`) once `deadlineMs` have passed since
 * `receivedAt`; `step` as is without a deadline. The step is not cancelled (see
 * {@link GithubWebhookOptions.redisDeadlineMs}).
 */
function beforeDeadline<T>(step: Promise<T>, receivedAt: Date, deadlineMs: number | undefined): Promise<T> {
  return deadlineMs === undefined ? step : withTimeout(step, Math.max(0, receivedAt.getTime() + deadlineMs - Date.now()));
}

/** `normalizeGithubEvent` or `normalizeFixEvent` of a payload, its shape errors as 400 `bad_payload`. */
function normalize<R>(normalizer: (event: string, payload: object) => R, event: string, payload: object): R {
  try {
    return normalizer(event, payload);
  } catch (error) {
    if (error instanceof PayloadShapeError) throw new IngestError(400, 'bad_payload', error.message, { cause: error });
    throw error;
  }
}
