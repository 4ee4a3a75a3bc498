import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { intakePayloadKey, normalizeGithubEvent, QUEUES, type CiFailure, type IntakeJobData } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { processIntake } from './intake.ts';

// Where the intake job finds the delivery payload: beside the job in Redis (`payloadKey`, what
// ingest writes now) or inside it (`payload`, jobs of the previous release).

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const jobFailure = () => {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  return payload;
};

let tdb: TestDatabase;
let redis: Redis;
let prefix: string;
let triage: Queue;

beforeAll(async () => {
  tdb = await createTestDatabase();
  redis = createTestRedis();
});
afterAll(async () => {
  await Promise.all([tdb.destroy(), redis.quit()]);
});
beforeEach(() => {
  prefix = testPrefix();
  triage = new Queue(QUEUES.triage, { connection: redis, prefix });
  return async () => {
    await triage.close();
    await deleteKeysWithPrefix(redis, prefix);
  };
});

function intakeData(payload: any, where: { payloadKey?: string; inline?: boolean }): IntakeJobData {
  return {
    v: 1,
    deliveryId: randomUUID(),
    event: 'workflow_job',
    action: 'completed',
    receivedAt: new Date().toISOString(),
    failure: normalizeGithubEvent('workflow_job', payload) as CiFailure,
    ...(where.inline ? { payload } : {}),
    ...(where.payloadKey ? { payloadKey: where.payloadKey } : {}),
  };
}

const storedPayload = async (deliveryId: string) =>
  (await tdb.db.selectFrom('deliveries').select('payload').where('id', '=', deliveryId).executeTakeFirstOrThrow()).payload;

describe('processIntake and the delivery payload', () => {
  it('stores the payload ingest wrote beside the job, then deletes it from Redis', async () => {
    const payload = jobFailure();
    const deliveryId = randomUUID();
    const key = intakePayloadKey(prefix, deliveryId);
    await redis.set(key, JSON.stringify(payload));
    const data = { ...intakeData(payload, { payloadKey: key }), deliveryId };
    expect(await processIntake(tdb.db, triage, data)).toMatchObject({ created: true, status: 'queued' });
    expect(await storedPayload(deliveryId)).toEqual(payload);
    expect(await redis.exists(key)).toBe(0);
    expect(await triage.getJob(data.failure.id)).toBeDefined();
  });

  it('still accepts a job of the previous release, with the payload inside', async () => {
    const payload = jobFailure();
    const data = intakeData(payload, { inline: true });
    expect(await processIntake(tdb.db, triage, data)).toMatchObject({ created: true, status: 'queued' });
    expect(await storedPayload(data.deliveryId)).toEqual(payload);
  });

  it('records and triages the failure when the payload has expired, with a JSON null payload', async () => {
    const payload = jobFailure();
    const data = intakeData(payload, { payloadKey: intakePayloadKey(prefix, 'gone') });
    expect(await processIntake(tdb.db, triage, data)).toMatchObject({ created: true, status: 'queued' });
    expect(await storedPayload(data.deliveryId)).toBeNull();
    expect(await triage.getJob(data.failure.id)).toBeDefined();
  });
});
