import { connect } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError } from '@pitcrew/core';
import { createTestDatabase, type TestDatabase } from '@pitcrew/testkit';
import { SERVER_LIMITS, startIngest } from './main.ts';

const logger = pino({ level: 'silent' });
let tdb: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  env = { REDIS_URL: inject('redisUrl'), DATABASE_URL: tdb.url, GITHUB_WEBHOOK_SECRET: 'server-secret-0123', PORT: '0', HOST: '127.0.0.1' };
});
afterAll(() => tdb.destroy());

describe('startIngest', () => {
  it('applies the documented server limits and answers readiness over real HTTP', async () => {
    const ingest = await startIngest(env, logger);
    try {
      expect(ingest.server.headersTimeout).toBe(SERVER_LIMITS.headersTimeout);
      expect(ingest.server.requestTimeout).toBe(SERVER_LIMITS.requestTimeout);
      expect(ingest.server.keepAliveTimeout).toBe(SERVER_LIMITS.keepAliveTimeout);
      const ready = await fetch(`${ingest.url}/readyz`);
      expect(await ready.json()).toEqual({ ready: true, checks: { redis: { ok: true }, postgres: { ok: true } } });
    } finally {
      await ingest.close();
    }
  });

  it('drops a slow-loris client that never finishes its headers', async () => {
    const ingest = await startIngest(env, logger, { limits: { headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 100 } });
    try {
      const socket = connect(ingest.port, '127.0.0.1');
      let received = '';
      socket.on('data', (d) => (received += d));
      socket.write('POST /webhooks/github HTTP/1.1\r\nHost: pitcrew\r\nX-GitHub-Event: workflow_job\r\n');
      const closed = await new Promise<boolean>((resolve) => {
        socket.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 5_000);
      });
      expect(closed).toBe(true);
      expect(received).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await ingest.close();
    }
  });

  it('serves only /webhooks/github, /healthz, /readyz and /metrics: /api and /admin answer 404 even with the admin token set', async () => {
    const token = 'ingest-admin-token-0123456789';
    const ingest = await startIngest({ ...env, PITCREW_ADMIN_TOKEN: token, PITCREW_METRICS_TOKEN: 'ingest-metrics-token-0123456789' }, logger);
    try {
      const bearer = { authorization: `Bearer ${token}` };
      const basic = { authorization: `Basic ${Buffer.from(`ops:${token}`).toString('base64')}` };
      for (const path of ['/api', '/api/failures', '/api/openapi.json', '/admin', '/admin/queues', '/admin/queues/api/queues', '/login']) {
        for (const headers of [{}, bearer, basic]) {
          const res = await fetch(`${ingest.url}${path}`, { headers });
          expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(404);
          expect(await res.json()).toEqual({ error: 'not_found', reason: `no route for GET ${path}` });
        }
      }
      const retry = await fetch(`${ingest.url}/api/failures/gh-job-1/retry`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: '{}' });
      expect(retry.status).toBe(404);
      // What it does serve: health, readiness, metrics behind their own token, and the webhook route.
      expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${ingest.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${ingest.url}/metrics`, { headers: { authorization: 'Bearer ingest-metrics-token-0123456789' } })).status).toBe(200);
      expect((await fetch(`${ingest.url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401); // unsigned
    } finally {
      await ingest.close();
    }
  });

  it('refuses to start on bad configuration, naming the variable', async () => {
    const error = await startIngest({ ...env, PORT: 'eighty', GITHUB_WEBHOOK_SECRET: '' }, logger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/PORT:/);
    expect((error as ConfigError).message).toMatch(/GITHUB_WEBHOOK_SECRET:/);
  });
});
