import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openFailuresKey, QUEUES, ResolutionJobData, resolutionJobId } from '@pitcrew/core';
import { createTestRedis, deleteKeysWithPrefix, signedWebhookRequest, testPrefix } from '@pitcrew/testkit';
import { createApp } from './app.ts';
import { createIntakeProducer } from './intake-producer.ts';
import { createResolutionProducer } from './resolution-producer.ts';
import { decideBeforeParsing, repositoryOf } from './webhook-prefilter.ts';

// The ingest fast path of resolution against a real Redis: a completed success costs one EXISTS
// on its branch's open-failure set; only a hit is parsed and becomes a resolution job.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const example = (event: string, test: (e: any) => boolean) => structuredClone(sets.find((s) => s.name === event)!.examples.find(test));
const SECRET = 'current-secret-0123456789';
const logger = pino({ level: 'silent' });

/** A completed success of each CI event, from GitHub's examples, on branch `feature` of octo-org/green. */
function success(event: 'workflow_job' | 'check_run' | 'workflow_run' | 'check_suite'): any {
  const key = event === 'workflow_job' ? 'workflow_job' : event;
  const p = example(event, (e) => e.action === 'completed' && e[key]?.conclusion === 'success') ?? example(event, (e) => e.action === 'completed');
  p[key].conclusion = 'success';
  if (event === 'workflow_job') Object.assign(p.workflow_job, { head_branch: 'feature', name: 'unit', workflow_name: 'CI', steps: [] });
  if (event === 'check_run') Object.assign(p.check_run, { name: 'unit', check_suite: { ...p.check_run.check_suite, head_branch: 'feature' } });
  // A run's own `repository` is the base repository too (GitHub's example names another one).
  if (event === 'workflow_run') Object.assign(p.workflow_run, { head_branch: 'feature', name: 'CI', repository: { ...p.workflow_run.repository, name: 'green', full_name: 'octo-org/green' } });
  if (event === 'check_suite') Object.assign(p.check_suite, { head_branch: 'feature' });
  Object.assign(p.repository, { name: 'green', full_name: 'octo-org/green', owner: { ...p.repository.owner, login: 'octo-org' } });
  return p;
}

let redis: Redis;
let prefix: string;
let intake: Queue;
let resolutions: Queue;
let app: ReturnType<typeof createApp>;

async function deliver(event: string, payload: unknown, deliveryId = randomUUID()) {
  const response = await app.request('/webhooks/github', await signedWebhookRequest(SECRET, event, payload, { deliveryId }));
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
  resolutions = new Queue(QUEUES.resolutions, { connection: redis, prefix });
  app = createApp({
    secrets: [SECRET],
    maxBodyBytes: 256 * 1024,
    producer: createIntakeProducer(intake, redis, prefix),
    resolutions: createResolutionProducer(resolutions, redis, prefix),
    logger,
    readiness: {},
  });
  return async () => {
    await Promise.all([intake.close(), resolutions.close()]);
    await deleteKeysWithPrefix(redis, prefix);
  };
});

describe('resolution fast path', () => {
  it("reads every CI event's repository and branch from the raw body, before parsing", () => {
    for (const event of ['workflow_job', 'check_run', 'workflow_run', 'check_suite'] as const) {
      const raw = JSON.stringify(success(event));
      expect(repositoryOf(raw)).toBe('octo-org/green');
      expect(decideBeforeParsing(event, raw, 'application/json')).toEqual({ lookup: 'resolution', repository: 'octo-org/green', branch: 'feature', reason: 'conclusion success is not a failure' });
    }
  });

  it('answers a success of a branch without open failures 202 ignored and enqueues nothing', async () => {
    const res = await deliver('workflow_job', success('workflow_job'));
    expect(res).toEqual({ status: 202, body: { ignored: true, reason: 'conclusion success is not a failure' } });
    expect(await resolutions.count()).toBe(0);
  });

  it('makes a success of a branch with open failures one resolution job per delivery', async () => {
    await redis.sadd(openFailuresKey(prefix, 'octo-org', 'green', 'feature'), 'gh-job-1');
    const deliveryId = randomUUID();
    const payload = success('workflow_job');
    const res = await deliver('workflow_job', payload, deliveryId);
    expect(res).toEqual({ status: 202, body: { accepted: true, resolution: true, repository: 'octo-org/green', branch: 'feature' } });
    const job = (await resolutions.getJob(resolutionJobId({ v: 1, kind: 'ci-success', deliveryId } as ResolutionJobData)))!;
    expect(ResolutionJobData.parse(job.data)).toMatchObject({
      kind: 'ci-success',
      deliveryId,
      owner: 'octo-org',
      repo: 'green',
      branch: 'feature',
      headSha: payload.workflow_job.head_sha,
      scope: 'job',
      jobName: 'unit',
      workflowName: 'CI',
      runId: payload.workflow_job.run_id,
    });
    expect((await deliver('workflow_job', payload, deliveryId)).body).toMatchObject({ duplicate: true, resolution: true });
    expect((await deliver('workflow_run', success('workflow_run'))).body).toMatchObject({ accepted: true, resolution: true });
    expect(await resolutions.count()).toBe(2);
    // A failure on that branch is still a failure.
    const failure = example('workflow_job', (e) => e.workflow_job.conclusion === 'failure');
    expect((await deliver('workflow_job', failure)).body).toMatchObject({ accepted: true, failureId: `gh-job-${failure.workflow_job.id}` });
  });

  it('without a resolutions producer (PITCREW_RESOLUTION=false) every success is ignored', async () => {
    await redis.sadd(openFailuresKey(prefix, 'octo-org', 'green', 'feature'), 'gh-job-1');
    app = createApp({ secrets: [SECRET], maxBodyBytes: 256 * 1024, producer: createIntakeProducer(intake, redis, prefix), logger, readiness: {} });
    expect((await deliver('workflow_job', success('workflow_job'))).body).toEqual({ ignored: true, reason: 'conclusion success is not a failure' });
    expect(await resolutions.count()).toBe(0);
  });
});
