import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createDb, migrateToLatest, parseEnv, QUEUES, RedisEnv } from '@pitcrew/core';
import { redactUrl } from '@pitcrew/ingest';
import {
  ensureBubblewrap,
  ensureRedisServer,
  ensureSocat,
  findFreePort,
  startEmbeddedPostgres,
  startRedisServer,
  type PostgresHandle,
  type RedisServerHandle,
} from '@pitcrew/stack';
import { resolutionJobsOf, runDemo } from '../demo.ts';
import { buildDemoDeliveries } from '../demo-deliveries.ts';
import { demoFixDelivery, demoFixEnv, prepareDemoFixRepository, type DemoFixRepository } from '../demo-fix.ts';
import { Supervisor, type GiveUp, type RestartPolicy } from '../supervisor.ts';
import { waitForHttp } from '../wait-http.ts';

/** Options of `pitcrew start`. */
export interface StartOptions {
  demo: boolean;
  once: boolean;
  workers: number;
  port?: number;
  dataDir: string;
  /** ms the demo waits for every failure to reach a final state and every resolution job to end. */
  demoTimeoutMs: number;
  /** How crashed children are restarted (default: the supervisor's `DEFAULT_RESTART_POLICY`). */
  restartPolicy?: Partial<RestartPolicy>;
}

/** ms a child gets from SIGTERM to exit before SIGKILL: more than a worker's 30 s shutdown timeout + 5 s. */
const CHILD_GRACE_MS = 35_000;

/** Why `pitcrew start` stops serving: a signal, or a child that kept crashing. */
type Ending = { reason: 'signal'; signal: NodeJS.Signals } | { reason: 'gave-up'; giveUp: GiveUp };

const BIN = fileURLToPath(new URL('../../bin/pitcrew.mjs', import.meta.url));

/**
 * `pitcrew start`: the whole system on one machine. Uses `DATABASE_URL` / `REDIS_URL` when set,
 * else starts embedded Postgres (data in `<dataDir>/postgres`, kept across runs) and a
 * redis-server (AOF in `<dataDir>/redis`, installed with apt-get when missing on Debian as root);
 * migrates; starts one ingest, one console (`PITCREW_CONSOLE_PORT`, else a free port) and
 * `workers` worker processes under a {@link Supervisor} (logs in
 * `<dataDir>/logs/<name>.log`; a child that dies is restarted with backoff while the others keep
 * serving); prints one line per endpoint; optionally runs the demo; serves until SIGINT/SIGTERM
 * or until a child crashed too often, or with `once` stops after the demo. Stopping stops the
 * children first (SIGTERM, {@link CHILD_GRACE_MS} each), then Redis and Postgres.
 *
 * @returns the process exit code: 0; 1 when a child crashed too often, or when `once` and a demo
 *   failure did not reach a final state or a demo resolution job did not end
 */
export async function runStart(options: StartOptions): Promise<number> {
  const say = (line: string) => console.log(line);
  const dataDir = resolve(options.dataDir);
  const logDir = resolve(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const started = performance.now();
  const cleanups: (() => Promise<void>)[] = [];
  const supervisor = new Supervisor({ ...(options.restartPolicy ? { policy: options.restartPolicy } : {}), info: say, warn: (line) => console.error(line) });
  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    (stopped ??= (async () => {
      say('stopping: ingest, console and workers, then redis and postgres');
      await supervisor.stop(CHILD_GRACE_MS);
      for (const cleanup of cleanups.reverse()) await cleanup().catch((e) => console.error(e));
    })());

  // The first SIGINT/SIGTERM or a give-up ends serving; a second signal kills the children at once.
  let ending: Ending | undefined;
  let signals = 0;
  let endWith: (value: Ending) => void = () => {};
  const ended = new Promise<Ending>((resolveEnd) => (endWith = (value) => resolveEnd((ending ??= value))));
  void supervisor.gaveUp.then((giveUp) => endWith({ reason: 'gave-up', giveUp }));
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      console.error(`${signal} again: killing ingest and workers now`);
      supervisor.kill();
      process.exit(1);
    }
    endWith({ reason: 'signal', signal });
  };
  const exitCodeOf = (end: Ending, code: number) => (end.reason === 'gave-up' ? 1 : code);

  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      say(`postgres: starting embedded Postgres (data in ${resolve(dataDir, 'postgres')})`);
      const pg: PostgresHandle = await startEmbeddedPostgres({ dataDir: resolve(dataDir, 'postgres'), persistent: true });
      cleanups.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    // The demo's fixable failure: a real local repository whose formatting check fails, fixed in dry run.
    const demoFix = options.demo ? await prepareDemoFixRepository(dataDir) : null;
    const fixEnv = demoFix ? demoFixEnv(demoFix, process.env) : {};
    const fixing = (fixEnv.PITCREW_FIX ?? process.env.PITCREW_FIX ?? 'off') !== 'off';
    // An agent and the fix loop run in bubblewrap (PITCREW_SANDBOX=bwrap, the default): install it like redis-server.
    if ((process.env.PITCREW_AGENT_COMMAND || fixing) && process.env.PITCREW_SANDBOX !== 'none' && !(await ensureBubblewrap({ log: (line) => say(`  ${line}`) }))) {
      say('sandbox: bubblewrap (bwrap) is missing and cannot be installed here; the worker will refuse the agent (apt-get install bubblewrap, or PITCREW_SANDBOX=none)');
    }
    // An allow-list for the fix loop's network (PITCREW_FIX_NETWORK) bridges the sandbox to the worker's egress proxy with socat.
    const fixNetwork = process.env.PITCREW_FIX_NETWORK?.trim().toLowerCase();
    if (fixNetwork && fixNetwork !== 'off' && process.env.PITCREW_SANDBOX !== 'none' && !(await ensureSocat({ log: (line) => say(`  ${line}`) }))) {
      say('sandbox: socat is missing and cannot be installed here; sandboxed fix commands cannot reach PITCREW_FIX_NETWORK (apt-get install socat, or PITCREW_FIX_NETWORK=off)');
    }
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const bin = await ensureRedisServer({ install: true, log: (line) => say(`  ${line}`) });
      say(`redis: starting ${bin} (AOF in ${resolve(dataDir, 'redis')})`);
      const redis: RedisServerHandle = await startRedisServer({ bin, dir: resolve(dataDir, 'redis'), appendonly: true });
      cleanups.push(() => redis.stop());
      redisUrl = redis.url;
    }
    const db = createDb(databaseUrl, 2);
    cleanups.push(() => db.destroy());
    const applied = await migrateToLatest(db);
    say(`migrations: ${applied.length ? applied.join(', ') : 'up to date'}`);

    const secret = process.env.GITHUB_WEBHOOK_SECRET ?? randomBytes(20).toString('hex');
    const adminToken = process.env.PITCREW_ADMIN_TOKEN ?? randomBytes(16).toString('hex');
    const port = options.port ?? (process.env.PORT ? Number(process.env.PORT) : await findFreePort());
    let consolePort = process.env.PITCREW_CONSOLE_PORT ? Number(process.env.PITCREW_CONSOLE_PORT) : await findFreePort();
    while (consolePort === port) consolePort = await findFreePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      GITHUB_WEBHOOK_SECRET: secret,
      PITCREW_ADMIN_TOKEN: adminToken,
      PORT: String(port),
      HOST: process.env.HOST ?? '127.0.0.1',
      PITCREW_CONSOLE_PORT: String(consolePort),
      PITCREW_CONSOLE_HOST: process.env.PITCREW_CONSOLE_HOST ?? process.env.HOST ?? '127.0.0.1',
      // The demo's deliveries are GitHub's example payloads of repositories that are not yours:
      // never publish check runs, comments or issues to them unless PITCREW_PUBLISH says so.
      ...(options.demo && !process.env.PITCREW_PUBLISH ? { PITCREW_PUBLISH: 'none' } : {}),
      // Local mode proposes fixes as files, never pushes, unless told otherwise.
      PITCREW_FIX_DRY_RUN: process.env.PITCREW_FIX_DRY_RUN ?? 'true',
      ...fixEnv,
    };
    const names: string[] = [];
    const startRole = (name: string, role: 'ingest' | 'worker' | 'console', extraEnv: NodeJS.ProcessEnv = {}) => {
      supervisor.start({ name, command: process.execPath, args: [BIN, role], env: { ...env, ...extraEnv }, logFile: resolve(logDir, `${name}.log`) });
      names.push(name);
    };
    // Each worker process serves its own /metrics, so each gets its own port (kept across restarts).
    const metricsHost = process.env.PITCREW_METRICS_HOST ?? '127.0.0.1';
    const metricsPorts = await workerMetricsPorts(options.workers, process.env.PITCREW_METRICS_PORT, metricsHost, [port, consolePort]);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    startRole('ingest', 'ingest');
    startRole('console', 'console');
    for (let i = 1; i <= options.workers; i++) {
      startRole(`worker-${i}`, 'worker', { PITCREW_METRICS_PORT: String(metricsPorts[i - 1] ?? 0), PITCREW_METRICS_HOST: metricsHost });
    }
    const ingestUrl = `http://127.0.0.1:${port}`;
    const consoleUrl = `http://127.0.0.1:${consolePort}`;
    try {
      const why = () => ending && (ending.reason === 'signal' ? `${ending.signal} while starting` : ending.giveUp.message);
      await Promise.all([waitForHttp(`${ingestUrl}/readyz`, 30_000, why), waitForHttp(`${consoleUrl}/readyz`, 30_000, why)]);
    } catch (error) {
      if (!ending) throw error;
      await shutdown();
      return exitCodeOf(ending, 0);
    }

    say(`ingest  ${ingestUrl}/webhooks/github`);
    say(`console ${consoleUrl}   (sign in with the admin token ${adminToken}; Bull Board at ${consoleUrl}/admin/queues)`);
    say(`api     ${consoleUrl}/api   (reference ${consoleUrl}/api/docs; pitcrew failures ls: PITCREW_API_URL=${consoleUrl} PITCREW_ADMIN_TOKEN=${adminToken})`);
    const metricsAt = (p: number) => `http://${metricsHost === '0.0.0.0' ? '127.0.0.1' : metricsHost}:${p}/metrics`;
    say(`metrics ${ingestUrl}/metrics   workers: ${metricsPorts.length ? metricsPorts.map(metricsAt).join(' ') : 'off (PITCREW_METRICS_PORT=0)'}`);
    say(`DATABASE_URL=${databaseUrl}`);
    say(`REDIS_URL=${redisUrl}`);
    say(`GITHUB_WEBHOOK_SECRET=${process.env.GITHUB_WEBHOOK_SECRET ? '(from environment)' : secret}`);
    say(`logs    ${logDir}/{ingest,console,worker-N}.log   workers: ${options.workers}   ready in ${Math.round(performance.now() - started)} ms`);
    say(`pids    ${names.map((name) => `${name} ${supervisor.pid(name) ?? '(restarting)'}`).join('   ')}   (restarted when they die)`);

    let code = 0;
    if (options.demo) {
      say('demo: sending GitHub example deliveries (@octokit/webhooks-examples), signed, over HTTP');
      // The demo's successes become resolution jobs; it reads their outcome from the workers' queue.
      const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
      const resolutions = new Queue(QUEUES.resolutions, { connection, prefix: parseEnv(RedisEnv, { ...process.env, REDIS_URL: redisUrl }).PITCREW_QUEUE_PREFIX });
      resolutions.on('error', (error) => console.error(`demo: resolutions queue: ${error.message}`));
      const demo = await Promise.race([
        runDemo({
          ingestUrl,
          secret,
          db,
          timeoutMs: options.demoTimeoutMs,
          onProgress: (line) => say(`  ${line}`),
          resolutionJob: resolutionJobsOf(resolutions),
          ...demoFixDeliveries(demoFix),
        }).then((result) => ({ result })),
        ended.then(() => undefined),
      ]).finally(async () => {
        await resolutions.close();
        connection.disconnect();
      });
      if (!demo) {
        await shutdown();
        return exitCodeOf(ending!, 1);
      }
      const { result } = demo;
      say(result.table);
      say(
        `demo: ${result.finished.length} failures final, ${result.unfinished.length} not, in ${Math.round(result.elapsedMs)} ms` +
          (result.unfinished.length ? ` (unfinished: ${result.unfinished.join(', ')})` : ''),
      );
      say(
        `demo: ${result.resolutionsEnded.length} resolution jobs ended, ${result.resolutionsPending.length} not; ${result.resolved.length} failures resolved` +
          (result.resolved.length ? ` (${result.resolved.join(', ')})` : ''),
      );
      say(`inspect: psql ${redactUrl(databaseUrl)} -c 'select id, status, category, runner, resolved_at from failures'`);
      if (result.unfinished.length > 0 || result.resolutionsPending.length > 0) code = 1;
    }
    if (options.once) {
      await shutdown();
      return ending ? exitCodeOf(ending, code) : code;
    }
    say('serving; Ctrl-C to stop');
    const end = await ended;
    await shutdown();
    return exitCodeOf(end, code);
  } catch (error) {
    await shutdown();
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Metrics ports of the `count` workers: `PITCREW_METRICS_PORT` unset → a free port each; `0` →
 * none (off); `N` → N, N+1, … (one per worker process). Free ports never repeat one of `taken`
 * or each other.
 *
 * @throws {Error} when `configured` is not a port number
 */
async function workerMetricsPorts(count: number, configured: string | undefined, host: string, taken: number[]): Promise<number[]> {
  if (configured === undefined || configured === '') {
    const ports: number[] = [];
    while (ports.length < count) {
      const free = await findFreePort(host === '0.0.0.0' ? '127.0.0.1' : host);
      if (!ports.includes(free) && !taken.includes(free)) ports.push(free);
    }
    return ports;
  }
  const base = Number(configured);
  if (!Number.isInteger(base) || base < 0 || base + count - 1 > 65535) throw new Error(`PITCREW_METRICS_PORT=${configured} is not a port for ${count} workers`);
  return base === 0 ? [] : Array.from({ length: count }, (_, i) => base + i);
}


/** The demo's fixable failure as `runDemo` options: sent after the examples, its fix awaited. */
function demoFixDeliveries(repo: DemoFixRepository | null): { extraDeliveries?: ReturnType<typeof buildDemoDeliveries>; awaitFix?: string[] } {
  if (!repo) return {};
  const example = buildDemoDeliveries().find((d) => d.label === 'workflow_job failure')!;
  const delivery = demoFixDelivery(repo, example);
  return { extraDeliveries: [delivery], awaitFix: [delivery.deliveryId] };
}
