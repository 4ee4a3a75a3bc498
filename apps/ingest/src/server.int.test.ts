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

  it('refuses to start on bad configuration, naming the variable', async () => {
    const error = await startIngest({ ...env, PORT: 'eighty', GITHUB_WEBHOOK_SECRET: '' }, logger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/PORT:/);
    expect((error as ConfigError).message).toMatch(/GITHUB_WEBHOOK_SECRET:/);
  });
});
