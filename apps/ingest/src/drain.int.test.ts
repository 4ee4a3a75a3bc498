import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, findFreePort, testPrefix, type TestDatabase } from '@pitcrew/testkit';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const BIN = fileURLToPath(new URL('../../cli/bin/pitcrew.mjs', import.meta.url));
const SECRET = 'drain-secret-0123456789';
/** Long enough that the requests below, sent once the drain has begun, land inside it on a loaded machine. */
const DRAIN_MS = 4_000;

let tdb: TestDatabase;
let redis: Redis;

beforeAll(async () => {
  tdb = await createTestDatabase();
  redis = createTestRedis();
});
afterAll(async () => {
  await Promise.all([tdb.destroy(), redis.quit()]);
});

describe('ingest on SIGTERM (a real `pitcrew ingest` process)', () => {
  it('answers /readyz 503 with Connection: close from SIGTERM until its port closes, still takes deliveries, then exits 0', async () => {
    const prefix = testPrefix();
    const port = await findFreePort();
    const base = `http://127.0.0.1:${port}`;
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
        PITCREW_INGEST_DRAIN_MS: String(DRAIN_MS),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
    try {
      // A readiness bound, not a speed assertion: tsx starts in seconds on a loaded machine.
      const deadline = Date.now() + 60_000;
      while ((await send(`${base}/readyz`).catch(() => null))?.status !== 200) {
        if (Date.now() > deadline) throw new Error(`ingest did not become ready:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const before = await send(`${base}/readyz`);
      expect(before.headers.connection).toBe('keep-alive');

      child.kill('SIGTERM');
      while (!output.includes('draining: /readyz answers 503')) {
        if (Date.now() > deadline) throw new Error(`no drain log line:\n${output}`);
        await new Promise((r) => setTimeout(r, 20));
      }

      const readyz = await send(`${base}/readyz`);
      expect(readyz.status).toBe(503);
      expect(JSON.parse(readyz.text)).toEqual({ ready: false, draining: true, checks: {} });
      expect(readyz.headers.connection).toBe('close');
      // Liveness stays green: the process is healthy, only leaving.
      expect((await send(`${base}/healthz`)).status).toBe(200);
      // A delivery that arrives while draining is still accepted and queued, not lost.
      const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
      payload.workflow_job.id = Math.floor(Math.random() * 1e12);
      const body = JSON.stringify(payload);
      const delivery = await send(`${base}/webhooks/github`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(SECRET, body) },
        body,
      });
      expect(delivery.status).toBe(202);
      expect(delivery.headers.connection).toBe('close');

      expect(await exited).toBe(0);
      expect(output).toContain('ingest stopped');
      expect(await intake.getJobCounts('waiting')).toEqual({ waiting: 1 });
      const refused = await send(`${base}/readyz`).then(
        () => null,
        (error: NodeJS.ErrnoException) => error.code,
      );
      expect(refused).toBe('ECONNREFUSED');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await intake.close();
      await deleteKeysWithPrefix(redis, prefix);
    }
  }, 90_000);
});

/** Keep-alive connections, as a load balancer holds them: the server's `Connection` answer tells whether it keeps them. */
const keepAlive = new Agent({ keepAlive: true });
afterAll(() => keepAlive.destroy());

/** An HTTP request that asks to keep its connection open. */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: keepAlive }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
