import { Hono } from 'hono';
import type { Logger } from 'pino';
import { answerJsonErrors } from './errors.ts';
import type { FixEventProducer } from './fix-event-producer.ts';
import type { IntakeProducer } from './intake-producer.ts';
import { createMetricsRoutes, type IngestMetrics } from './metrics.ts';
import type { RepoEventProducer } from './repo-event-producer.ts';
import type { RepoFilter } from './repo-filter.ts';
import type { ResolutionProducer } from './resolution-producer.ts';
import { createGithubWebhookRoutes, type DeliveryDetail, type WebhookOutcome } from './webhook.ts';
import { checkReadiness } from './readiness.ts';

/** Everything the ingest app needs; `main.ts` builds the real ones, tests build their own. */
export interface IngestDeps {
  secrets: string[];
  maxBodyBytes: number;
  producer: IntakeProducer;
  /** Where fix events go (`fix-events` queue); unset = they are answered 202 ignored. */
  fixEvents?: FixEventProducer;
  /** Where successes of branches with open failures go (`resolutions` queue); unset = no lookups, 202 ignored. */
  resolutions?: ResolutionProducer;
  /** Where repository events go (`repo-events` queue); unset = they are answered 202 ignored. */
  repoEvents?: RepoEventProducer;
  logger: Logger;
  repoFilter?: RepoFilter;
  /** Named readiness checks for `/readyz`; each resolves when its dependency answers. */
  readiness: Record<string, () => Promise<unknown>>;
  /**
   * True from SIGTERM (the start of `close`) until the server has closed: `/readyz` answers 503
   * `{ready: false, draining: true}` and every answer carries `Connection: close`, so a load
   * balancer stops routing here and keep-alive clients reconnect elsewhere. Unset = never.
   */
  draining?: () => boolean;
  onOutcome?: (event: string, outcome: WebhookOutcome, detail: DeliveryDetail) => void;
  /** Prometheus metrics served at `GET /metrics` (behind a bearer token when `token` is set); deliveries are counted into them. */
  metrics?: { metrics: IngestMetrics; token?: string };
  /** ms a delivery may wait on Redis before its 503 (`GithubWebhookOptions.redisDeadlineMs`); unset = no deadline. */
  redisDeadlineMs?: number;
}

/**
 * The ingest HTTP app:
 * - `POST /webhooks/github` (see `createGithubWebhookRoutes`)
 * - `GET /healthz` → 200 `{ok: true}` while the process serves
 * - `GET /readyz` → 200 `{ready: true, checks}` when every dependency answers, else 503 with the
 *   failing checks and their errors; 503 `{ready: false, draining: true, checks: {}}` while
 *   shutting down (`deps.draining`)
 * - `GET /metrics` → Prometheus text format, when configured (see `createMetricsRoutes`)
 *
 * Nothing else: this is the port GitHub (the internet) reaches. The admin API, Bull Board and the
 * pages are the console's (`@pitcrew/console`, its own process and port); `/api/…` and `/admin/…`
 * answer 404 here like any other path. Every error answer is JSON `{error, reason}`.
 */
export function createApp(deps: IngestDeps): Hono {
  const app = new Hono();
  const draining = deps.draining ?? (() => false);
  app.use('*', async (c, next) => {
    await next();
    // A closing server answers what it has been sent, then ends each connection after its answer.
    if (draining()) c.res.headers.set('connection', 'close');
  });
  app.route(
    '/webhooks/github',
    createGithubWebhookRoutes({
      secrets: deps.secrets,
      maxBodyBytes: deps.maxBodyBytes,
      producer: deps.producer,
      ...(deps.fixEvents ? { fixEvents: deps.fixEvents } : {}),
      ...(deps.resolutions ? { resolutions: deps.resolutions } : {}),
      ...(deps.repoEvents ? { repoEvents: deps.repoEvents } : {}),
      logger: deps.logger,
      ...(deps.repoFilter ? { repoFilter: deps.repoFilter } : {}),
      ...(deps.onOutcome || deps.metrics ? { onOutcome: fanOut(deps.metrics?.metrics.observeDelivery, deps.onOutcome) } : {}),
      ...(deps.redisDeadlineMs !== undefined ? { redisDeadlineMs: deps.redisDeadlineMs } : {}),
    }),
  );
  if (deps.metrics) app.route('/metrics', createMetricsRoutes(deps.metrics.metrics, deps.metrics.token));
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    if (draining()) return c.json({ ready: false, draining: true, checks: {} }, 503);
    const { ready, checks } = await checkReadiness(deps.readiness);
    return c.json({ ready, checks }, ready ? 200 : 503);
  });
  answerJsonErrors(app, deps.logger, 'the ingest logs');
  return app;
}

function fanOut<A extends unknown[]>(...hooks: (((...args: A) => void) | undefined)[]): (...args: A) => void {
  return (...args) => {
    for (const hook of hooks) hook?.(...args);
  };
}

