import { validate, compileErrors } from '@readme/openapi-parser';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createIntakeProducer } from '@pitcrew/ingest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { createAdminApi } from './admin-api.ts';
import { createConsoleApp } from './app.ts';

const TOKEN = 'openapi-test-token-0123456789';
const logger = pino({ level: 'silent' });

let tdb: TestDatabase;
let redis: Redis;
let prefix: string;
let queues: Queue[];
let api: ReturnType<typeof createAdminApi>;
let app: ReturnType<typeof createConsoleApp>;

beforeAll(async () => {
  tdb = await createTestDatabase();
  redis = createTestRedis();
  prefix = testPrefix();
  const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
  queues = [intake, triage];
  api = createAdminApi({ db: tdb.db, redis, prefix, triage, producer: createIntakeProducer(intake, redis, prefix), logger });
  app = createConsoleApp({ api, session: { adminToken: TOKEN }, readiness: {}, logger });
});

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  await deleteKeysWithPrefix(redis, prefix);
  await Promise.all([redis.quit(), tdb.destroy()]);
});

/** `GET /failures/:id` → `get /failures/{id}`, as the document names paths. */
const documented = (method: string, path: string) => `${method.toLowerCase()} ${path.replace(/:(\w+)/g, '{$1}')}`;

describe('GET /api/openapi.json', () => {
  it('is an OpenAPI 3.1 document that validates (@readme/openapi-parser), open without a token', async () => {
    const res = await app.request('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(doc.components.securitySchemes.adminToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('names every route of the admin API, and nothing it does not serve', async () => {
    const doc = (await (await app.request('/api/openapi.json')).json()) as any;
    const inDoc = new Set(Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`)));
    const served = new Set(api.routes.filter((r) => r.method !== 'ALL').map((r) => documented(r.method, r.path)));
    expect([...served].sort()).toEqual([...inDoc].sort());
    expect(served.size).toBe(15);
  });

  it('every operation answers as documented: GETs of the empty database with their 200 schema, unknown ids with a documented error', async () => {
    const doc = (await (await app.request('/api/openapi.json')).json()) as any;
    const bearer = { authorization: `Bearer ${TOKEN}` };
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        const url = `/api${path.replace('{id}', '999')}`;
        const res = await app.request(url, { method: method.toUpperCase(), headers: { ...bearer, 'content-type': 'application/json' }, ...(method === 'post' ? { body: '{}' } : {}) });
        expect(Object.keys(op.responses), `${method} ${url} answered ${res.status}`).toContain(String(res.status));
        if (!path.includes('{id}')) expect(res.status, `${method} ${url}`).toBe(200);
      }
    }
  });
});

describe('GET /api/docs', () => {
  it('renders every operation and schema of the document as plain HTML, without a CDN', async () => {
    const res = await app.request('/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const page = await res.text();
    const doc = (await (await app.request('/api/openapi.json')).json()) as any;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item)) expect(page).toContain(`${method.toUpperCase()} /api${path}`);
    }
    for (const name of Object.keys(doc.components.schemas)) expect(page).toContain(`id="schema-${name}"`);
    expect(page).not.toMatch(/<script|https?:\/\/(cdn|unpkg|fonts)/);
  });
});
