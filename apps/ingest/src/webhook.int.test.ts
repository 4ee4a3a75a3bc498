import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixEventJobId, FixEventJobData, intakeJobId, IntakeJobData, QUEUES } from '@pitcrew/core';
import { createTestRedis, deleteKeysWithPrefix, testPrefix } from '@pitcrew/testkit';
import { createApp } from './app.ts';
import { createFixEventProducer } from './fix-event-producer.ts';
import { createIntakeProducer } from './intake-producer.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const example = (event: string, test: (e: any) => boolean) =>
  structuredClone(sets.find((s) => s.name === event)!.examples.find(test));
const jobFailure = () => example('workflow_job', (e) => e.workflow_job.conclusion === 'failure');

const SECRET = 'current-secret-0123456789';
const OLD_SECRET = 'previous-secret-0123456789';
const logger = pino({ level: 'silent' });

let redis: Redis;
let prefix: string;
let intake: Queue;
let fixEvents: Queue;
let app: ReturnType<typeof createApp>;

async function deliver(
  event: string,
  payload: unknown,
  options: { deliveryId?: string; secret?: string; signature?: string; body?: string; contentType?: string; target?: typeof app } = {},
) {
  const body = options.body ?? JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/json',
    'x-github-event': event,
    'x-github-delivery': options.deliveryId ?? randomUUID(),
  };
  const signature = options.signature ?? (await sign(options.secret ?? SECRET, body));
  if (signature) headers['x-hub-signature-256'] = signature;
  const response = await (options.target ?? app).request('/webhooks/github', { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, any>, headers: response.headers };
}

beforeAll(() => {
  redis = createTestRedis();
});
afterAll(async () => {
  await redis.quit();
});
beforeEach(async () => {
  prefix = testPrefix();
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  fixEvents = new Queue(QUEUES.fixEvents, { connection: redis, prefix });
  app = createApp({
    secrets: [SECRET, OLD_SECRET],
    maxBodyBytes: 64 * 1024,
    producer: createIntakeProducer(intake, redis, prefix),
    fixEvents: createFixEventProducer(fixEvents, redis, prefix),
    logger,
    readiness: { redis: () => redis.ping() },
  });
  return async () => {
    await intake.close();
    await fixEvents.close();
    await deleteKeysWithPrefix(redis, prefix);
  };
});

describe('POST /webhooks/github', () => {
  it('accepts a signed failure, enqueues one intake job with the normalized failure', async () => {
    const payload = jobFailure();
    const deliveryId = randomUUID();
    const res = await deliver('workflow_job', payload, { deliveryId });
    expect(res).toMatchObject({ status: 202, body: { accepted: true, failureId: `gh-job-${payload.workflow_job.id}` } });
    const job = await intake.getJob(intakeJobId(deliveryId));
    const data = IntakeJobData.parse(job!.data);
    expect(data.failure.failedSteps).toEqual(['Run yarn run format-check']);
    expect(data.deliveryId).toBe(deliveryId);
  });

  it('answers ping with 200', async () => {
    const res = await deliver('ping', example('ping', () => true));
    expect(res).toMatchObject({ status: 200, body: { ok: true, event: 'ping' } });
  });

  it('accepts a signature made with an older secret (rotation)', async () => {
    expect((await deliver('workflow_job', jobFailure(), { secret: OLD_SECRET })).status).toBe(202);
  });

  it.each([
    ['missing', '', 'missing_signature'],
    ['another secret', 'sign:another-secret-000000', 'bad_signature'],
    ['sha1 algorithm', 'sha1=0123456789abcdef0123456789abcdef01234567', 'bad_signature'],
    ['a different body', 'other-body', 'bad_signature'],
    ['garbage', 'sha256=zz', 'bad_signature'],
  ])('401 for a signature that is %s', async (_what, kind, code) => {
    const payload = jobFailure();
    let signature = kind;
    if (kind.startsWith('sign:')) signature = await sign(kind.slice(5), JSON.stringify(payload));
    if (kind === 'other-body') signature = await sign(SECRET, JSON.stringify({ ...payload, action: 'queued' }));
    const res = await deliver('workflow_job', payload, { signature });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: code });
    expect(res.body.reason).toEqual(expect.any(String));
    expect(await intake.count()).toBe(0);
  });

  it('400 for malformed JSON, a non-object body and a payload missing fields its event needs', async () => {
    const malformed = await deliver('workflow_job', null, { body: '{"action": "completed",' });
    expect(malformed).toMatchObject({ status: 400, body: { error: 'malformed_json' } });
    const array = await deliver('workflow_job', [1, 2]);
    expect(array).toMatchObject({ status: 400, body: { error: 'malformed_body' } });
    const payload = jobFailure();
    delete payload.workflow_job.head_sha;
    const missing = await deliver('workflow_job', payload);
    expect(missing).toMatchObject({ status: 400, body: { error: 'bad_payload' } });
    expect(missing.body.reason).toContain('workflow_job.head_sha');
  });

  it('400 when the delivery or event header is missing', async () => {
    const body = JSON.stringify(jobFailure());
    const res = await app.request('/webhooks/github', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-hub-signature-256': await sign(SECRET, body) },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'missing_header', reason: 'x-github-delivery header is missing' });
  });

  it('415 for a content type GitHub does not send, and accepts the form-encoded one', async () => {
    const text = await deliver('workflow_job', jobFailure(), { contentType: 'text/plain' });
    expect(text).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
    const form = `payload=${encodeURIComponent(JSON.stringify(jobFailure()))}`;
    const res = await deliver('workflow_job', null, { body: form, contentType: 'application/x-www-form-urlencoded' });
    expect(res).toMatchObject({ status: 202, body: { accepted: true } });
  });

  it('413 for a body over the limit, by Content-Length and when streamed without one', async () => {
    const big = JSON.stringify({ action: 'completed', pad: 'x'.repeat(70 * 1024) });
    const declared = await deliver('workflow_job', null, { body: big });
    expect(declared).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        if (pulled > 1_000) return controller.close(); // 16 MiB: far past the limit
        controller.enqueue(new Uint8Array(16 * 1024).fill(120));
      },
    });
    const res = await app.request('/webhooks/github', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'workflow_job',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': 'sha256=' + '0'.repeat(64),
      },
      body: stream,
      duplex: 'half', // Node's fetch needs it for a stream body
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(20); // stopped reading soon after 64 KiB, did not buffer 16 MiB
  });

  it('202 ignored with a reason for non-failures and unknown events, without enqueueing', async () => {
    const success = await deliver('workflow_job', example('workflow_job', (e) => e.workflow_job.conclusion === 'success'));
    expect(success).toMatchObject({ status: 202, body: { ignored: true, reason: 'conclusion success is not a failure' } });
    const unknown = await deliver('issues', { action: 'opened' });
    expect(unknown).toMatchObject({ status: 202, body: { ignored: true, reason: 'event issues is not a CI event' } });
    expect(await intake.count()).toBe(0);
  });

  it('a redelivery is a duplicate and adds no job', async () => {
    const payload = jobFailure();
    const deliveryId = randomUUID();
    expect((await deliver('workflow_job', payload, { deliveryId })).body).toMatchObject({ accepted: true });
    expect((await deliver('workflow_job', payload, { deliveryId })).body).toEqual({ duplicate: true, failureId: `gh-job-${payload.workflow_job.id}` });
    expect(await intake.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('concurrent copies of one delivery: exactly one accepted, one job', async () => {
    const payload = jobFailure();
    const deliveryId = randomUUID();
    const results = await Promise.all(Array.from({ length: 25 }, () => deliver('workflow_job', payload, { deliveryId })));
    expect(results.filter((r) => r.body.accepted)).toHaveLength(1);
    expect(results.filter((r) => r.body.duplicate)).toHaveLength(24);
    expect(await intake.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('503 with Retry-After, never 202, when the queue is unreachable', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => {});
    const deadQueue = new Queue(QUEUES.intake, { connection: dead, prefix, skipWaitingForReady: true });
    deadQueue.on('error', () => {});
    const target = createApp({
      secrets: [SECRET],
      maxBodyBytes: 64 * 1024,
      producer: createIntakeProducer(deadQueue, dead, prefix),
      logger,
      readiness: { redis: () => dead.ping() },
    });
    const res = await deliver('workflow_job', jobFailure(), { target });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'queue_unavailable' });
    expect(res.headers.get('retry-after')).toBe('30');
    const ready = await target.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, checks: { redis: { ok: false } } });
    await deadQueue.close().catch(() => {});
    dead.disconnect();
  });
});

describe('health, readiness and nothing else', () => {
  it('healthz and readyz answer 200 when Redis answers', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { redis: { ok: true } } });
  });

  it('unknown routes get a JSON 404', async () => {
    const res = await app.request('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });
});

describe('repository allow/deny lists and request logs', () => {
  it('ignores failures of repositories outside PITCREW_REPOS_ALLOW or inside PITCREW_REPOS_DENY', async () => {
    const { createRepoFilter } = await import('./repo-filter.ts');
    const target = createApp({
      secrets: [SECRET],
      maxBodyBytes: 64 * 1024,
      producer: createIntakeProducer(intake, redis, prefix),
      logger,
      readiness: {},
      repoFilter: createRepoFilter(['octo-org/*', 'Codertocat/*'], ['codertocat/hello-*']),
    });
    const allowed = jobFailure();
    const owner = allowed.repository.owner.login;
    allowed.repository.owner.login = 'octo-org';
    expect((await deliver('workflow_job', allowed, { target })).body).toMatchObject({ accepted: true });
    const denied = jobFailure();
    denied.repository.owner.login = 'Codertocat';
    denied.repository.name = 'Hello-World';
    expect((await deliver('workflow_job', denied, { target })).body).toEqual({
      ignored: true,
      reason: 'repository Codertocat/Hello-World matches PITCREW_REPOS_DENY',
    });
    const elsewhere = jobFailure();
    elsewhere.repository.owner.login = `${owner}-elsewhere`;
    expect((await deliver('workflow_job', elsewhere, { target })).body.reason).toMatch(/does not match PITCREW_REPOS_ALLOW/);
    expect(() => createRepoFilter([' '], [])).toThrow('empty repository pattern');
  });

  it('logs one JSON line per delivery with ids, outcome and latency, never the body or signature', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const target = createApp({
      secrets: [SECRET],
      maxBodyBytes: 64 * 1024,
      producer: createIntakeProducer(intake, redis, prefix),
      logger: sink,
      readiness: {},
    });
    const payload = jobFailure();
    const deliveryId = randomUUID();
    await deliver('workflow_job', payload, { deliveryId, target });
    await deliver('workflow_job', payload, { deliveryId, target, signature: 'sha256=' + '0'.repeat(64) });
    const mine = lines.filter((l) => l.deliveryId === deliveryId && l.msg === 'webhook delivery');
    expect(mine.map((l) => [l.status, l.outcome])).toEqual([
      [202, 'accepted'],
      [401, 'rejected'],
    ]);
    expect(mine[0]).toMatchObject({ event: 'workflow_job', failureId: `gh-job-${payload.workflow_job.id}` });
    expect(mine[0]!.latencyMs).toEqual(expect.any(Number));
    const all = JSON.stringify(lines);
    expect(all).not.toContain('format-check'); // from the body
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('sha256=');
  });
});

describe('fix events (fix loop part 2)', () => {
  const LOOP = 'gh-job-4242';
  const FIX_BRANCH = `pitcrew/fix/${LOOP}`;
  const jobSuccess = (branch: string) => {
    const payload = example('workflow_job', (e) => e.action === 'completed' && e.workflow_job.conclusion === 'success');
    payload.workflow_job.head_branch = branch;
    return payload;
  };
  const checkRunSuccess = (branch: string) => {
    const payload = example('check_run', (e) => e.action === 'completed' && e.check_run.conclusion === 'success');
    payload.check_run.check_suite.head_branch = branch;
    return payload;
  };
  const pullRequest = (action: string, ref: string, merged = false) => {
    const payload = example('pull_request', (e) => e.action === 'closed');
    payload.action = action;
    payload.pull_request.head.ref = ref;
    payload.pull_request.merged = merged;
    payload.pull_request.merged_by = merged ? { login: 'octo-maintainer', id: 9 } : null;
    payload.pull_request.closed_at = action === 'closed' ? '2026-12-03T10:00:00Z' : null;
    return payload;
  };

  it('accepts a workflow_job or check_run success on a fix branch as a fix event, one job per delivery', async () => {
    const deliveryId = randomUUID();
    const res = await deliver('workflow_job', jobSuccess(FIX_BRANCH), { deliveryId });
    expect(res).toMatchObject({ status: 202, body: { accepted: true, fixEvent: true, kind: 'ci-success', loopId: LOOP } });
    const data = FixEventJobData.parse((await fixEvents.getJob(fixEventJobId(deliveryId)))!.data);
    expect(data).toMatchObject({ v: 1, deliveryId, kind: 'ci-success', event: 'workflow_job', branch: FIX_BRANCH, scope: 'job', jobName: expect.any(String) });
    const check = await deliver('check_run', checkRunSuccess(FIX_BRANCH));
    expect(check.body).toMatchObject({ accepted: true, fixEvent: true, kind: 'ci-success', loopId: LOOP });
    expect(await fixEvents.count()).toBe(2);
    expect(await intake.count()).toBe(0);
  });

  it('ignores a success on any other branch, and a failure on a fix branch is still a failure', async () => {
    const elsewhere = await deliver('workflow_job', jobSuccess('main'));
    expect(elsewhere.body).toEqual({ ignored: true, reason: 'conclusion success is not a failure' });
    const failure = jobFailure();
    failure.workflow_job.head_branch = FIX_BRANCH;
    expect((await deliver('workflow_job', failure)).body).toMatchObject({ accepted: true, failureId: `gh-job-${failure.workflow_job.id}` });
    expect(await fixEvents.count()).toBe(0);
    expect(await intake.count()).toBe(1);
  });

  it('accepts pull_request closed (merged) and reopened on a fix branch with who merged it and when', async () => {
    const closedId = randomUUID();
    const merged = await deliver('pull_request', pullRequest('closed', FIX_BRANCH, true), { deliveryId: closedId });
    expect(merged).toMatchObject({ status: 202, body: { accepted: true, fixEvent: true, kind: 'pull-request', loopId: LOOP } });
    expect(FixEventJobData.parse((await fixEvents.getJob(fixEventJobId(closedId)))!.data)).toMatchObject({
      kind: 'pull-request',
      action: 'closed',
      merged: true,
      mergedBy: 'octo-maintainer',
      closedAt: '2026-12-03T10:00:00Z',
      branch: FIX_BRANCH,
    });
    const reopened = await deliver('pull_request', pullRequest('reopened', FIX_BRANCH));
    expect(reopened.body).toMatchObject({ accepted: true, kind: 'pull-request' });
    expect(await fixEvents.count()).toBe(2);
  });

  it('ignores pull_request on other branches and other actions, with a reason', async () => {
    expect((await deliver('pull_request', pullRequest('closed', 'feature/x', true))).body).toEqual({ ignored: true, reason: 'pull_request head is not a pitcrew/fix/ branch' });
    expect((await deliver('pull_request', pullRequest('opened', FIX_BRANCH))).body).toEqual({ ignored: true, reason: 'pull_request action opened is not closed or reopened' });
    // The base, not the head, is a fix branch: found by the raw scan, refused once parsed.
    const intoFix = pullRequest('closed', 'feature/x');
    intoFix.pull_request.base.ref = FIX_BRANCH;
    expect((await deliver('pull_request', intoFix)).body).toEqual({ ignored: true, reason: 'pull request head feature/x is not a pitcrew/fix/ branch' });
    expect(await fixEvents.count()).toBe(0);
  });

  it('a redelivered fix event is a duplicate and adds no job; a form-encoded one is accepted too', async () => {
    const deliveryId = randomUUID();
    const payload = pullRequest('closed', FIX_BRANCH);
    expect((await deliver('pull_request', payload, { deliveryId })).body).toMatchObject({ accepted: true });
    expect((await deliver('pull_request', payload, { deliveryId })).body).toEqual({ duplicate: true, fixEvent: true, kind: 'pull-request', loopId: LOOP });
    const form = `payload=${encodeURIComponent(JSON.stringify(jobSuccess(FIX_BRANCH)))}`;
    expect((await deliver('workflow_job', null, { body: form, contentType: 'application/x-www-form-urlencoded' })).body).toMatchObject({ accepted: true, fixEvent: true });
    expect(await fixEvents.count()).toBe(2);
  });

  it('400 for a fix PR payload missing its head', async () => {
    const payload = pullRequest('closed', FIX_BRANCH);
    delete payload.pull_request.head.sha;
    expect(await deliver('pull_request', payload)).toMatchObject({ status: 400, body: { error: 'bad_payload' } });
  });
});
