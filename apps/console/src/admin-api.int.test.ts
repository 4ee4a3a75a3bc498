import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerStateField, breakerStatesKey, findFailure, finishExecution, recordFlakyObservation, resolveOpenFailures, finishFixAttempt, GUARD_RULES, joinIncident, normalizeGithubEvent, QUEUES, recordCiVerdict, recordPullRequestOutcome, startExecution, startFixAttempt, type CiFailure } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeLlm } from '@pitcrew/testkit/fake-llm';
import { createBreakerPublisher, createBreakers, createRunnerRegistry, createWorkers, startWorker, type Workers } from '@pitcrew/worker';
import { createApp, createIntakeProducer } from '@pitcrew/ingest';
import { createAdminApi } from './admin-api.ts';
import { createConsoleApp } from './app.ts';
import { createBoard } from './board.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const jobFailure = (jobId: number) => {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = jobId;
  return payload;
};

const SECRET = 'admin-api-test-secret-0123';
const TOKEN = 'admin-api-token-0123456789abcdef';
const example = normalizeGithubEvent('workflow_job', jobFailure(1)) as CiFailure;
const REPO = `${example.owner}/${example.repo}`;
const logger = pino({ level: 'silent' });

let tdb: TestDatabase;
let redis: Redis;
let workerConnection: Redis;
let prefix: string;
let intake: Queue;
let triage: Queue;
let workers: Workers;
/** The console: admin API and board. */
let app: ReturnType<typeof createConsoleApp>;
/** Ingest, for deliveries: its webhook route is the way failures come in. */
let ingest: ReturnType<typeof createApp>;

const bearer = { authorization: `Bearer ${TOKEN}` };

async function api(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await app.request(`/api${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.headers ?? bearer), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Sends a signed failed workflow_job delivery through the webhook route; returns its ids. */
async function deliver(jobId = Math.floor(Math.random() * 1e12)): Promise<{ deliveryId: string; failureId: string }> {
  const body = JSON.stringify(jobFailure(jobId));
  const deliveryId = randomUUID();
  const response = await ingest.request('/webhooks/github', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'workflow_job',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': await sign(SECRET, body),
    },
    body,
  });
  const answer = (await response.json()) as { failureId: string };
  expect(response.status).toBe(202);
  return { deliveryId, failureId: answer.failureId };
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${ms} ms; last ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts (and with a result, finishes) an attempt with the core repository, `minutesAgo` before now. */
async function attempt(failureId: string, iteration: number, fixer: string, minutesAgo: number, result?: Parameters<typeof finishFixAttempt>[2]) {
  const row = await startFixAttempt(tdb.db, { failureId, iteration, fixer });
  if (result) expect(await finishFixAttempt(tdb.db, row.id, result)).toMatchObject({ id: row.id });
  await tdb.db.updateTable('fix_attempts').set({ started_at: sql`now() - make_interval(mins => ${minutesAgo})` }).where('id', '=', row.id).execute();
  return row.id;
}

/** `FixLoopFigures` of no loop. */
const noLoops = { loops: 0, open: 0, verifiedByCi: 0, escalated: 0, merged: 0, closed: 0, ended: 0, ciPassed: 0, iterations: 0, costUsd: 0, mergeRate: null, iterationsPerMergedFix: null, usdPerMergedFix: null };

const statusOf = (failureId: string) => async () =>
  (await tdb.db.selectFrom('failures').select('status').where('id', '=', failureId).executeTakeFirst())?.status;

beforeAll(async () => {
  tdb = await createTestDatabase();
  redis = createTestRedis();
  workerConnection = createTestRedis();
  prefix = testPrefix();
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  triage = new Queue(QUEUES.triage, { connection: redis, prefix });
  const producer = createIntakeProducer(intake, redis, prefix);
  ingest = createApp({ secrets: [SECRET], maxBodyBytes: 1024 * 1024, producer, logger, readiness: {} });
  app = createConsoleApp({
    api: createAdminApi({ db: tdb.db, redis, prefix, triage, producer, logger }),
    board: createBoard([intake, triage]),
    session: { adminToken: TOKEN },
    readiness: {},
    logger,
  });
  // Real BullMQ workers on the same prefix and database: intake → triage → run-rules.
  workers = createWorkers({
    connection: workerConnection,
    prefix,
    db: tdb.db,
    runners: createRunnerRegistry({ choice: 'rules' }),
    logger,
    concurrency: 2,
    attempts: 2,
  });
});

afterAll(async () => {
  await workers.close(5_000);
  await Promise.all([intake.close(), triage.close()]);
  await deleteKeysWithPrefix(redis, prefix);
  await Promise.all([redis.quit(), workerConnection.quit(), tdb.destroy()]);
});

describe('admin auth', () => {
  it('guards the API and the board alike: 401 without or with a wrong bearer token, the right one passes', async () => {
    for (const path of ['/api/failures', '/admin/queues/api/queues']) {
      const none = await app.request(path, { headers: { accept: 'application/json' }, method: 'POST' });
      expect(none.status, path).toBe(401);
      expect(await none.json()).toMatchObject({ error: 'unauthorized' });
      expect((await app.request(path, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, path).toBe(401);
      expect((await app.request(path, { headers: bearer })).status, path).toBe(200);
    }
    // The API has no sign-in page: a GET without credentials is a 401 with a hint, not a redirect.
    const get = await app.request('/api/failures');
    expect(get.status).toBe(401);
    expect(get.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await get.json()).toMatchObject({ error: 'unauthorized', reason: expect.stringContaining('/login') });
  });

  it('an unknown API path is a JSON 404 behind the same auth', async () => {
    expect((await app.request('/api/nope')).status).toBe(401);
    const res = await app.request('/api/nope', { headers: bearer });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });
});

describe('failures', () => {
  let ids: string[];
  let first: { deliveryId: string; failureId: string };

  beforeAll(async () => {
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await deliver());
    first = sent[0]!;
    ids = sent.map((s) => s.failureId);
    for (const id of ids) await until(`failure ${id} triaged`, statusOf(id), (s) => s === 'triaged');
  });

  it('lists with filters and keyset pages that neither skip nor repeat', async () => {
    const all = await api(`/failures?repo=${REPO}&status=triaged&category=lint&limit=500`);
    expect(all.status).toBe(200);
    const mine = all.body.items.filter((f: any) => ids.includes(f.id));
    expect(mine).toHaveLength(3);
    expect(mine[0]).toMatchObject({ owner: example.owner, repo: example.repo, status: 'triaged', category: 'lint', runner: 'rules', executions: 3, tokensIn: 0, costUsd: 0 });
    expect(all.body.nextCursor).toBeNull();
    // Newest first, one per page.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await api(`/failures?repo=Hello-World&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((f) => f.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((f: any) => f.id));
    expect(new Set(seen).size).toBe(seen.length);
    expect((await api('/failures?status=failed')).body.items.filter((f: any) => ids.includes(f.id))).toEqual([]);
    expect((await api('/failures?repo=someone/else')).body.items).toEqual([]);
    expect((await api('/failures?since=1m')).body.items.length).toBeGreaterThanOrEqual(3);
    expect((await api('/failures?since=2999-01-01')).body.items).toEqual([]);
  });

  it('rejects bad queries with 400 {error, reason}', async () => {
    for (const q of ['status=done', 'limit=0', 'limit=abc', 'since=yesterdayish', 'cursor=bm9wZQ']) {
      const res = await api(`/failures?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body, q).toMatchObject({ error: 'bad_request', reason: expect.any(String) });
    }
  });

  it('shows one failure with its delivery, executions, totals and incident', async () => {
    const res = await api(`/failures/${first.failureId}`);
    expect(res.status).toBe(200);
    expect(res.body.failure).toMatchObject({ id: first.failureId, status: 'triaged', category: 'lint', firstDeliveryId: first.deliveryId, attemptBase: 0 });
    expect(res.body.deliveries).toEqual([expect.objectContaining({ id: first.deliveryId, event: 'workflow_job', outcome: 'accepted' })]);
    expect(res.body.executions.map((e: any) => `${e.stage}#${e.attempt}:${e.status}`)).toEqual(['classify#1:succeeded', 'execute#1:succeeded', 'summarize#1:succeeded']);
    expect(res.body.executions[1]).toMatchObject({ runner: 'rules', model: null, tokensIn: 0, tokensOut: 0, costUsd: 0, durationMs: expect.any(Number) });
    expect(res.body.totals).toMatchObject({ executions: 3, tokensIn: 0, tokensOut: 0, costUsd: 0 });
    expect(res.body.incident).toBeNull(); // no log excerpt without GitHub credentials, so no signature
    expect(res.body.publications).toEqual([]); // these workers publish nowhere
    // What the publish stage records shows up with the failure.
    await tdb.db
      .insertInto('publications')
      .values({ failure_id: first.failureId, sink: 'check-run', status: 'published', external_id: '77', external_url: 'https://github.example/runs/77', detail: null })
      .execute();
    const published = await api(`/failures/${first.failureId}`);
    expect(published.body.publications).toEqual([
      expect.objectContaining({ sink: 'check-run', status: 'published', externalId: '77', externalUrl: 'https://github.example/runs/77', attempts: 0 }),
    ]);
    expect((await api('/failures/gh-job-nope')).status).toBe(404);
  });

  it('serves names, summaries, errors (publishing errors too) and outputs only through the outgoing boundary: a token in any of them never leaves', async () => {
    const token = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';
    const payload = jobFailure(Math.floor(Math.random() * 1e12));
    payload.workflow_job.name = `deploy NPM_TOKEN=${token}`;
    payload.workflow_job.head_branch = `release/${token}`;
    payload.workflow_job.steps = [{ name: `Run curl -H "Authorization: Bearer ${token}" https://x.example`, status: 'completed', conclusion: 'failure', number: 1 }];
    const body = JSON.stringify(payload);
    const response = await ingest.request('/webhooks/github', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(SECRET, body) },
      body,
    });
    const { failureId } = (await response.json()) as { failureId: string };
    await until('triaged', statusOf(failureId), (s) => s === 'triaged');
    // A runner's answer and an error are untrusted too: they may quote what they read.
    await tdb.db.updateTable('failures').set({ summary: `use ${token}`, error: `401 for ${token}` }).where('id', '=', failureId).execute();
    await tdb.db.updateTable('executions').set({ output: JSON.stringify({ runner: 'agent', markdown: `## Summary\nexport GH_TOKEN=${token}` }) }).where('failure_id', '=', failureId).where('stage', '=', 'execute').execute();
    await tdb.db.insertInto('publications').values({ failure_id: failureId, sink: 'slack', status: 'failed', external_id: null, external_url: null, detail: null, last_error: `HTTPError: 403 with token ${token}` }).execute();
    const incident = await joinIncident(tdb.db, { failureId, owner: example.owner, repo: example.repo, signature: `sig-${failureId}`, category: 'test' });
    const served = [await api(`/failures/${failureId}`), await api(`/failures?limit=200`), await api(`/incidents/${incident.incident.id}`)];
    for (const res of served) expect(res.status).toBe(200);
    const text = JSON.stringify(served.map((r) => r.body));
    expect(text).toContain(failureId);
    expect(text).toContain('[REDACTED:');
    expect(text).not.toContain(token);
  });

  it('retries from a stage: a real worker re-runs that stage and later ones as new attempts, earlier ones are kept', async () => {
    const id = ids[1]!;
    // Held while the retry is queued: the rules runner can otherwise finish it before the second call.
    const held = [workers.triage, workers.run.rules!];
    await Promise.all(held.map((w) => w.pause()));
    const res = await api(`/failures/${id}/retry`, { method: 'POST', body: { stage: 'execute' } });
    expect(res).toMatchObject({ status: 202, body: { retried: true, failureId: id, fromStage: 'execute', attemptBase: 1 } });
    // A second retry of the same round while it is queued or running is refused.
    expect((await api(`/failures/${id}/retry`, { method: 'POST', body: {} })).status).toBe(409);
    for (const w of held) w.resume();
    const detail = await until(
      'retry finished',
      async () => (await api(`/failures/${id}`)).body,
      (d) => d.failure.status === 'triaged' && d.executions.length === 5,
    );
    expect(detail.executions.map((e: any) => `${e.stage}#${e.attempt}:${e.status}`)).toEqual([
      'classify#1:succeeded',
      'execute#1:succeeded',
      'summarize#1:succeeded',
      'execute#2:succeeded',
      'summarize#2:succeeded',
    ]);
    expect(detail.failure).toMatchObject({ attemptBase: 1, retryFromStage: 'execute' });
    // Retry from classify with no body: every stage runs again.
    expect((await api(`/failures/${id}/retry`, { method: 'POST' })).body).toMatchObject({ fromStage: 'classify', attemptBase: 2 });
    const again = await until('second retry finished', async () => (await api(`/failures/${id}`)).body, (d) => d.failure.status === 'triaged' && d.executions.length === 8);
    expect(again.executions.slice(5).map((e: any) => `${e.stage}#${e.attempt}`)).toEqual(['classify#3', 'execute#3', 'summarize#3']);
    expect((await api('/failures/gh-job-nope/retry', { method: 'POST', body: {} })).status).toBe(404);
    expect((await api(`/failures/${id}/retry`, { method: 'POST', body: { stage: 'deploy' } })).status).toBe(400);
  });

  it('replays a stored delivery as a new intake job: an existing failure gets a merged delivery, never a second row', async () => {
    const res = await api(`/deliveries/${first.deliveryId}/replay`, { method: 'POST', body: { waitMs: 10_000 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      replayOf: first.deliveryId,
      deliveryId: expect.stringMatching(new RegExp(`^${first.deliveryId}-replay-[0-9a-f]{8}$`)),
      failureId: first.failureId,
      intake: 'accepted',
      failureExisted: true,
      recorded: { outcome: 'merged', failureStatus: 'triaged' },
    });
    const rows = await tdb.db.selectFrom('failures').select('id').where('id', '=', first.failureId).execute();
    expect(rows).toHaveLength(1);
    const deliveries = (await api(`/failures/${first.failureId}`)).body.deliveries.map((d: any) => [d.id, d.outcome]);
    expect(deliveries).toEqual([
      [first.deliveryId, 'accepted'],
      [res.body.deliveryId, 'merged'],
    ]);
    // Nothing re-ran: still one execution per stage.
    expect((await api(`/failures/${first.failureId}`)).body.totals.executions).toBe(3);
    expect((await api('/deliveries/no-such-delivery/replay', { method: 'POST', body: {} })).status).toBe(404);
  });
});

describe('spend', () => {
  it('sums executions by UTC day and repository, with totals and the budget ledger', async () => {
    const { failureId } = await deliver();
    await until('triaged', statusOf(failureId), (s) => s === 'triaged');
    // Two model executions on a day of their own: 2026-01-10 (UTC), one of them just before midnight.
    for (const [attempt, startedAt, cost] of [
      [11, '2026-01-10T00:00:00Z', 0.25],
      [12, '2026-01-10T23:59:59.999Z', 0.125],
    ] as const) {
      const id = await startExecution(tdb.db, { failureId, stage: 'execute', attempt, runner: 'llm', model: 'm' });
      await finishExecution(tdb.db, id, { status: 'succeeded', durationMs: 10, tokensIn: 1000, tokensOut: 200, costUsd: cost });
      await tdb.db.updateTable('executions').set({ started_at: startedAt }).where('id', '=', id).execute();
    }
    await tdb.db.insertInto('spend').values([
      { day: '2026-01-10', scope: 'org', spent_usd: 0.375, calls: 2 },
      { day: '2026-01-10', scope: `repo:${REPO}`, spent_usd: 0.375, calls: 2 },
      { day: '1970-01-01', scope: `failure:${failureId}`, spent_usd: 0.375, calls: 2 },
    ]).execute();
    const res = await api('/spend?since=2026-01-09&until=2026-01-10');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      since: '2026-01-09',
      until: '2026-01-10',
      rows: [{ day: '2026-01-10', owner: example.owner, repo: example.repo, executions: 2, tokensIn: 2000, tokensOut: 400, costUsd: 0.375 }],
      totals: { executions: 2, tokensIn: 2000, tokensOut: 400, costUsd: 0.375 },
      budgets: [
        { day: '2026-01-10', scope: 'org', spentUsd: 0.375, reservedUsd: 0, calls: 2 },
        { day: '2026-01-10', scope: `repo:${REPO}`, spentUsd: 0.375, reservedUsd: 0, calls: 2 },
      ],
    });
    expect((await api('/spend?since=2026-01-11&until=2026-01-11')).body.rows).toEqual([]);
    expect((await api('/spend?since=2026-01-10&until=2026-01-10&repo=other/repo')).body).toMatchObject({ rows: [], budgets: [] });
    // Default: the last 7 UTC days, which include today's rules executions at 0 USD.
    const recent = await api('/spend');
    expect(recent.body.rows.some((r: any) => r.repo === 'Hello-World' && r.executions >= 3 && r.costUsd === 0)).toBe(true);
    expect((await api('/spend?since=2026-01-11&until=2026-01-10')).status).toBe(400);
    expect((await api('/spend?since=last-week')).status).toBe(400);
  });
});

describe('resolution and the flaky registry', () => {
  it('shows when and by which commit a failure was resolved, and the flaky registry most flaky first', async () => {
    const { failureId } = await deliver();
    await until('triaged', statusOf(failureId), (s) => s === 'triaged');
    const row = (await findFailure(tdb.db, failureId))!;
    const at = new Date(new Date(row.received_at).getTime() + 42 * 60_000);
    // Other tests' failures of the same example job and branch are resolved too; this one among them.
    const resolved = await resolveOpenFailures(tdb.db, { owner: row.owner, repo: row.repo, branch: row.branch!, headSha: row.head_sha, scope: 'job', jobName: row.job_name, checkName: row.check_name, workflowName: row.workflow_name, runId: 77, at });
    expect(resolved.map((r) => r.id)).toContain(failureId);
    await recordFlakyObservation(tdb.db, { owner: row.owner, repo: row.repo, workflow: row.workflow_name ?? '', job: row.job_name!, tests: ['TestFlaky'], flaky: true, failureId, at });
    const list = await api(`/failures?repo=${REPO}`);
    expect(list.body.items.find((f: any) => f.id === failureId)).toMatchObject({ resolvedAt: at.toISOString(), resolvedBySha: row.head_sha, resolvedByRunId: '77', timeToGreenMs: 42 * 60_000, rerun: null });
    expect((await api(`/failures/${failureId}`)).body.failure).toMatchObject({ resolvedAt: at.toISOString(), timeToGreenMs: 42 * 60_000 });
    const flaky = await api(`/flaky?repo=${REPO}`);
    expect(flaky.status).toBe(200);
    expect(flaky.body.items.map((f: any) => [f.job, f.test, f.score, f.occurrences, f.observations])).toEqual([
      [row.job_name, null, 1, 1, 1],
      [row.job_name, 'TestFlaky', 1, 1, 1],
    ]);
    expect((await api(`/flaky?repo=${REPO}&tests=false`)).body.items).toHaveLength(1);
    expect((await api('/flaky?repo=nope')).status).toBe(400);
  });
});

describe('incidents', () => {
  it('lists incidents and shows one with its linked failures, leader first', async () => {
    const a = await deliver();
    const b = await deliver();
    for (const f of [a, b]) await until('triaged', statusOf(f.failureId), (s) => s === 'triaged');
    const signature = `sig-${randomUUID()}`;
    const link = { owner: example.owner, repo: example.repo, signature, category: 'lint' };
    const { incident } = await joinIncident(tdb.db, { failureId: a.failureId, ...link });
    await joinIncident(tdb.db, { failureId: b.failureId, ...link });
    const list = await api(`/incidents?repo=${REPO}&since=1h`);
    expect(list.status).toBe(200);
    expect(list.body.items.find((i: any) => i.id === incident.id)).toMatchObject({ signature, category: 'lint', leaderFailureId: a.failureId, occurrences: 2, failures: 2 });
    const one = await api(`/incidents/${incident.id}`);
    expect(one.body.linked.map((f: any) => [f.id, f.leader])).toEqual([
      [a.failureId, true],
      [b.failureId, false],
    ]);
    expect((await api(`/failures/${b.failureId}`)).body.incident).toMatchObject({ id: incident.id, occurrences: 2 });
    expect((await api('/incidents/999999')).status).toBe(404);
    expect((await api('/incidents/abc')).status).toBe(400);
  });

  it('pages incidents last seen first with keyset cursors; a cursor of another list is a 400', async () => {
    const repo = `paging-${randomUUID().slice(0, 8)}`;
    const made: string[] = [];
    for (const n of [1, 2, 3]) {
      const f = await deliver();
      await until('triaged', statusOf(f.failureId), (s) => s === 'triaged');
      made.push((await joinIncident(tdb.db, { failureId: f.failureId, owner: example.owner, repo, signature: `sig-page-${n}`, category: 'test' })).incident.id);
    }
    const first = await api(`/incidents?repo=${repo}&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: any) => i.id)).toEqual([made[2], made[1]]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api(`/incidents?repo=${repo}&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ items: [{ id: made[0] }], nextCursor: null });
    const failuresCursor = (await api('/failures?limit=1')).body.nextCursor;
    const refused = await api(`/incidents?cursor=${failuresCursor}`);
    expect(refused).toMatchObject({ status: 400, body: { error: 'bad_request' } });
  });
});

describe('fixes', () => {
  let a: string;
  let b: string;
  /** A failure no fixer tried. */
  let untried: string;
  /** Attempt ids: agent refused, agent proposed (failure a); rules verify_failed, rules running (failure b). */
  let refused: string;
  let proposed: string;
  let verifyFailed: string;
  let running: string;


  beforeAll(async () => {
    const sent = [await deliver(), await deliver(), await deliver()];
    for (const f of sent) await until('triaged', statusOf(f.failureId), (s) => s === 'triaged');
    [a, b, untried] = sent.map((f) => f.failureId) as [string, string, string];
    refused = await attempt(a, 1, 'agent', 30, { status: 'refused', guardRule: 'skipped-test', guardDetail: 'src/a.test.ts: it.skip(', filesChanged: 1, linesChanged: 2, tokensIn: 1000, tokensOut: 200, costUsd: 0.25 });
    proposed = await attempt(a, 2, 'agent', 20, {
      status: 'proposed',
      filesChanged: 2,
      linesChanged: 14,
      verify: { command: 'npm run lint', exitCode: 0, ms: 4_200, output: 'eslint: 0 problems' },
      branch: 'pitcrew/fix-a',
      prNumber: 42,
      prUrl: 'https://github.example/o/r/pull/42',
      tokensIn: 3000,
      tokensOut: 800,
      costUsd: 0.5,
    });
    verifyFailed = await attempt(b, 1, 'rules', 10, { status: 'verify_failed', filesChanged: 1, linesChanged: 1, verify: { command: 'npm run lint', exitCode: 1, ms: 900, output: '1 problem' } });
    running = await attempt(b, 2, 'rules', 10);
  });

  it('lists attempts newest first with their failure, filtered, in keyset pages that neither skip nor repeat', async () => {
    const all = await api('/fixes?since=1h');
    expect(all.status).toBe(200);
    // Two attempts started at the same time: the higher id first.
    expect(all.body.items.map((f: any) => f.id)).toEqual([running, verifyFailed, proposed, refused]);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.items[2]).toMatchObject({
      failureId: a,
      iteration: 2,
      fixer: 'agent',
      status: 'proposed',
      guardRule: null,
      filesChanged: 2,
      linesChanged: 14,
      // The list leaves the verification output to the detail.
      verify: { command: 'npm run lint', exitCode: 0, ms: 4_200, output: null },
      branch: 'pitcrew/fix-a',
      pr: { number: 42, url: 'https://github.example/o/r/pull/42' },
      tokensIn: 3000,
      tokensOut: 800,
      costUsd: 0.5,
      durationMs: expect.any(Number),
      failure: { owner: example.owner, repo: example.repo, branch: example.branch, category: 'lint' },
    });
    expect(all.body.items[0]).toMatchObject({ status: 'running', finishedAt: null, durationMs: null });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await api(`/fixes?since=1h&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((f) => f.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([running, verifyFailed, proposed, refused]);
    const ids = async (q: string) => (await api(`/fixes?${q}`)).body.items.map((f: any) => f.id);
    expect(await ids('status=refused&since=1h')).toEqual([refused]);
    expect(await ids('fixer=agent&since=1h')).toEqual([proposed, refused]);
    expect(await ids(`repo=${REPO}&fixer=rules&since=1h`)).toEqual([running, verifyFailed]);
    expect(await ids('repo=someone/else')).toEqual([]);
    expect(await ids('since=15m')).toEqual([running, verifyFailed]);
    expect(await ids('since=2999-01-01')).toEqual([]);
    // A failures cursor is not a fixes cursor.
    const failuresCursor = (await api('/failures?limit=1')).body.nextCursor;
    for (const q of ['status=done', 'limit=0', 'limit=501', 'since=lately', 'cursor=bm9wZQ', `cursor=${failuresCursor}`]) {
      const res = await api(`/fixes?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body, q).toMatchObject({ error: 'bad_request', reason: expect.any(String) });
    }
  });

  it('shows one attempt with its verification output, pull request and failure', async () => {
    const res = await api(`/fixes/${proposed}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: proposed,
      status: 'proposed',
      verify: { command: 'npm run lint', exitCode: 0, ms: 4_200, output: 'eslint: 0 problems' },
      pr: { number: 42, url: 'https://github.example/o/r/pull/42' },
      failure: { owner: example.owner, repo: example.repo, category: 'lint' },
    });
    expect((await api(`/fixes/${refused}`)).body).toMatchObject({ status: 'refused', guardRule: 'skipped-test', guardDetail: 'src/a.test.ts: it.skip(' });
    expect((await api('/fixes/999999999')).status).toBe(404);
    expect((await api('/fixes/abc')).body).toMatchObject({ error: 'bad_request' });
  });

  it("includes a failure's fix attempts, first iteration first, in its detail", async () => {
    const detail = await api(`/failures/${a}`);
    expect(detail.body.fixAttempts.map((f: any) => [f.iteration, f.status])).toEqual([
      [1, 'refused'],
      [2, 'proposed'],
    ]);
    expect(detail.body.fixAttempts[1].verify.output).toBe('eslint: 0 problems');
    expect((await api(`/failures/${untried}`)).body.fixAttempts).toEqual([]);
  });

  it('summarises a window: counts by status and guard rule, proposed, USD and USD per proposed fix', async () => {
    const res = await api('/fixes/summary?since=1h');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      since: expect.any(String),
      attempts: 4,
      byStatus: { running: 1, proposed: 1, refused: 1, verify_failed: 1, verified: 0, escalated: 0, failed: 0 },
      byGuardRule: { ...Object.fromEntries(GUARD_RULES.map((r) => [r, 0])), 'skipped-test': 1 },
      proposed: 1,
      tokensIn: 4000,
      tokensOut: 1000,
      costUsd: 0.75,
      usdPerProposedFix: 0.75,
      // Both loops are open: a's PR awaits CI, b's second iteration runs.
      loops: {
        total: { ...noLoops, loops: 2, open: 2, iterations: 4, costUsd: 0.75 },
        groups: [
          { fixer: 'agent', model: null, category: 'lint', ...noLoops, loops: 1, open: 1, iterations: 2, costUsd: 0.75 },
          { fixer: 'rules', model: null, category: 'lint', ...noLoops, loops: 1, open: 1, iterations: 2, costUsd: 0 },
        ],
      },
    });
    expect(Date.parse(res.body.since)).toBeGreaterThan(Date.now() - 3_700_000);
    expect((await api('/fixes/summary?since=1h&fixer=rules')).body).toMatchObject({ attempts: 2, proposed: 0, costUsd: 0, usdPerProposedFix: null });
    expect((await api('/fixes/summary?since=15m')).body).toMatchObject({ attempts: 2, byStatus: { running: 1, verify_failed: 1 } });
    expect((await api('/fixes/summary?repo=someone/else')).body).toMatchObject({ attempts: 0, proposed: 0, costUsd: 0, usdPerProposedFix: null });
    // Default window: the last 7 days.
    expect((await api('/fixes/summary')).body.attempts).toBeGreaterThanOrEqual(4);
    expect((await api('/fixes/summary?since=soon')).status).toBe(400);
  });

  it('serves the guard detail, verify command and output, branch and error only through the outgoing boundary', async () => {
    const token = 'ghp_' + 'Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8';
    const id = await attempt(b, 3, 'agent', 60 * 24 * 30, {
      status: 'refused',
      guardRule: 'secret',
      guardDetail: `src/config.ts: GH_TOKEN=${token}`,
      verify: { command: `curl -H "Authorization: Bearer ${token}" https://x.example`, exitCode: 1, ms: 10, output: `npm ERR! 401 for ${token}` },
      branch: `pitcrew/${token}`,
      error: `push refused for ${token}`,
    });
    const served = [await api(`/fixes/${id}`), await api('/fixes?limit=500'), await api(`/failures/${b}`)];
    for (const res of served) expect(res.status).toBe(200);
    const text = JSON.stringify(served.map((r) => r.body));
    expect(text).toContain(`"id":"${id}"`);
    expect(text).toContain('[REDACTED:');
    expect(text).not.toContain(token);
  });
});

describe('fix loops', () => {
  /** An owner of this test only: its repositories' loops are all the test's. */
  const owner = `loops-${randomUUID().slice(0, 8)}`;
  let l1: string;
  let l2: string;
  let l3: string;
  let l4: string;
  let l5: string;
  /** CI's failure on l1's first fix commit, which its second iteration answers. */
  let ciFailure: string;

  /** A triaged failure of `owner/repo` (a CI failure on a fix branch with `fixLoopId`). */
  async function insertFailure(repo: string, category: string, fixLoopId: string | null = null): Promise<string> {
    const id = `gh-job-loop-${randomUUID().slice(0, 8)}`;
    await tdb.db
      .insertInto('failures')
      .values({ id, provider: 'github', kind: 'job', owner, repo, head_sha: 'a'.repeat(40), conclusion: 'failure', data: '{}', status: 'triaged', category, first_delivery_id: randomUUID(), received_at: new Date(), fix_loop_id: fixLoopId } as never)
      .execute();
    return id;
  }

  /** A fix execution of `failureId` with `model`, `minutesAgo` before now. */
  async function fixExecution(failureId: string, runner: string, model: string | null, minutesAgo: number) {
    await tdb.db
      .insertInto('executions')
      .values({ failure_id: failureId, stage: 'fix', attempt: 1, runner, model, status: 'succeeded', started_at: new Date(Date.now() - minutesAgo * 60_000) })
      .execute();
  }

  /** Iteration `iteration` of loop `loopId` proposed as PR #`pr` with fix commit `commit`, then CI's verdict on it (when given). */
  async function proposed(loopId: string, iteration: number, fixer: string, minutesAgo: number, costUsd: number, commit: string, passed?: boolean, ciFailureId: string | null = null) {
    const row = await startFixAttempt(tdb.db, { failureId: loopId, iteration, fixer, ciFailureId });
    const pr = 100 + iteration;
    await finishFixAttempt(tdb.db, row.id, { status: 'proposed', branch: `pitcrew/fix/${loopId}`, prNumber: pr, prUrl: `https://github.example/${owner}/pull/${pr}`, commitSha: commit, tokensIn: 1000, tokensOut: 100, costUsd });
    await tdb.db.updateTable('fix_attempts').set({ started_at: sql`now() - make_interval(mins => ${minutesAgo})` }).where('id', '=', row.id).execute();
    if (passed !== undefined) expect(await recordCiVerdict(tdb.db, { loopId, headSha: commit, passed })).toMatchObject({ id: row.id, ci_verdict: passed ? 'passed' : 'failed' });
  }

  /** An exhausted (or otherwise escalated) one-iteration loop of `repo` that ended `endedMinutesAgo` before now. */
  async function escalatedLoop(repo: string, escalation: 'iterations' | 'budget' | 'fixer', endedMinutesAgo: number): Promise<string> {
    const id = await insertFailure(repo, 'test');
    await attempt(id, 1, 'agent', endedMinutesAgo + 5, { status: 'escalated', escalation, costUsd: 0.2 });
    await endedAgo(id, endedMinutesAgo);
    return id;
  }

  /** Moves the end of loop `loopId`'s iterations to `minutesAgo` before now. */
  async function endedAgo(loopId: string, minutesAgo: number) {
    await tdb.db.updateTable('fix_attempts').set({ finished_at: sql`now() - make_interval(mins => ${minutesAgo})` }).where('failure_id', '=', loopId).execute();
  }

  const merge = (loopId: string, by: string) => recordPullRequestOutcome(tdb.db, { loopId, outcome: 'merged', mergedBy: by, at: new Date() });

  beforeAll(async () => {
    // owner/app: l1 merged after CI failed once, l2 closed, l3 verified by CI (rules), l4 exhausted, l5 merged.
    l1 = await insertFailure('app', 'test');
    await fixExecution(l1, 'agent', 'model-a', 50);
    await proposed(l1, 1, 'agent', 50, 0.4, 'c1'.repeat(20), false);
    ciFailure = await insertFailure('app', 'test', l1);
    await fixExecution(ciFailure, 'agent', 'model-b', 40);
    await proposed(l1, 2, 'agent', 40, 0.6, 'c2'.repeat(20), true, ciFailure);
    expect(await merge(l1, 'octocat')).toMatchObject({ iteration: 2, outcome: 'merged', merged_by: 'octocat' });
    l2 = await insertFailure('app', 'test');
    await fixExecution(l2, 'agent', 'model-b', 30);
    await proposed(l2, 1, 'agent', 30, 0.5, 'd1'.repeat(20), true);
    await recordPullRequestOutcome(tdb.db, { loopId: l2, outcome: 'closed', mergedBy: null, at: new Date() });
    l3 = await insertFailure('app', 'lint');
    await fixExecution(l3, 'rules', null, 25);
    await proposed(l3, 1, 'rules', 25, 0, 'e1'.repeat(20), true);
    l4 = await insertFailure('app', 'test');
    await fixExecution(l4, 'agent', 'model-b', 20);
    await proposed(l4, 1, 'agent', 20, 0.3, 'f1'.repeat(20), false);
    await proposed(l4, 2, 'agent', 19, 0.3, 'f2'.repeat(20), false);
    await attempt(l4, 3, 'agent', 18, { status: 'escalated', escalation: 'iterations', costUsd: 0.3 });
    l5 = await insertFailure('app', 'test');
    await fixExecution(l5, 'agent', 'model-b', 10);
    await proposed(l5, 1, 'agent', 10, 0.1, 'g1'.repeat(20), true);
    await merge(l5, 'hubot');
    // Breakers: flaky exhausted 3 in a row, the latest 10 min ago; cooled the same, 90 min ago;
    // mixed one exhausted loop after one the fixer escalated (not exhausted: it breaks the run).
    await escalatedLoop('flaky', 'iterations', 180);
    await escalatedLoop('flaky', 'budget', 120);
    await escalatedLoop('flaky', 'iterations', 10);
    for (const minutes of [150, 120, 90]) await escalatedLoop('cooled', 'budget', minutes);
    await escalatedLoop('mixed', 'iterations', 200);
    const merged = await insertFailure('mixed', 'test');
    await proposed(merged, 1, 'agent', 160, 0.1, 'h1'.repeat(20), true);
    await merge(merged, 'octocat');
    await endedAgo(merged, 150);
    await escalatedLoop('mixed', 'fixer', 60);
    await escalatedLoop('mixed', 'budget', 10);
  });

  it('lists loops newest started first with their status, iterations, model, CI and PR outcome, in keyset pages', async () => {
    const all = await api(`/fix-loops?repo=${owner}/app`);
    expect(all.status).toBe(200);
    expect(all.body.items.map((l: any) => [l.id, l.status, l.iterations])).toEqual([
      [l5, 'merged', 1],
      [l4, 'escalated', 3],
      [l3, 'verified_by_ci', 1],
      [l2, 'closed', 1],
      [l1, 'merged', 2],
    ]);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.items[4]).toEqual({
      id: l1,
      owner,
      repo: 'app',
      category: 'test',
      status: 'merged',
      iterations: 2,
      fixer: 'agent',
      // The latest fix execution with a model, the CI failure's included.
      model: 'model-b',
      lastStatus: 'proposed',
      escalation: null,
      verifiedByCi: true,
      outcome: 'merged',
      mergedBy: 'octocat',
      outcomeAt: expect.any(String),
      branch: `pitcrew/fix/${l1}`,
      pr: { number: 102, url: `https://github.example/${owner}/pull/102` },
      tokensIn: 2000,
      tokensOut: 200,
      costUsd: 1,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
      proposedAt: expect.any(String),
    });
    expect(all.body.items[1]).toMatchObject({ escalation: 'iterations', lastStatus: 'escalated', verifiedByCi: false, outcome: null, costUsd: 0.9 });
    expect(all.body.items[2]).toMatchObject({ fixer: 'rules', model: null, verifiedByCi: true, outcome: null });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await api(`/fix-loops?repo=${owner}/app&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((l) => l.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([l5, l4, l3, l2, l1]);
    const ids = async (q: string) => (await api(`/fix-loops?repo=${owner}/app&${q}`)).body.items.map((l: any) => l.id);
    expect(await ids('status=merged')).toEqual([l5, l1]);
    expect(await ids('status=open')).toEqual([]);
    expect(await ids('fixer=rules')).toEqual([l3]);
    expect(await ids('since=15m')).toEqual([l5]);
    expect((await api(`/fix-loops?repo=${owner}/flaky`)).body.items).toHaveLength(3);
    // Cursors of /failures (failure ids) and /fixes are not loop cursors.
    const failuresCursor = (await api('/failures?limit=1')).body.nextCursor;
    const fixesCursor = (await api('/fixes?limit=1')).body.nextCursor;
    for (const q of ['status=done', 'limit=0', 'since=lately', `cursor=${failuresCursor}`, `cursor=${fixesCursor}`]) {
      const res = await api(`/fix-loops?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body, q).toMatchObject({ error: 'bad_request', reason: expect.any(String) });
    }
  });

  it('shows one loop with its iterations, CI verdicts and the CI failure each answered', async () => {
    const res = await api(`/fix-loops/${l1}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: l1, status: 'merged', iterations: 2, model: 'model-b', mergedBy: 'octocat' });
    expect(res.body.attempts).toMatchObject([
      { iteration: 1, status: 'proposed', commitSha: 'c1'.repeat(20), ci: { failureId: null, verdict: 'failed', at: expect.any(String) }, outcome: null, costUsd: 0.4 },
      { iteration: 2, status: 'proposed', commitSha: 'c2'.repeat(20), ci: { failureId: ciFailure, verdict: 'passed', at: expect.any(String) }, outcome: 'merged', mergedBy: 'octocat', outcomeAt: expect.any(String), costUsd: 0.6 },
    ]);
    expect((await api(`/fix-loops/${l4}`)).body.attempts.map((a: any) => [a.iteration, a.status, a.ci.verdict, a.escalation])).toEqual([
      [1, 'proposed', 'failed', null],
      [2, 'proposed', 'failed', null],
      [3, 'escalated', null, 'iterations'],
    ]);
    // A CI failure on a fix branch is not a loop of its own.
    expect((await api(`/fix-loops/${ciFailure}`)).status).toBe(404);
    expect((await api('/fix-loops/gh-job-none')).body).toMatchObject({ error: 'not_found' });
  });

  it('summarises the loops of a window: merge rate, iterations and USD per merged fix by fixer, model and category', async () => {
    const res = await api(`/fixes/summary?since=1h&repo=${owner}/app`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ attempts: 8, proposed: 7, costUsd: 2.5 });
    expect(res.body.loops).toEqual({
      total: { loops: 5, open: 0, verifiedByCi: 1, escalated: 1, merged: 2, closed: 1, ended: 0, ciPassed: 4, iterations: 8, costUsd: 2.5, mergeRate: 0.666667, iterationsPerMergedFix: 4, usdPerMergedFix: 1.25 },
      groups: [
        // l1, l2, l4, l5: 7 iterations and 2.5 USD for 2 merged fixes; 2 of the 3 PRs decided were merged.
        { fixer: 'agent', model: 'model-b', category: 'test', loops: 4, open: 0, verifiedByCi: 0, escalated: 1, merged: 2, closed: 1, ended: 0, ciPassed: 3, iterations: 7, costUsd: 2.5, mergeRate: 0.666667, iterationsPerMergedFix: 3.5, usdPerMergedFix: 1.25 },
        { fixer: 'rules', model: null, category: 'lint', ...noLoops, loops: 1, verifiedByCi: 1, ciPassed: 1, iterations: 1 },
      ],
    });
    expect((await api(`/fixes/summary?since=1h&repo=${owner}/app&fixer=rules`)).body.loops.total).toMatchObject({ loops: 1, merged: 0, mergeRate: null, usdPerMergedFix: null });
    expect((await api(`/fixes/summary?since=15m&repo=${owner}/app`)).body.loops.total).toMatchObject({ loops: 1, merged: 1, mergeRate: 1, iterationsPerMergedFix: 1, usdPerMergedFix: 0.1 });
    expect((await api('/fixes/summary?repo=nobody/none')).body.loops).toEqual({ total: noLoops, groups: [] });
  });

  it('shows the breaker of every repository with loops: exhausted in a row against the threshold, open until the cool-down ends', async () => {
    const res = await api('/fix-breakers');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ threshold: 3, cooldownMs: 3_600_000, open: expect.any(Number) });
    const mine = res.body.breakers.filter((b: any) => b.owner === owner);
    expect(mine.map((b: any) => [b.repo, b.exhaustedInARow, b.state])).toEqual([
      ['app', 0, 'closed'],
      ['cooled', 3, 'closed'],
      ['flaky', 3, 'open'],
      ['mixed', 1, 'closed'],
    ]);
    const flaky = mine.find((b: any) => b.repo === 'flaky');
    expect(flaky.threshold).toBe(3);
    expect(Date.parse(flaky.lastEndedAt)).toBeGreaterThan(Date.now() - 11 * 60_000);
    expect(flaky.until).toBe(new Date(Date.parse(flaky.lastEndedAt) + 3_600_000).toISOString());
    expect(mine.find((b: any) => b.repo === 'cooled')).toMatchObject({ until: null, lastEndedAt: expect.any(String) });

    // The API decides with the settings it is given (the workers'): a threshold of 1 and a 4 h cool-down.
    const producer = createIntakeProducer(intake, redis, prefix);
    const strict = createAdminApi({ db: tdb.db, redis, prefix, triage, producer, logger, fixBreaker: { threshold: 1, cooldownMs: 4 * 3_600_000 } });
    const answer = (await (await strict.request('/fix-breakers')).json()) as any;
    expect(answer).toMatchObject({ threshold: 1, cooldownMs: 4 * 3_600_000 });
    expect(answer.breakers.filter((b: any) => b.owner === owner).map((b: any) => [b.repo, b.exhaustedInARow, b.state])).toEqual([
      ['app', 0, 'closed'],
      ['cooled', 1, 'open'],
      ['flaky', 1, 'open'],
      ['mixed', 1, 'open'],
    ]);
  });
});

describe('breakers', () => {
  it('shows the states workers publish, drops expired fields, and forgets a worker that stops', async () => {
    let publisher: ReturnType<typeof createBreakerPublisher> | undefined;
    const breakers = createBreakers({ threshold: 1, cooldownMs: 60_000, onStateChange: (runner, state) => publisher?.changed(runner, state) });
    publisher = createBreakerPublisher({ redis, prefix, breakers, runners: ['llm'], logger, workerId: 'host-a:101', refreshMs: 60_000 });
    await publisher.publish();
    expect((await api('/breakers')).body).toMatchObject({ breakers: [{ worker: 'host-a:101', runner: 'llm', state: 'closed' }], workers: 1, open: 0 });
    // One failed model call opens the llm circuit (threshold 1).
    await breakers.get('llm').execute(() => Promise.reject(new Error('model down'))).catch(() => undefined);
    await publisher.publish();
    const open = await api('/breakers');
    expect(open.body).toMatchObject({ breakers: [{ worker: 'host-a:101', runner: 'llm', state: 'open' }], open: 1 });
    expect(Date.parse(open.body.breakers[0].since)).toBeGreaterThan(Date.now() - 60_000);
    // A dead worker's field (expired) is neither shown nor kept.
    const key = breakerStatesKey(prefix);
    const past = new Date(Date.now() - 1_000).toISOString();
    await redis.hset(key, breakerStateField('host-b:202', 'llm'), JSON.stringify({ state: 'open', since: past, updatedAt: past, expiresAt: past }));
    expect((await api('/breakers')).body.breakers.map((b: any) => b.worker)).toEqual(['host-a:101']);
    expect(await redis.hexists(key, breakerStateField('host-b:202', 'llm'))).toBe(0);
    expect(await redis.ttl(key)).toBeGreaterThan(0);
    await publisher.stop();
    expect((await api('/breakers')).body).toEqual({ breakers: [], workers: 0, open: 0 });
  });
});

describe('breakers of a real worker process', () => {
  it('a worker started from its environment publishes the llm breaker it opened, and removes it when it stops', async () => {
    const llm = await startFakeLlm();
    const ownPrefix = testPrefix(); // its own queues, so the rules workers above do not take its jobs
    const ownIntake = new Queue(QUEUES.intake, { connection: redis, prefix: ownPrefix });
    const ownTriage = new Queue(QUEUES.triage, { connection: redis, prefix: ownPrefix });
    const producer = createIntakeProducer(ownIntake, redis, ownPrefix);
    const own = createConsoleApp({ api: createAdminApi({ db: tdb.db, redis, prefix: ownPrefix, triage: ownTriage, producer, logger }), session: { adminToken: TOKEN }, readiness: {}, logger });
    const read = async () => (await (await own.request('/api/breakers', { headers: bearer })).json()) as any;
    const worker = await startWorker(
      {
        REDIS_URL: `redis://${redis.options.host}:${redis.options.port}`,
        DATABASE_URL: tdb.url,
        PITCREW_QUEUE_PREFIX: ownPrefix,
        LLM_BASE_URL: llm.url,
        LLM_MODEL: 'test-model',
        LLM_MAX_RETRIES: '0',
        PITCREW_RUNNER: 'llm',
        PITCREW_BREAKER_THRESHOLD: '1',
        PITCREW_JOB_ATTEMPTS: '2',
        PITCREW_SHUTDOWN_TIMEOUT_MS: '2000',
        LOG_LEVEL: 'silent',
      },
      logger,
    );
    try {
      const me = `${hostname()}:${process.pid}`;
      // At start: the llm breaker of this process, closed.
      expect((await until('published', read, (b) => b.breakers.length > 0)).breakers).toEqual([expect.objectContaining({ worker: me, runner: 'llm', state: 'closed' })]);
      // The model answers 500 once: the llm runner fails, its breaker opens (threshold 1).
      llm.failNext(1, { status: 500 });
      await producer.enqueue({ deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date(), failure: normalizeGithubEvent('workflow_job', jobFailure(Math.floor(Math.random() * 1e12))) as CiFailure, payload: {} });
      const open = await until('llm breaker open', read, (b) => b.breakers.some((x: any) => x.state === 'open'));
      expect(open).toMatchObject({ breakers: [{ worker: me, runner: 'llm', state: 'open' }], workers: 1, open: 1 });
      // A worker that stops cleanly takes its fields with it.
      await worker.close();
      expect(await read()).toEqual({ breakers: [], workers: 0, open: 0 });
    } finally {
      await worker.close();
      await Promise.all([ownIntake.close(), ownTriage.close(), llm.stop()]);
      await deleteKeysWithPrefix(redis, ownPrefix);
    }
  });
});
