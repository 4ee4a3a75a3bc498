import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createApp, createIntakeProducer } from '@pitcrew/ingest';
import { createRunnerRegistry, createWorkers } from '@pitcrew/worker';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
const SECRET = 'storm-secret-0123456789';

let tdb: TestDatabase;
const prefix = testPrefix();

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.destroy();
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('redelivery storm through ingest and workers', () => {
  it('the same delivery sent 100 times concurrently, plus its check_run twin, yields one job, one failure, one diagnosis', async () => {
    const redis = createTestRedis();
    const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
    const app = createApp({ secrets: [SECRET], maxBodyBytes: 1 << 20, producer: createIntakeProducer(intake, redis, prefix), logger, readiness: {} });
    const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
    const twin = structuredClone(sets.find((s) => s.name === 'check_run')!.examples.find((e) => e.action === 'completed' && e.check_run.conclusion === 'failure'));
    twin.check_run.id = payload.workflow_job.id;
    const post = async (event: string, body: string, deliveryId: string) =>
      (await app.request('/webhooks/github', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': deliveryId, 'x-hub-signature-256': await sign(SECRET, body) },
        body,
      })).json() as Promise<Record<string, unknown>>;
    const body = JSON.stringify(payload);
    const deliveryId = randomUUID();
    const answers = await Promise.all([
      ...Array.from({ length: 100 }, () => post('workflow_job', body, deliveryId)),
      post('check_run', JSON.stringify(twin), randomUUID()),
    ]);
    expect(answers.filter((a) => a.accepted)).toHaveLength(2); // the delivery once, and its twin (another delivery)
    expect(answers.filter((a) => a.duplicate)).toHaveLength(99);
    expect(new Set(answers.map((a) => a.failureId))).toEqual(new Set([`gh-job-${payload.workflow_job.id}`]));
    expect(await intake.count()).toBe(2);

    const connection = createTestRedis();
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners: createRunnerRegistry({ choice: 'rules' }), logger, concurrency: 4, attempts: 3 });
    const deadline = Date.now() + 20_000;
    let status: string | undefined;
    while (Date.now() < deadline) {
      status = (await tdb.db.selectFrom('failures').select('status').executeTakeFirst())?.status;
      const drained = (await intake.count()) === 0 && (await workers.triageQueue.count()) === 0 && (await workers.runQueues.rules!.count()) === 0;
      if (status === 'triaged' && drained) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('triaged');
    expect(await tdb.db.selectFrom('failures').select('id').execute()).toHaveLength(1);
    expect((await tdb.db.selectFrom('deliveries').select('outcome').execute()).map((d) => d.outcome).sort()).toEqual(['accepted', 'merged']);
    expect(await tdb.db.selectFrom('executions').select(['stage']).execute()).toHaveLength(3);
    await workers.close();
    await intake.close();
    await Promise.all([redis.quit(), connection.quit()]);
  });
});
