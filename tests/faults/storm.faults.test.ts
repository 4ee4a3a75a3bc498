import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { baseEnv, exactlyOnceViolations, failedJobPayload, note, sendDelivery, startIngestProcess, startWorkerProcess, stopAll, waitFor } from './harness.ts';

/**
 * Redelivery storm and replay: 100 distinct failures, each delivery sent 10 times at once, split
 * over two ingest processes (as behind a load balancer), with two worker processes.
 */
let tdb: TestDatabase;
const prefix = testPrefix();

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await stopAll();
  await tdb.destroy();
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

describe('redelivery storm across two ingest processes', () => {
  it('1,000 deliveries of 100 failures, each sent 10 times concurrently: exactly 100 failures and 100 × 3 stage executions', async () => {
    const env = { ...baseEnv({ redisUrl: inject('redisUrl'), databaseUrl: tdb.url, prefix }), PITCREW_RUNNER: 'rules' };
    const [a, b] = await Promise.all([startIngestProcess('ingest-a', env), startIngestProcess('ingest-b', env)]);
    const workers = await Promise.all([startWorkerProcess('worker-1', env), startWorkerProcess('worker-2', env)]);
    const failures = Array.from({ length: 100 }, (_, n) => ({ ...failedJobPayload(n, 3), deliveryId: randomUUID() }));
    const sends = failures.flatMap((f) => Array.from({ length: 10 }, (_, copy) => sendDelivery(copy % 2 ? b.url : a.url, 'workflow_job', f.payload, f.deliveryId)));
    const answers = await Promise.all(sends);
    const byStatus = answers.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.status]: (acc[s.status] ?? 0) + 1 }), {});
    note(`storm: answers by HTTP status ${JSON.stringify(byStatus)}`);
    expect(byStatus).toEqual({ 202: 1000 });
    expect(answers.filter((s) => s.body?.accepted === true)).toHaveLength(100);
    expect(answers.filter((s) => s.body?.duplicate === true)).toHaveLength(900);

    const ids = failures.map((f) => f.failureId);
    await waitFor('100 failures triaged', 120_000, async () => {
      const r = await tdb.db.selectFrom('failures').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'triaged').executeTakeFirstOrThrow();
      return Number(r.n) === 100;
    }, 250);
    // Replay: the whole storm again, after the fact (GitHub "Redeliver" on every delivery).
    const replay = await Promise.all(failures.map((f, i) => sendDelivery(i % 2 ? b.url : a.url, 'workflow_job', f.payload, f.deliveryId)));
    expect(replay.every((s) => s.status === 202 && s.body?.duplicate === true)).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));

    expect(await exactlyOnceViolations(tdb.db, ids)).toEqual([]);
    const failuresCount = await tdb.db.selectFrom('failures').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const executions = await tdb.db.selectFrom('executions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const deliveries = await tdb.db.selectFrom('deliveries').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(failuresCount.n)).toBe(100);
    expect(Number(executions.n)).toBe(300);
    expect(Number(deliveries.n)).toBe(100);
    note('storm: 100 failures, 300 executions, 100 deliveries recorded');
    for (const w of workers) expect(w.gone).toBe(false);
  });
});
