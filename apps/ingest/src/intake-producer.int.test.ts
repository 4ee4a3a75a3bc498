import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INTAKE_PAYLOAD_TTL_SECONDS, intakeJobId, IntakeJobData, intakePayloadKey, normalizeGithubEvent, QUEUES, type CiFailure } from '@pitcrew/core';
import { createTestRedis, deleteKeysWithPrefix, testPrefix } from '@pitcrew/testkit';
import { createApp } from './app.ts';
import { createIntakeProducer } from './intake-producer.ts';

// The intake job names its payload's key; the payload is the body as GitHub sent it.

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const jobFailure = () => structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
const SECRET = 'producer-secret-0123456789';

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

async function post(body: string, contentType = 'application/json') {
  const app = createApp({ secrets: [SECRET], maxBodyBytes: 64 * 1024, producer: createIntakeProducer(intake, redis, prefix), logger: pino({ level: 'silent' }), readiness: {} });
  const deliveryId = randomUUID();
  const response = await app.request('/webhooks/github', {
    method: 'POST',
    headers: { 'content-type': contentType, 'x-github-event': 'workflow_job', 'x-github-delivery': deliveryId, 'x-hub-signature-256': await sign(SECRET, body) },
    body,
  });
  expect(response.status).toBe(202);
  return deliveryId;
}

describe('createIntakeProducer', () => {
  it('writes the payload as received beside the job, which names its key instead of carrying it', async () => {
    const body = JSON.stringify(jobFailure(), null, 1); // not GitHub's compact form: the bytes are kept as sent
    const deliveryId = await post(body);
    const data = IntakeJobData.parse((await intake.getJob(intakeJobId(deliveryId)))!.data);
    expect(data.payload).toBeUndefined();
    expect(data.payloadKey).toBe(intakePayloadKey(prefix, deliveryId));
    expect(await redis.get(data.payloadKey!)).toBe(body);
    const ttl = await redis.ttl(data.payloadKey!);
    expect(ttl).toBeGreaterThan(INTAKE_PAYLOAD_TTL_SECONDS - 60);
    expect(ttl).toBeLessThanOrEqual(INTAKE_PAYLOAD_TTL_SECONDS);
  });

  it('keeps the payload field of a form-encoded body, and serializes a payload given as an object', async () => {
    const json = JSON.stringify(jobFailure());
    const deliveryId = await post(`payload=${encodeURIComponent(json)}`, 'application/x-www-form-urlencoded');
    expect(await redis.get(intakePayloadKey(prefix, deliveryId))).toBe(json);
    const payload = jobFailure();
    const replayId = randomUUID();
    const producer = createIntakeProducer(intake, redis, prefix);
    const failure = normalizeGithubEvent('workflow_job', payload) as CiFailure;
    expect(await producer.enqueue({ deliveryId: replayId, event: 'workflow_job', action: 'completed', receivedAt: new Date(), failure, payload })).toBe('accepted');
    expect(JSON.parse((await redis.get(intakePayloadKey(prefix, replayId)))!)).toEqual(payload);
  });

  it("refuses a connection other than the queue's, on which a payload could land after its job", () => {
    const other = createTestRedis();
    try {
      expect(() => createIntakeProducer(intake, other, prefix)).toThrow(/queue's own connection/);
    } finally {
      other.disconnect();
    }
  });
});
