import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, migrateToLatest, type Database } from '@pitcrew/core';
import { findFreePort, startEmbeddedPostgres, type PostgresHandle } from '@pitcrew/stack';
import { createTestRedis, deleteKeysWithPrefix, testPrefix } from '@pitcrew/testkit';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import type { Kysely } from 'kysely';
import { baseEnv, exactlyOnceViolations, failedJobPayload, note, scratchDir, sendDelivery, startIngestProcess, startWorkerProcess, stopAll, waitFor } from './harness.ts';

/**
 * Postgres (a cluster this test owns) stops while the execute stage waits on the model, so the
 * stage's result cannot be persisted; it comes back a few seconds later. The job fails the
 * attempt, BullMQ retries it with exponential backoff (2 s, 4 s, …), and it completes once
 * Postgres is back. The interrupted attempt's execution row is closed as `failed` (abandoned), so
 * no row stays `running` and each stage has exactly one succeeded row.
 */
let pg: PostgresHandle | undefined;
let db: Kysely<Database>;
let llm: FakeLlm;
let dataDir: string;
let port: number;
const prefix = testPrefix();

async function startPostgres(): Promise<PostgresHandle> {
  return startEmbeddedPostgres({ dataDir, port, persistent: true, durable: false, database: 'pitcrew' });
}

beforeAll(async () => {
  dataDir = join(scratchDir('postgres'), 'data');
  port = await findFreePort();
  [pg, llm] = await Promise.all([startPostgres(), startFakeLlm({ model: 'fault-model' })]);
  db = createDb(pg.url, 2);
  await migrateToLatest(db);
});
afterAll(async () => {
  // Postgres first: stopAll removes the scratch directory holding its data directory.
  await db?.destroy();
  await pg?.stop();
  await stopAll();
  await llm?.stop();
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('Postgres outage during the persist step', () => {
  it('the job retries with backoff and completes when Postgres returns; no partial rows', async () => {
    const env = {
      ...baseEnv({ redisUrl: inject('redisUrl'), databaseUrl: pg!.url, prefix }),
      PITCREW_RUNNER: 'llm',
      LLM_BASE_URL: llm.url,
      LLM_MODEL: 'fault-model',
      LLM_MAX_RETRIES: '0',
      PITCREW_LLM_CLASSIFY_BELOW: '0',
    };
    const ingest = await startIngestProcess('ingest', env);
    llm.hold();
    const worker = await startWorkerProcess('worker', env);
    const failures = [1, 2, 3].map((n) => failedJobPayload(n, 7));
    for (const f of failures) expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    await waitFor('3 model calls held', 60_000, () => llm.held === 3);

    await db.destroy();
    await pg!.stop();
    const downAt = Date.now();
    llm.release(); // the answers arrive while Postgres is gone: the execute results cannot be written
    await waitFor('the worker to notice', 30_000, () => worker.output().includes('attempt failed; will retry'));
    await new Promise((r) => setTimeout(r, 4_000));
    pg = await startPostgres();
    db = createDb(pg.url, 2);
    note(`postgres outage: down for ${Date.now() - downAt} ms`);

    const ids = failures.map((f) => f.failureId);
    await waitFor('all triaged', 90_000, async () => {
      const rows = await db.selectFrom('failures').select('status').where('id', 'in', ids).execute();
      return rows.length === 3 && rows.every((r) => r.status === 'triaged');
    }, 250);
    expect(worker.gone).toBe(false);
    expect(await exactlyOnceViolations(db, ids)).toEqual([]);
    const executions = await db.selectFrom('executions').select(['failure_id', 'stage', 'attempt', 'status', 'error']).orderBy('failure_id').orderBy('stage').orderBy('attempt').execute();
    for (const id of ids) {
      const execute = executions.filter((e) => e.failure_id === id && e.stage === 'execute');
      // The interrupted attempt is closed as failed; a later attempt succeeded.
      expect(execute[0]).toMatchObject({ attempt: 1, status: 'failed' });
      expect(execute.at(-1)).toMatchObject({ status: 'succeeded' });
      expect(execute.at(-1)!.attempt).toBeGreaterThan(1);
    }
    note(`postgres outage: execute rows ${JSON.stringify(executions.filter((e) => e.stage === 'execute').map((e) => [e.attempt, e.status, e.error?.slice(0, 60) ?? null]))}`);
    await worker.stop();
    await ingest.stop();
  });
});
