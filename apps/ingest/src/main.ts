import { serve, type ServerType } from '@hono/node-server';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Server } from 'node:http';
import {
  createDb,
  createLogger,
  createRedisConnection,
  waitForRedisReady,
  redactRedisUrl,
  defaultJobOptions,
  parseEnv,
  QUEUES,
  allQueueNames,
  type Logger,
  type RedisConnection,
} from '@pitcrew/core';
import { createApp } from './app.ts';
import { IngestEnv } from './env.ts';
import { createFixEventProducer } from './fix-event-producer.ts';
import { createIntakeProducer } from './intake-producer.ts';
import { createRepoEventProducer } from './repo-event-producer.ts';
import { createIngestMetrics } from './metrics.ts';
import { createRepoFilter } from './repo-filter.ts';
import { createResolutionProducer } from './resolution-producer.ts';

/**
 * Node HTTP server limits against slow clients (slow-loris) and oversized headers. GitHub sends a
 * delivery in one request and gives up after 10 s (GitHub docs, "Handling webhook deliveries":
 * respond within 10 seconds), so nothing legitimate needs longer.
 */
export const SERVER_LIMITS = {
  /** ms to receive the complete request headers. */
  headersTimeout: 10_000,
  /** ms to receive the complete request, body included. */
  requestTimeout: 30_000,
  /** ms an idle keep-alive connection stays open; above a typical load balancer's 60 s. */
  keepAliveTimeout: 65_000,
  /** Largest request header block, bytes (Node's default, stated). */
  maxHeaderSize: 16 * 1024,
  /**
   * ms between Node's sweeps for requests past `headersTimeout`/`requestTimeout`; Node's default
   * of 30 s would let a slow client hold a socket up to 30 s past its deadline.
   */
  connectionsCheckingInterval: 2_000,
};
export type ServerLimits = typeof SERVER_LIMITS;

/**
 * ms a delivery may wait on Redis (a success's open-failures lookup and the enqueue, together)
 * before ingest answers 503 with Retry-After: half of GitHub's 10 s answer budget (GitHub docs,
 * "Handling webhook deliveries"), so GitHub records a failed delivery that can be redelivered
 * rather than a timeout. It bounds a Redis Cluster failover (the slot has no reachable master for
 * about `cluster-node-timeout` + 1 s; 15 s by default) and a Redis that stopped answering (no
 * command timeout otherwise). An enqueue that completes after its 503 is kept; the redelivery,
 * same delivery id, is answered 202 duplicate. On a cluster the connection also stops retrying a
 * command after about this long (`failoverWaitMs`, counted in retries, so only roughly).
 */
export const INGEST_REDIS_DEADLINE_MS = 5_000;

/** A running ingest process. */
export interface IngestHandle {
  url: string;
  port: number;
  /** The Node HTTP server, for inspection. */
  server: Server;
  /**
   * Graceful stop: `/readyz` answers 503 from the call on; after `PITCREW_INGEST_DRAIN_MS` the
   * port closes, in-flight requests finish, then queues, Postgres and Redis are closed.
   */
  close(): Promise<void>;
}

/**
 * Starts the ingest server from environment variables.
 *
 * @throws {ConfigError} when the environment is invalid
 */
export async function startIngest(
  env: Record<string, string | undefined> = process.env,
  logger?: Logger,
  options: { limits?: Partial<ServerLimits> } = {},
): Promise<IngestHandle> {
  const limits = { ...SERVER_LIMITS, ...options.limits };
  const config = parseEnv(IngestEnv, env);
  const log = logger ?? createLogger('ingest', config.LOG_LEVEL);
  // Producers fail fast instead of queueing commands while Redis is down (BullMQ docs,
  // "Going to production"), so a delivery we cannot enqueue gets a 503, never a 202.
  // A delivery waits on Redis up to INGEST_REDIS_DEADLINE_MS (a cluster failover among the causes), then gets a 503.
  //
  // No auto-pipelining (ioredis docs, "Autopipelining": the commands of one event-loop tick share
  // one write). ioredis builds a Pipeline per tick, and a Pipeline copies every Lua script
  // defined on its connection; BullMQ defines ~60 on this one, the queues' own. Measured: 34.6 µs
  // per Pipeline here vs 3.2 µs on a connection without scripts, more than the writes it saves;
  // turning it off took 8-14 µs of CPU off each delivery of the bench's mix (README, "The ingest
  // hot path"). A second, script-free auto-pipelined connection for the lookups and seen marks
  // measured no better than none. Commands still go out in the order they are issued, which the
  // intake producer relies on (a payload before its job).
  const redis = createRedisConnection(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: false, failoverWaitMs: INGEST_REDIS_DEADLINE_MS });
  redis.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
  if (!(await waitForRedisReady(redis, 10_000))) {
    log.warn({ redis: redactRedisUrl(config.REDIS_URL) }, 'redis is not reachable yet; serving anyway, /readyz reports it and deliveries get 503 until it is');
  }
  const prefix = config.PITCREW_QUEUE_PREFIX;
  const queueOptions = {
    connection: redis,
    prefix,
    defaultJobOptions: defaultJobOptions(config.PITCREW_JOB_ATTEMPTS),
  };
  const intake = new Queue(QUEUES.intake, queueOptions);
  // Every queue, for the queue gauges of /metrics: intake, triage, the runner queues, publish, fix and fix-events.
  const queues = allQueueNames().map((name) => (name === QUEUES.intake ? intake : new Queue(name, queueOptions)));
  for (const q of queues) q.on('error', (error) => log.warn({ err: error, queue: q.name }, 'queue error'));
  const db = createDb(config.DATABASE_URL, Math.min(config.PITCREW_DB_POOL_SIZE, 2), (error) =>
    log.warn({ err: error }, 'postgres connection lost; the next query reconnects'),
  );
  // The intake producer: the console replays deliveries through the same path (createIntakeProducer).
  const producer = createIntakeProducer(intake, redis, prefix);
  const fixEvents = createFixEventProducer(queues.find((q) => q.name === QUEUES.fixEvents)!, redis, prefix);
  const resolutions = config.PITCREW_RESOLUTION ? createResolutionProducer(queues.find((q) => q.name === QUEUES.resolutions)!, redis, prefix) : undefined;
  const repoEvents = createRepoEventProducer(queues.find((q) => q.name === QUEUES.repoEvents)!, redis, prefix);
  // From the start of close() (SIGTERM) until the port is closed; /readyz answers 503 meanwhile.
  let draining = false;
  const app = createApp({
    draining: () => draining,
    secrets: config.GITHUB_WEBHOOK_SECRET,
    maxBodyBytes: config.PITCREW_MAX_BODY_BYTES,
    producer,
    fixEvents,
    ...(resolutions ? { resolutions } : {}),
    repoEvents,
    logger: log,
    redisDeadlineMs: INGEST_REDIS_DEADLINE_MS,
    ...(config.PITCREW_REPOS_ALLOW.length || config.PITCREW_REPOS_DENY.length
      ? { repoFilter: createRepoFilter(config.PITCREW_REPOS_ALLOW, config.PITCREW_REPOS_DENY) }
      : {}),
    readiness: {
      // A read in the queues' slot: on a cluster it asks that slot's master, not a random node.
      redis: () => redis.exists(prefix),
      postgres: () => sql`select 1`.execute(db),
    },
    metrics: {
      metrics: createIngestMetrics({ queues }),
      ...(config.PITCREW_METRICS_TOKEN ? { token: config.PITCREW_METRICS_TOKEN } : {}),
    },
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: config.PORT,
        hostname: config.HOST,
        serverOptions: {
          maxHeaderSize: limits.maxHeaderSize,
          connectionsCheckingInterval: limits.connectionsCheckingInterval,
        },
      },
      () => resolve(s),
    );
  });
  const http = server as Server;
  http.headersTimeout = limits.headersTimeout;
  http.requestTimeout = limits.requestTimeout;
  http.keepAliveTimeout = limits.keepAliveTimeout;
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
  const url = `http://${host}:${port}`;
  log.info({ url, metrics: `${url}/metrics`, metricsAuth: Boolean(config.PITCREW_METRICS_TOKEN) }, 'ingest listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server: http,
    close() {
      // Shutdown order: drain (/readyz 503 for PITCREW_INGEST_DRAIN_MS, still serving) → stop HTTP
      // (finish in-flight requests) → queues → db → Redis.
      closing ??= (async () => {
        draining = true;
        if (config.PITCREW_INGEST_DRAIN_MS > 0) {
          log.info({ drainMs: config.PITCREW_INGEST_DRAIN_MS }, 'draining: /readyz answers 503 until the port closes');
          await new Promise((resolve) => setTimeout(resolve, config.PITCREW_INGEST_DRAIN_MS));
        }
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeIdleConnections();
        });
        await Promise.allSettled(queues.map((q) => q.close()));
        await db.destroy();
        await redis.quit().catch(() => redis.disconnect());
        log.info('ingest stopped');
      })();
      return closing;
    },
  };
}

/** A URL with its password replaced, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
