import type { Server } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Queue } from 'bullmq';
import type { Hono } from 'hono';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { allQueueNames, createDb, createLogger, createRedisConnection, defaultJobOptions, parseEnv, QUEUES, redactRedisUrl, waitForRedisReady, type Logger } from '@pitcrew/core';
import { createIntakeProducer } from '@pitcrew/ingest';
import { createAdminApi, type AdminApi, type AdminApiDeps } from './admin-api.ts';
import { createConsoleApp } from './app.ts';
import { createBoard } from './board.ts';
import { createGithubAppPage, GITHUB_APP_PATH } from './github-app/page.tsx';
import { webUrlFor } from './github-app/setup-app.ts';
import { defaultPages } from './default-pages.ts';
import { ConsoleEnv } from './env.ts';
import { createRedisRevocations, type ConsoleEnv as ConsoleHonoEnv } from './session.ts';

/** What the pages get from `startConsole`: the admin API's dependencies, the API itself (call it in-process with `api.request(…)`), and the public URL. */
export interface PagesDeps extends AdminApiDeps {
  api: AdminApi;
  /** `PITCREW_CONSOLE_URL`, when set. */
  consoleUrl?: string;
}

/** Builds the pages mounted at `/` (`createPages` of `./pages/index.ts`). */
export type PagesFactory = (deps: PagesDeps) => Hono<ConsoleHonoEnv>;

/** A running console process. */
export interface ConsoleHandle {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/**
 * Starts the console from environment variables ({@link ConsoleEnv}): the admin API, Bull Board
 * over every queue, the pages and the GitHub App page (writing `PITCREW_CONSOLE_ENV_FILE`,
 * resolved against the working directory), on `PITCREW_CONSOLE_HOST:PITCREW_CONSOLE_PORT`.
 *
 * @param options.pages the pages to mount at `/` (default {@link defaultPages})
 * @throws {ConfigError} when the environment is invalid
 */
export async function startConsole(
  env: Record<string, string | undefined> = process.env,
  options: { logger?: Logger; pages?: PagesFactory } = {},
): Promise<ConsoleHandle> {
  const config = parseEnv(ConsoleEnv, env);
  const log = options.logger ?? createLogger('console', config.LOG_LEVEL);
  // Like ingest's producers: fail fast while Redis is down (an operator's click gets an error, not a hang).
  // A Redis or, for a redis+cluster:// URL, a Cluster (createRedisConnection); the admin API's commands
  // (HGETALL, EVAL on one key, BullMQ's scripts) run in the queues' slot either way, hence the casts.
  const connection = createRedisConnection(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const redis = connection as Redis;
  redis.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
  if (!(await waitForRedisReady(connection, 10_000))) {
    log.warn({ redis: redactRedisUrl(config.REDIS_URL) }, 'redis is not reachable yet; serving anyway, /readyz reports it');
  }
  const prefix = config.PITCREW_QUEUE_PREFIX;
  const queueOptions = { connection: redis, prefix, defaultJobOptions: defaultJobOptions(config.PITCREW_JOB_ATTEMPTS) };
  const queues = allQueueNames().map((name) => new Queue(name, queueOptions));
  for (const q of queues) q.on('error', (error) => log.warn({ err: error, queue: q.name }, 'queue error'));
  const queue = (name: string) => queues.find((q) => q.name === name)!;
  const db = createDb(config.DATABASE_URL, Math.min(config.PITCREW_DB_POOL_SIZE, 4), (error) => log.warn({ err: error }, 'postgres connection lost; the next query reconnects'));
  const apiDeps: AdminApiDeps = {
    db,
    redis,
    prefix,
    triage: queue(QUEUES.triage),
    // A replay takes ingest's intake path: the same producer, on the intake queue's connection.
    producer: createIntakeProducer(queue(QUEUES.intake), redis, prefix),
    logger: log,
    fixBreaker: { threshold: config.PITCREW_FIX_BREAKER_THRESHOLD, cooldownMs: config.PITCREW_FIX_BREAKER_COOLDOWN_MS },
  };
  const api = createAdminApi(apiDeps);
  const pagesFactory = options.pages ?? defaultPages;
  const app = createConsoleApp({
    api,
    board: createBoard(queues),
    githubApp: createGithubAppPage({
      githubUrl: webUrlFor(config.GITHUB_API_URL),
      apiUrl: config.GITHUB_API_URL,
      envFile: resolvePath(config.PITCREW_CONSOLE_ENV_FILE),
      ...(config.PITCREW_INGEST_PUBLIC_URL ? { webhookUrl: new URL('/webhooks/github', config.PITCREW_INGEST_PUBLIC_URL).toString() } : {}),
      ...(config.PITCREW_CONSOLE_URL ? { callbackUrl: new URL(`${GITHUB_APP_PATH}/callback`, config.PITCREW_CONSOLE_URL).toString() } : {}),
      logger: log,
    }),
    ...(pagesFactory ? { pages: pagesFactory({ ...apiDeps, api, ...(config.PITCREW_CONSOLE_URL ? { consoleUrl: config.PITCREW_CONSOLE_URL } : {}) }) } : {}),
    session: {
      adminToken: config.PITCREW_ADMIN_TOKEN,
      ttlMs: config.PITCREW_CONSOLE_SESSION_TTL_MS,
      revocations: createRedisRevocations(redis, prefix, config.PITCREW_CONSOLE_SESSION_TTL_MS),
      ...(config.PITCREW_CONSOLE_SESSION_SECRET ? { secret: config.PITCREW_CONSOLE_SESSION_SECRET } : {}),
      ...(config.PITCREW_CONSOLE_URL ? { publicUrl: config.PITCREW_CONSOLE_URL } : {}),
    },
    readiness: { redis: () => redis.exists(prefix), postgres: () => sql`select 1`.execute(db) },
    logger: log,
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.PITCREW_CONSOLE_PORT, hostname: config.PITCREW_CONSOLE_HOST }, () => resolve(s));
  });
  const http = server as Server;
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : config.PITCREW_CONSOLE_PORT;
  const host = config.PITCREW_CONSOLE_HOST === '0.0.0.0' ? '127.0.0.1' : config.PITCREW_CONSOLE_HOST;
  const url = `http://${host}:${port}`;
  log.info({ url, pages: Boolean(pagesFactory), publicUrl: config.PITCREW_CONSOLE_URL ?? null }, 'console listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server: http,
    close() {
      // Shutdown order: stop HTTP → queues → db → Redis.
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeIdleConnections();
        });
        await Promise.allSettled(queues.map((q) => q.close()));
        await db.destroy();
        await redis.quit().catch(() => redis.disconnect());
        log.info('console stopped');
      })();
      return closing;
    },
  };
}
