import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, findFreePort, parseExposition, sampleValue as value, testPrefix } from '@pitcrew/testkit';
import { createApp } from './app.ts';
import { createIntakeProducer } from './intake-producer.ts';
import { createIngestMetrics, DELIVERY_DURATION_BUCKETS } from './metrics.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const example = (event: string, test: (e: any) => boolean) =>
  structuredClone(sets.find((s) => s.name === event)!.examples.find(test));
/** A failed workflow_job with a job id of its own, so each is a new failure. */
const jobFailure = () => {
  const payload = example('workflow_job', (e) => e.workflow_job.conclusion === 'failure');
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  return payload;
};

const BIN = fileURLToPath(new URL('../../cli/bin/pitcrew.mjs', import.meta.url));
const SECRET = 'metrics-secret-0123456789';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const logger = pino({ level: 'silent' });

let redis: Redis;
let prefix: string;
let intake: Queue;

beforeAll(() => {
  redis = createTestRedis();
});
afterAll(async () => {
  await redis.quit();
});
beforeEach(() => {
  prefix = testPrefix();
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  return async () => {
    await intake.close();
    await deleteKeysWithPrefix(redis, prefix);
  };
});

function makeApp(options: { cacheMs?: number; token?: string; queues?: Queue[] } = {}) {
  const metrics = createIngestMetrics({ queues: options.queues ?? [intake], ...(options.cacheMs !== undefined ? { cacheMs: options.cacheMs } : {}) });
  const app = createApp({
    secrets: [SECRET],
    maxBodyBytes: 64 * 1024,
    producer: createIntakeProducer(intake, redis, prefix),
    logger,
    readiness: {},
    metrics: { metrics, ...(options.token ? { token: options.token } : {}) },
  });
  return app;
}

async function deliver(app: ReturnType<typeof createApp>, event: string, payload: unknown, options: { deliveryId?: string; secret?: string } = {}) {
  const body = JSON.stringify(payload);
  const response = await app.request('/webhooks/github', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': options.deliveryId ?? randomUUID(),
      'x-hub-signature-256': await sign(options.secret ?? SECRET, body),
    },
    body,
  });
  return response.status;
}

async function scrape(app: ReturnType<typeof createApp>, headers: Record<string, string> = {}) {
  const response = await app.request('/metrics', { headers });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

describe('GET /metrics (ingest)', () => {
  it('counts real deliveries by event, outcome and rejection reason, with a latency histogram', async () => {
    const app = makeApp();
    const redelivered = randomUUID();
    expect(await deliver(app, 'workflow_job', jobFailure(), { deliveryId: redelivered })).toBe(202);
    expect(await deliver(app, 'workflow_job', jobFailure())).toBe(202);
    expect(await deliver(app, 'workflow_job', jobFailure(), { deliveryId: redelivered })).toBe(202); // duplicate
    expect(await deliver(app, 'issues', { action: 'opened' })).toBe(202); // ignored: not a CI event
    expect(await deliver(app, 'ping', example('ping', () => true))).toBe(200);
    expect(await deliver(app, 'workflow_job', jobFailure(), { secret: 'not-the-secret-0123456789' })).toBe(401);
    expect(await deliver(app, 'made_up_event_' + randomUUID(), {}, { secret: 'not-the-secret-0123456789' })).toBe(401);

    const res = await scrape(app);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseExposition(res.text);
    const deliveries = (event: string, outcome: string, reason = '') =>
      value(samples, 'pitcrew_ingest_deliveries_total', { event, outcome, reason });
    expect(deliveries('workflow_job', 'accepted')).toBe(2);
    expect(deliveries('workflow_job', 'duplicate')).toBe(1);
    expect(deliveries('other', 'ignored')).toBe(1);
    expect(deliveries('ping', 'ping')).toBe(1);
    expect(deliveries('workflow_job', 'rejected', 'bad_signature')).toBe(1);
    // A client-chosen event name never becomes a label value.
    expect(deliveries('other', 'rejected', 'bad_signature')).toBe(1);
    expect(samples.filter((s) => s.name === 'pitcrew_ingest_deliveries_total').reduce((sum, s) => sum + s.value, 0)).toBe(7);
    expect(samples.some((s) => s.labels.event?.startsWith('made_up_event'))).toBe(false);

    expect(value(samples, 'pitcrew_ingest_delivery_duration_seconds_count', { outcome: 'accepted' })).toBe(2);
    expect(value(samples, 'pitcrew_ingest_delivery_duration_seconds_count', { outcome: 'rejected' })).toBe(2);
    expect(value(samples, 'pitcrew_ingest_delivery_duration_seconds_sum', { outcome: 'accepted' })).toBeGreaterThan(0);
    // Every bucket boundary is exposed, and +Inf holds every observation.
    const buckets = samples.filter((s) => s.name === 'pitcrew_ingest_delivery_duration_seconds_bucket' && s.labels.outcome === 'accepted');
    expect(buckets.map((b) => b.labels.le)).toEqual([...DELIVERY_DURATION_BUCKETS.map(String), '+Inf']);
    expect(buckets.at(-1)!.value).toBe(2);

    // Node process metrics come along.
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('reports queue depth by state and the age of the oldest waiting job, read from Redis on scrape', async () => {
    const app = makeApp({ cacheMs: 0 });
    // The head of the wait list (FIFO: first added, next to run) was added two minutes ago.
    await intake.add('old', { v: 0 }, { timestamp: Date.now() - 120_000 });
    expect(await deliver(app, 'workflow_job', jobFailure())).toBe(202);
    await intake.add('later', { v: 0 }, { delay: 60_000 });
    const samples = parseExposition((await scrape(app)).text);
    expect(value(samples, 'pitcrew_queue_jobs', { queue: 'intake', state: 'waiting' })).toBe(2);
    expect(value(samples, 'pitcrew_queue_jobs', { queue: 'intake', state: 'delayed' })).toBe(1);
    expect(value(samples, 'pitcrew_queue_jobs', { queue: 'intake', state: 'active' })).toBe(0);
    expect(value(samples, 'pitcrew_queue_jobs', { queue: 'intake', state: 'failed' })).toBe(0);
    const age = value(samples, 'pitcrew_queue_oldest_waiting_age_seconds', { queue: 'intake' })!;
    expect(age).toBeGreaterThanOrEqual(120);
    expect(age).toBeLessThan(3_600);
    expect(value(samples, 'pitcrew_queue_stats_up')).toBe(1);
    expect(value(samples, 'pitcrew_ingest_processes')).toBe(1);

    await intake.drain(true);
    const empty = parseExposition((await scrape(app)).text);
    expect(value(empty, 'pitcrew_queue_jobs', { queue: 'intake', state: 'waiting' })).toBe(0);
    expect(value(empty, 'pitcrew_queue_oldest_waiting_age_seconds', { queue: 'intake' })).toBe(0);
  });

  it('serves queue statistics from a cache between scrapes', async () => {
    const app = makeApp({ cacheMs: 60_000 });
    await intake.add('a', { v: 0 });
    const first = parseExposition((await scrape(app)).text);
    expect(value(first, 'pitcrew_queue_jobs', { queue: 'intake', state: 'waiting' })).toBe(1);
    await intake.add('b', { v: 0 });
    const cached = parseExposition((await scrape(app)).text);
    expect(value(cached, 'pitcrew_queue_jobs', { queue: 'intake', state: 'waiting' })).toBe(1);
    // Another registry without the cache sees the second job.
    const fresh = parseExposition((await scrape(makeApp({ cacheMs: 0 }))).text);
    expect(value(fresh, 'pitcrew_queue_jobs', { queue: 'intake', state: 'waiting' })).toBe(2);
  });

  it('still answers when Redis is unreachable, with pitcrew_queue_stats_up 0 and no queue samples', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused.
    const down = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    down.on('error', () => {});
    const unreachable = new Queue(QUEUES.intake, { connection: down, prefix });
    unreachable.on('error', () => {});
    try {
      const res = await scrape(makeApp({ queues: [unreachable], cacheMs: 0 }));
      expect(res.status).toBe(200);
      const samples = parseExposition(res.text);
      expect(value(samples, 'pitcrew_queue_stats_up')).toBe(0);
      expect(samples.some((s) => s.name === 'pitcrew_queue_jobs')).toBe(false);
    } finally {
      await unreachable.close().catch(() => {});
      down.disconnect();
    }
  });

  it('asks for the bearer token when PITCREW_METRICS_TOKEN is set', async () => {
    const app = makeApp({ token: METRICS_TOKEN });
    const anonymous = await scrape(app);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text)).toMatchObject({ error: 'unauthorized' });
    expect((await scrape(app, { authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    const authorized = await scrape(app, { authorization: `Bearer ${METRICS_TOKEN}` });
    expect(authorized.status).toBe(200);
    expect(authorized.text).toContain('# TYPE pitcrew_ingest_deliveries_total counter');
  });
});

describe('GET /metrics under node:cluster (PITCREW_INGEST_PROCESSES=2)', () => {
  it('answers with every process\'s deliveries summed, whichever process takes the scrape', async () => {
    const tdb = await createTestDatabase();
    const port = await findFreePort();
    // Not the test worker's IPC channel variables: the child has no channel of its own.
    const { NODE_CHANNEL_FD: _fd, NODE_CHANNEL_SERIALIZATION_MODE: _mode, ...parentEnv } = process.env;
    const child = spawn(process.execPath, [BIN, 'ingest'], {
      env: {
        ...parentEnv,
        REDIS_URL: inject('redisUrl'),
        DATABASE_URL: tdb.url,
        PITCREW_QUEUE_PREFIX: prefix,
        GITHUB_WEBHOOK_SECRET: SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        PITCREW_INGEST_PROCESSES: '2',
        LOG_LEVEL: 'error',
      },
      stdio: 'inherit',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      // A readiness bound, not a speed assertion: two tsx forks take seconds on a loaded machine.
      const deadline = Date.now() + 60_000;
      while ((await send(`${base}/healthz`).catch(() => null))?.status !== 200) {
        if (Date.now() > deadline) throw new Error('ingest cluster did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      // Both processes ready: the aggregate counts them.
      while (value(parseExposition((await send(`${base}/metrics`)).text), 'pitcrew_ingest_processes') !== 2) {
        if (Date.now() > deadline) throw new Error('the second ingest process did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      // One connection per request: the primary hands connections to the processes round-robin.
      for (let i = 0; i < 6; i++) {
        const body = JSON.stringify(jobFailure());
        const headers = { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(SECRET, body) };
        expect((await send(`${base}/webhooks/github`, { method: 'POST', headers, body })).status).toBe(202);
      }
      for (let i = 0; i < 4; i++) {
        const samples = parseExposition((await send(`${base}/metrics`)).text);
        expect(value(samples, 'pitcrew_ingest_deliveries_total', { event: 'workflow_job', outcome: 'accepted', reason: '' })).toBe(6);
        expect(value(samples, 'pitcrew_ingest_delivery_duration_seconds_count', { outcome: 'accepted' })).toBe(6);
        // Queue gauges are taken from one process, not summed (each may serve its 5 s cache from before the deliveries).
        expect([0, 6]).toContain(value(samples, 'pitcrew_queue_jobs', { queue: 'intake', state: 'waiting' }));
        expect(value(samples, 'pitcrew_queue_stats_up')).toBe(1);
        expect(value(samples, 'pitcrew_ingest_processes')).toBe(2);
      }
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await tdb.destroy();
    }
  }, 120_000);
});

/** An HTTP request on a connection of its own (no keep-alive agent). */
function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
