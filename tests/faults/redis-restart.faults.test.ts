import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRedisServer, findFreePort, startRedisServer, type RedisServerHandle } from '@pitcrew/stack';
import { createTestDatabase, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { baseEnv, exactlyOnceViolations, failedJobPayload, note, scratchDir, sendDelivery, startIngestProcess, startWorkerProcess, stopAll, waitFor, type Sent } from './harness.ts';

/**
 * redis-server (AOF on, appendfsync everysec) is stopped and started again on the same port and
 * directory while ingest receives a steady stream of deliveries and two workers process them.
 * While Redis is down ingest answers 503 with Retry-After (never 202 for a delivery it could not
 * enqueue); GitHub's redelivery of those deliveries is accepted afterwards; the workers reconnect
 * by themselves; every failure answered 202 reaches a final state in Postgres.
 */
let tdb: TestDatabase;
let redis: RedisServerHandle | undefined;
let bin: string;
let dir: string;
let port: number;
const prefix = testPrefix();

beforeAll(async () => {
  tdb = await createTestDatabase();
  bin = await ensureRedisServer({ install: false });
  dir = join(scratchDir('redis'), 'data');
  port = await findFreePort();
  redis = await startRedisServer({ bin, dir, port, appendonly: true });
});
afterAll(async () => {
  // The server first: stopAll removes the scratch directories it still writes its AOF into.
  await redis?.stop();
  await stopAll();
  await tdb.destroy();
});

interface Delivery {
  n: number;
  deliveryId: string;
  payload: unknown;
  failureId: string;
  answers: Sent[];
}

describe('Redis restart under a steady stream of deliveries', () => {
  it('503 + Retry-After while down, redeliveries accepted after, workers reconnect, nothing accepted is lost', async () => {
    const env = { ...baseEnv({ redisUrl: redis!.url, databaseUrl: tdb.url, prefix }), PITCREW_RUNNER: 'rules' };
    const ingest = await startIngestProcess('ingest', env);
    const workers = await Promise.all([startWorkerProcess('worker-1', env), startWorkerProcess('worker-2', env)]);

    const deliveries: Delivery[] = [];
    let streaming = true;
    let phase: 'before' | 'down' | 'after' = 'before';
    const byPhase: Record<string, Record<number, number>> = { before: {}, down: {}, after: {} };
    const stream = (async () => {
      let n = 0;
      const inFlight: Promise<void>[] = [];
      while (streaming) {
        const f = failedJobPayload(n, 6);
        const d: Delivery = { n, deliveryId: randomUUID(), payload: f.payload, failureId: f.failureId, answers: [] };
        deliveries.push(d);
        const at = phase;
        inFlight.push(
          sendDelivery(ingest.url, 'workflow_job', d.payload, d.deliveryId).then((s) => {
            d.answers.push(s);
            byPhase[at]![s.status] = (byPhase[at]![s.status] ?? 0) + 1;
          }),
        );
        n += 1;
        await new Promise((r) => setTimeout(r, 40)); // ~25 deliveries/s
      }
      await Promise.all(inFlight);
    })();

    await new Promise((r) => setTimeout(r, 2_000));
    phase = 'down';
    const stoppedAt = Date.now();
    await redis!.stop();
    await new Promise((r) => setTimeout(r, 3_000));
    redis = await startRedisServer({ bin, dir, port, appendonly: true });
    const downMs = Date.now() - stoppedAt;
    phase = 'after';
    // Ingest's Redis client reconnects by itself; keep streaming until it has for a while.
    await waitFor('ingest ready again', 30_000, async () => (await fetch(`${ingest.url}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 2_000));
    streaming = false;
    await stream;
    note(`redis restart: down ${downMs} ms; answers by phase ${JSON.stringify(byPhase)}`);

    const answers = deliveries.map((d) => d.answers[0]!);
    // Only 202 or 503 — never a 500, never a dropped connection.
    expect(answers.every((s) => s.status === 202 || s.status === 503)).toBe(true);
    const refused = deliveries.filter((d) => d.answers[0]!.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const d of refused) expect(d.answers[0]!.retryAfter).toMatch(/^\d+$/);
    const accepted = deliveries.filter((d) => d.answers[0]!.status === 202);

    // GitHub redelivers the refused ones (same delivery id): accepted now.
    const redelivered = await Promise.all(refused.map((d) => sendDelivery(ingest.url, 'workflow_job', d.payload, d.deliveryId)));
    expect(redelivered.map((s) => s.status).filter((s) => s !== 202)).toEqual([]);

    // The workers were never restarted: they reconnected by themselves and finish everything.
    const ids = deliveries.map((d) => d.failureId);
    await waitFor(`${ids.length} failures final`, 120_000, async () => {
      const r = await tdb.db.selectFrom('failures').select((eb) => eb.fn.countAll<string>().as('n')).where('status', 'in', ['triaged', 'failed']).executeTakeFirstOrThrow();
      return Number(r.n) === ids.length;
    }, 250);
    expect(await exactlyOnceViolations(tdb.db, ids)).toEqual([]);
    // Nothing accepted before, during or after the outage was lost.
    const final = new Set((await tdb.db.selectFrom('failures').select('id').where('status', '=', 'triaged').execute()).map((r) => r.id));
    expect(accepted.filter((d) => !final.has(d.failureId))).toEqual([]);
    note(`redis restart: ${accepted.length} accepted at once, ${refused.length} refused with 503 and accepted on redelivery; all ${ids.length} triaged exactly once`);
    for (const w of workers) expect(w.gone).toBe(false);
  });
});
