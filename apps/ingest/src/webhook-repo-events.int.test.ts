import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QUEUES, repoEventJobId, RepoEventJobData } from '@pitcrew/core';
import { createTestRedis, deleteKeysWithPrefix, signedWebhookRequest, testPrefix, type SignedWebhookOptions } from '@pitcrew/testkit';
import { createApp } from './app.ts';
import { createIntakeProducer } from './intake-producer.ts';
import { createRepoEventProducer } from './repo-event-producer.ts';
import { decideBeforeParsing } from './webhook-prefilter.ts';

// Repository events through the real app and a real Redis: a push of .github/pitcrew.yml and
// /pitcrew PR commands are queued once per delivery; every other push and comment is answered
// 202 ignored before its body is parsed.

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const example = (event: string, test: (e: any) => boolean) => structuredClone(sets.find((s) => s.name === event)!.examples.find(test));
const SECRET = 'current-secret-0123456789';
const logger = pino({ level: 'silent' });

/** GitHub's push example to the default branch, with one commit that changed `files`. */
function push(files: { added?: string[]; modified?: string[]; removed?: string[] }, ref = 'refs/heads/master') {
  const payload = example('push', (e) => e.ref === 'refs/heads/master');
  payload.ref = ref;
  payload.commits = [{ id: payload.after, message: 'config', added: [], removed: [], modified: [], ...files }];
  payload.installation = { id: 42, node_id: 'x' };
  return payload;
}

/** GitHub's issue_comment `created` example, on a pull request, with `body`. */
function comment(body: string, options: { onPullRequest?: boolean; userType?: string; action?: string } = {}) {
  const payload = example('issue_comment', (e) => e.action === (options.action ?? 'created'));
  payload.comment.body = body;
  if (options.onPullRequest !== false) payload.issue.pull_request = { url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1', html_url: 'https://github.com/Codertocat/Hello-World/pull/1' };
  if (options.userType) payload.comment.user.type = options.userType;
  return payload;
}

let redis: Redis;
let prefix: string;
let intake: Queue;
let repoEvents: Queue;
let app: ReturnType<typeof createApp>;

async function deliver(event: string, payload: unknown, options: SignedWebhookOptions = {}) {
  const response = await app.request('/webhooks/github', await signedWebhookRequest(SECRET, event, payload, options));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
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
  repoEvents = new Queue(QUEUES.repoEvents, { connection: redis, prefix });
  app = createApp({
    secrets: [SECRET],
    maxBodyBytes: 64 * 1024,
    producer: createIntakeProducer(intake, redis, prefix),
    repoEvents: createRepoEventProducer(repoEvents, redis, prefix),
    logger,
    readiness: {},
  });
  return async () => {
    await intake.close();
    await repoEvents.close();
    await deleteKeysWithPrefix(redis, prefix);
  };
});

describe('push of .github/pitcrew.yml', () => {
  it('queues one config refresh on the push\'s head commit, once per delivery id', async () => {
    const payload = push({ modified: ['.github/pitcrew.yml'] });
    const deliveryId = randomUUID();
    const first = await deliver('push', payload, { deliveryId });
    expect(first).toEqual({ status: 202, body: { accepted: true, repoEvent: true, kind: 'config-push' } });
    const again = await deliver('push', payload, { deliveryId });
    expect(again).toEqual({ status: 202, body: { duplicate: true, repoEvent: true, kind: 'config-push' } });
    expect(await repoEvents.count()).toBe(1);
    const data = RepoEventJobData.parse((await repoEvents.getJob(repoEventJobId(deliveryId)))!.data);
    expect(data).toMatchObject({ kind: 'config-push', owner: 'Codertocat', repo: 'Hello-World', installationId: 42, headSha: payload.after, defaultBranch: 'master', deliveryId });
  });

  it('also for a removed file', async () => {
    expect((await deliver('push', push({ removed: ['.github/pitcrew.yml'] }))).body).toMatchObject({ accepted: true, kind: 'config-push' });
  });

  it('ignores, before parsing, a push whose body never names the file', async () => {
    const res = await deliver('push', push({ modified: ['README.md'] }));
    expect(res).toEqual({ status: 202, body: { ignored: true, reason: 'push does not touch .github/pitcrew.yml' } });
    // Not parsed: a signed body that is not even JSON gets the same answer.
    expect((await deliver('push', null, { body: 'not json at all' })).body).toEqual({ ignored: true, reason: 'push does not touch .github/pitcrew.yml' });
    expect(await repoEvents.count()).toBe(0);
  });

  it('ignores a push to another branch, or one that names the file elsewhere', async () => {
    const other = await deliver('push', push({ modified: ['.github/pitcrew.yml'] }, 'refs/heads/feature'));
    expect(other.body).toEqual({ ignored: true, reason: 'push to refs/heads/feature is not to the default branch' });
    const payload = push({ modified: ['docs.md'] });
    payload.head_commit.message = 'mention .github/pitcrew.yml in the docs';
    expect((await deliver('push', payload)).body).toEqual({ ignored: true, reason: 'push does not change .github/pitcrew.yml' });
    expect(await repoEvents.count()).toBe(0);
  });
});

describe('issue_comment with /pitcrew', () => {
  it('queues a command of a comment on a pull request', async () => {
    const payload = comment('Looks flaky.\n/pitcrew rerun\n');
    const deliveryId = randomUUID();
    expect(await deliver('issue_comment', payload, { deliveryId })).toEqual({ status: 202, body: { accepted: true, repoEvent: true, kind: 'pr-command' } });
    const data = RepoEventJobData.parse((await repoEvents.getJob(repoEventJobId(deliveryId)))!.data);
    expect(data).toMatchObject({ kind: 'pr-command', command: 'rerun', prNumber: payload.issue.number, commentId: payload.comment.id, user: payload.comment.user.login, owner: 'Codertocat', repo: 'Hello-World' });
  });

  it('drops a comment without /pitcrew before parsing it, with a JSON reason', async () => {
    const res = await deliver('issue_comment', comment('LGTM, thanks!'));
    expect(res).toEqual({ status: 202, body: { ignored: true, reason: 'comment has no /pitcrew command' } });
    expect((await deliver('issue_comment', null, { body: '{"action":"created", not json' })).body).toEqual({ ignored: true, reason: 'comment has no /pitcrew command' });
    expect(decideBeforeParsing('issue_comment', '{"action":"deleted","comment":{"body":"/pitcrew fix"}}', 'application/json')).toEqual({ ignored: 'issue_comment action deleted is not created' });
    expect(await repoEvents.count()).toBe(0);
  });

  it('ignores a /pitcrew mention that is no command, an unknown command, an issue, a bot and an edit', async () => {
    expect((await deliver('issue_comment', comment('what does /pitcrew fix do?'))).body).toEqual({ ignored: true, reason: 'comment has no /pitcrew command line' });
    expect((await deliver('issue_comment', comment('/pitcrew deploy'))).body).toEqual({ ignored: true, reason: 'unknown command /pitcrew deploy; commands: fix, rerun, explain, quiet' });
    expect((await deliver('issue_comment', comment('/pitcrew fix', { onPullRequest: false }))).body).toEqual({ ignored: true, reason: 'comment is not on a pull request' });
    expect((await deliver('issue_comment', comment('/pitcrew fix', { userType: 'Bot' }))).body).toEqual({ ignored: true, reason: 'comment is by a bot' });
    expect((await deliver('issue_comment', comment('/pitcrew fix', { action: 'edited' }))).body).toEqual({ ignored: true, reason: 'issue_comment action edited is not created' });
    expect(await repoEvents.count()).toBe(0);
  });

  it('keeps the 400, 401 and 413 answers of every delivery', async () => {
    const unsigned = await deliver('issue_comment', comment('/pitcrew fix'), { signature: '' });
    expect(unsigned).toMatchObject({ status: 401, body: { error: 'missing_signature' } });
    const forged = await deliver('issue_comment', comment('/pitcrew fix'), { signature: await sign('another-secret-000000', 'x') });
    expect(forged).toMatchObject({ status: 401, body: { error: 'bad_signature' } });
    const malformed = await deliver('issue_comment', null, { body: '{"action":"created","comment":{"body":"/pitcrew fix"' });
    expect(malformed).toMatchObject({ status: 400, body: { error: 'malformed_json' } });
    const missing = comment('/pitcrew fix');
    delete missing.comment.id;
    expect(await deliver('issue_comment', missing)).toMatchObject({ status: 400, body: { error: 'bad_payload' } });
    const huge = comment(`/pitcrew fix\n${'x'.repeat(70 * 1024)}`);
    expect(await deliver('issue_comment', huge)).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
    expect(await repoEvents.count()).toBe(0);
  });

  it('reads a form-encoded comment too', async () => {
    const body = new URLSearchParams({ payload: JSON.stringify(comment('/pitcrew quiet')) }).toString();
    expect((await deliver('issue_comment', null, { body, contentType: 'application/x-www-form-urlencoded' })).body).toEqual({ accepted: true, repoEvent: true, kind: 'pr-command' });
  });
});
