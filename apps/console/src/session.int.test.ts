import { Queue } from 'bullmq';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createIntakeProducer } from '@pitcrew/ingest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { createAdminApi } from './admin-api.ts';
import { createConsoleApp } from './app.ts';
import { createBoard } from './board.ts';
import { createRedisRevocations, csrfField, csrfToken, CSRF_FIELD, CSRF_HEADER, safeNextPath, SESSION_COOKIE, type ConsoleEnv } from './session.ts';

const TOKEN = 'session-test-token-0123456789';
const ORIGIN = 'http://localhost';
const logger = pino({ level: 'silent' });

let tdb: TestDatabase;
let redis: Redis;
let prefix: string;
let queues: Queue[];
let app: ReturnType<typeof createConsoleApp>;
let clock = new Date('2026-03-01T10:00:00Z');
/** What the test page's form handler received. */
const posted: Record<string, unknown>[] = [];

/** A page app as the pages helper builds one: a form with the CSRF field, and its POST route. */
function testPages() {
  const pages = new Hono<ConsoleEnv>();
  pages.get('/', (c) => c.html(`<p>signed in; session expires ${c.get('session').expiresAt.toISOString()}</p>`));
  pages.get('/form', async (c) => c.html(`<form method="post" action="/act">${await csrfField(c)}<button>go</button></form><p data-token="${csrfToken(c)}"></p>`));
  pages.post('/act', async (c) => {
    // The CSRF check read the body first; the handler still gets it.
    posted.push(await c.req.parseBody());
    return c.redirect('/', 303);
  });
  return pages;
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  redis = createTestRedis();
  prefix = testPrefix();
  const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
  queues = [intake, triage];
  app = createConsoleApp({
    api: createAdminApi({ db: tdb.db, redis, prefix, triage, producer: createIntakeProducer(intake, redis, prefix), logger }),
    board: createBoard(queues),
    pages: testPages(),
    session: { adminToken: TOKEN, ttlMs: 3_600_000, now: () => clock, revocations: createRedisRevocations(redis, prefix, 3_600_000) },
    readiness: { redis: () => redis.ping() },
    logger,
  });
});

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  await deleteKeysWithPrefix(redis, prefix);
  await Promise.all([redis.quit(), tdb.destroy()]);
});

/** `POST /login` as a browser's form on the console's origin. */
function login(token: string, next = '/form') {
  return app.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
    body: new URLSearchParams({ token, next }).toString(),
  });
}

/** Signs in; returns the `Cookie` header value and the session's CSRF token (read from a page). */
async function signIn(): Promise<{ cookie: string; token: string }> {
  const res = await login(TOKEN);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  const page = await (await app.request('/form', { headers: { cookie } })).text();
  return { cookie, token: /data-token="([^"]+)"/.exec(page)![1]! };
}

function form(cookie: string, fields: Record<string, string>, headers: Record<string, string> = { origin: ORIGIN }) {
  return app.request('/act', {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('sign-in', () => {
  it('sends a browser without a session to /login, keeping where it was going', async () => {
    for (const path of ['/', '/form?x=1', '/admin/queues']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(302);
      expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
    const page = await app.request('/login?next=/form');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<label for="token">Admin token</label>');
    expect(html).toMatch(/<input id="token" name="token" type="password"/);
  });

  it('the admin token starts a session: a signed HttpOnly, SameSite=Strict cookie with an expiry; a wrong token gets 401 and no cookie', async () => {
    const wrong = await login('not-the-token-0123456789');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.text()).toContain('That is not the admin token.');

    const res = await login(TOKEN, '/form');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/form');
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).toMatch(/; Max-Age=3600/);
    const cookie = setCookie.split(';')[0]!;
    const page = await app.request('/', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('session expires 2026-03-01T11:00:00.000Z');
  });

  it('refuses a forged, tampered or expired cookie', async () => {
    const { cookie } = await signIn();
    const [name, value] = cookie.split('=') as [string, string];
    const decoded = decodeURIComponent(value);
    const [payload, signature] = [decoded.slice(0, decoded.lastIndexOf('.')), decoded.slice(decoded.lastIndexOf('.') + 1)];
    // Push the expiry out by a year, keeping the old signature.
    const [id, expires] = payload.split('.') as [string, string];
    const tampered = `${name}=${encodeURIComponent(`${id}.${Number(expires) + 365 * 86_400_000}.${signature}`)}`;
    expect((await app.request('/', { headers: { cookie: tampered } })).status).toBe(302);
    expect((await app.request('/', { headers: { cookie: `${SESSION_COOKIE}=made-up` } })).status).toBe(302);
    // Signed by another admin token's key.
    const other = createConsoleApp({ api: createAdminApi({ db: tdb.db, redis, prefix, triage: queues[1]!, producer: createIntakeProducer(queues[0]!, redis, prefix), logger }), session: { adminToken: 'another-admin-token-0123456789' }, readiness: {}, logger });
    expect((await other.request('/api/breakers', { headers: { cookie } })).status).toBe(401);
    // An hour and a second later the session is over.
    const saved = clock;
    clock = new Date(clock.getTime() + 3_601_000);
    try {
      expect((await app.request('/', { headers: { cookie } })).status).toBe(302);
    } finally {
      clock = saved;
    }
  });

  it('only returns to paths on this site after sign-in', () => {
    expect(safeNextPath('/failures/gh-job-1?x=1')).toBe('/failures/gh-job-1?x=1');
    for (const bad of ['https://evil.example/', '//evil.example/', '/\\evil.example', 'javascript:alert(1)', undefined]) expect(safeNextPath(bad), String(bad)).toBe('/');
  });

  it('signs out with a CSRF-checked form: the cookie is deleted', async () => {
    const { cookie, token } = await signIn();
    const without = await app.request('/logout', { method: 'POST', headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(without.status).toBe(403);
    const res = await app.request('/logout', { method: 'POST', headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: `${CSRF_FIELD}=${encodeURIComponent(token)}` });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login');
    expect(res.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=; Max-Age=0`));
  });

  it('signs out everywhere: every session started before it is over, a copied cookie too; sign-in works after', async () => {
    const saved = clock;
    try {
      const [here, elsewhere] = [await signIn(), await signIn()];
      expect((await app.request('/', { headers: { cookie: elsewhere.cookie } })).status).toBe(200);
      clock = new Date(clock.getTime() + 1_000);
      const logout = (fields: string) => app.request('/logout', { method: 'POST', headers: { cookie: here.cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: fields });
      const res = await logout(`${CSRF_FIELD}=${encodeURIComponent(here.token)}&everywhere=1`);
      expect(res.status).toBe(303);
      expect(res.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=; Max-Age=0`));
      for (const cookie of [here.cookie, elsewhere.cookie]) expect((await app.request('/', { headers: { cookie } })).status).toBe(302);
      // The revocation is in Redis, so another console process sees it too.
      expect(await redis.get(`${prefix}:console:sessions-not-before`)).toBe(String(clock.getTime()));
      const after = await signIn();
      expect((await app.request('/', { headers: { cookie: after.cookie } })).status).toBe(200);
      // A console without revocations says so instead of pretending.
      const bare = createConsoleApp({ api: createAdminApi({ db: tdb.db, redis, prefix, triage: queues[1]!, producer: createIntakeProducer(queues[0]!, redis, prefix), logger }), pages: testPages(), session: { adminToken: TOKEN, ttlMs: 3_600_000, now: () => clock }, readiness: {}, logger });
      const bareLogin = await bare.request('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }, body: new URLSearchParams({ token: TOKEN, next: '/form' }).toString() });
      const bareCookie = bareLogin.headers.get('set-cookie')!.split(';')[0]!;
      const bareToken = /data-token="([^"]+)"/.exec(await (await bare.request('/form', { headers: { cookie: bareCookie } })).text())![1]!;
      const refused = await bare.request('/logout', { method: 'POST', headers: { cookie: bareCookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: `${CSRF_FIELD}=${encodeURIComponent(bareToken)}&everywhere=1` });
      expect(refused.status).toBe(501);
      expect(await refused.json()).toMatchObject({ error: 'not_supported' });
      // Revocations that cannot be read fail closed, with the reason.
      const unreadable = createConsoleApp({ api: createAdminApi({ db: tdb.db, redis, prefix, triage: queues[1]!, producer: createIntakeProducer(queues[0]!, redis, prefix), logger }), pages: testPages(), session: { adminToken: TOKEN, ttlMs: 3_600_000, now: () => clock, revocations: { notBefore: () => Promise.reject(new Error('ECONNREFUSED')), revokeAll: async () => {} } }, readiness: {}, logger });
      const down = await unreadable.request('/', { headers: { cookie: after.cookie } });
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ error: 'unavailable' });
    } finally {
      clock = saved;
      await redis.del(`${prefix}:console:sessions-not-before`);
    }
  });
});

describe('CSRF on forms that change state', () => {
  it('passes a same-origin form with the session token, and the handler still reads the body', async () => {
    const { cookie, token } = await signIn();
    posted.length = 0;
    const res = await form(cookie, { [CSRF_FIELD]: token, stage: 'execute' });
    expect(res.status).toBe(303);
    expect(posted).toEqual([{ [CSRF_FIELD]: token, stage: 'execute' }]);
  });

  it('refuses 403 {error: csrf}: no token, a wrong one, another session\'s, or another origin', async () => {
    const mine = await signIn();
    const theirs = await signIn();
    expect(theirs.token).not.toBe(mine.token);
    posted.length = 0;
    for (const [what, res] of [
      ['no token', await form(mine.cookie, { stage: 'execute' })],
      ['wrong token', await form(mine.cookie, { [CSRF_FIELD]: 'x'.repeat(43) })],
      ["another session's token", await form(mine.cookie, { [CSRF_FIELD]: theirs.token })],
      ['another origin', await form(mine.cookie, { [CSRF_FIELD]: mine.token }, { origin: 'https://evil.example' })],
      ['a cross-site fetch', await form(mine.cookie, { [CSRF_FIELD]: mine.token }, { 'sec-fetch-site': 'cross-site' })],
    ] as const) {
      expect(res.status, what).toBe(403);
      expect(await res.json(), what).toMatchObject({ error: 'csrf' });
    }
    expect(posted).toEqual([]);
    // No session at all: 401, never reaching the handler.
    expect((await form('', { [CSRF_FIELD]: mine.token })).status).toBe(401);
  });

  it('accepts the public URL\'s origin (a proxy in front) besides the request\'s own', async () => {
    const behindProxy = createConsoleApp({
      api: createAdminApi({ db: tdb.db, redis, prefix, triage: queues[1]!, producer: createIntakeProducer(queues[0]!, redis, prefix), logger }),
      pages: testPages(),
      session: { adminToken: TOKEN, publicUrl: 'https://pitcrew.example.com/' },
      readiness: {},
      logger,
    });
    const signedIn = await behindProxy.request('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://pitcrew.example.com' }, body: `token=${TOKEN}` });
    expect(signedIn.status).toBe(303);
    // An https public URL makes the cookie Secure.
    expect(signedIn.headers.get('set-cookie')).toMatch(/; Secure/);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    const token = /data-token="([^"]+)"/.exec(await (await behindProxy.request('/form', { headers: { cookie } })).text())![1]!;
    const post = (origin: string) =>
      behindProxy.request('/act', { method: 'POST', headers: { cookie, origin, 'content-type': 'application/x-www-form-urlencoded' }, body: `${CSRF_FIELD}=${encodeURIComponent(token)}` });
    expect((await post('https://pitcrew.example.com')).status).toBe(303);
    expect((await post('https://pitcrew.example.com.evil.example')).status).toBe(403);
    // Sign-in forms of another origin are refused too (login CSRF).
    expect((await behindProxy.request('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }, body: `token=${TOKEN}` })).status).toBe(403);
  });
});

describe('the API with a session', () => {
  it('reads with the session cookie; writes need the CSRF token in X-CSRF-Token; the bearer token needs neither', async () => {
    const { cookie, token } = await signIn();
    expect((await app.request('/api/breakers', { headers: { cookie } })).status).toBe(200);
    const retry = (headers: Record<string, string>) =>
      app.request('/api/failures/gh-job-none/retry', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    const refused = await retry({ cookie });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'csrf' });
    // Past the CSRF check, the API answers: no such failure.
    expect((await retry({ cookie, [CSRF_HEADER]: token })).status).toBe(404);
    expect((await retry({ authorization: `Bearer ${TOKEN}` })).status).toBe(404);
  });

  it('Bull Board takes the session or the bearer token', async () => {
    const { cookie } = await signIn();
    const page = await app.request('/admin/queues', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<title>pitcrew<\/title>/);
    const queuesJson = await app.request('/admin/queues/api/queues', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(JSON.stringify(await queuesJson.json())).toContain(QUEUES.triage);
  });
});

describe('health', () => {
  it('healthz and readyz are open, for probes', async () => {
    expect(await (await app.request('/healthz')).json()).toEqual({ ok: true });
    expect(await (await app.request('/readyz')).json()).toEqual({ ready: true, checks: { redis: { ok: true } } });
  });
});
