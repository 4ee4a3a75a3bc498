import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerStatesKey, createRedisConnection, deliverySeenKey, openFailuresKey, type RedisConnection } from '@pitcrew/core';
import { startIngest, type IngestHandle } from '@pitcrew/ingest';
import { createTestDatabase, startRedisCluster, testPrefix, type RedisClusterHandle, type TestDatabase } from '@pitcrew/testkit';
import { commandMemoKey, createBreakerPublisher, createBreakers, rerunCounterKeys, startWorker, type WorkerHandle } from '@pitcrew/worker';

// pitcrew on a real Redis Cluster (3 masters, 1 replica each): ingest and a worker in this process,
// REDIS_URL=redis+cluster://…; signed deliveries in, failures triaged and resolved in Postgres;
// every key pitcrew wrote is in the queue prefix's one slot, and the MULTIs of the other paths
// (breaker states, re-run counters, PR command memos) run on the cluster without CROSSSLOT.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const jobFailure = sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.action === 'completed' && e.workflow_job.conclusion === 'failure');
const SECRET = 'cluster-secret-0123456789';

let dir: string;
let cluster: RedisClusterHandle;
let tdb: TestDatabase;
let ingest: IngestHandle;
let worker: WorkerHandle;
let redis: RedisConnection;
const prefix = testPrefix();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pitcrew-cluster-'));
  [cluster, tdb] = await Promise.all([startRedisCluster({ dir, appendonly: false }), createTestDatabase()]);
  const env = {
    REDIS_URL: cluster.url,
    DATABASE_URL: tdb.url,
    PITCREW_QUEUE_PREFIX: prefix,
    GITHUB_WEBHOOK_SECRET: SECRET,
    PITCREW_RUNNER: 'rules',
    PITCREW_DB_POOL_SIZE: '4',
    PITCREW_METRICS_PORT: '0',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
  };
  const logger = pino({ level: process.env.CLUSTER_TEST_LOG ?? 'silent' });
  [ingest, worker] = await Promise.all([startIngest(env, logger), startWorker(env, logger)]);
  redis = createRedisConnection(cluster.url, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  await ingest?.close();
  await worker?.close();
  await redis?.quit();
  await cluster?.stop();
  await tdb?.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function deliver(payload: unknown, deliveryId: string = randomUUID()): Promise<{ status: number; body: any }> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${ingest.url}/webhooks/github`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': deliveryId, 'x-hub-signature-256': await sign(SECRET, body) },
    body,
  });
  return { status: res.status, body: await res.json() };
}

function job(n: number, conclusion: 'failure' | 'success'): any {
  const p = structuredClone(jobFailure);
  Object.assign(p.workflow_job, { id: 9_100_000_000 + n, run_id: 9_200_000_000 + n, name: `test (shard ${n})`, conclusion });
  // A success that came after the failure (it resolves failures received before it), all steps green.
  if (conclusion === 'success') Object.assign(p.workflow_job, { completed_at: new Date().toISOString(), steps: p.workflow_job.steps.map((step: any) => ({ ...step, conclusion: 'success' })) });
  // GitHub's example names two owners; one repository, as GitHub sends it.
  Object.assign(p.repository, { name: 'green', full_name: 'octo-org/green', owner: { ...p.repository.owner, login: 'octo-org' } });
  return p;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('pitcrew on a Redis Cluster', () => {
  it('ingests, triages and resolves failures; a redelivery is a duplicate; every key is in the prefix slot', async () => {
    expect(await fetch(`${ingest.url}/readyz`).then((r) => r.status)).toBe(200);
    const ids = [1, 2, 3].map((n) => `gh-job-${9_100_000_000 + n}`);
    const first = randomUUID();
    const answers = await Promise.all([deliver(job(1, 'failure'), first), deliver(job(2, 'failure')), deliver(job(3, 'failure'))]);
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    // GitHub's redelivery of the first: the seen mark answers it, on the cluster as on one server.
    expect((await deliver(job(1, 'failure'), first)).body).toMatchObject({ duplicate: true });

    const triaged = await until('3 failures triaged', async () => {
      const rows = await tdb.db.selectFrom('failures').select(['id', 'status']).where('id', 'in', ids).execute();
      return rows.length === 3 && rows.every((r) => r.status === 'triaged') ? rows : undefined;
    });
    expect(triaged.map((r) => r.id).sort()).toEqual(ids);
    const executions = await tdb.db.selectFrom('executions').select(['failure_id', 'stage', 'status']).where('failure_id', 'in', ids).execute();
    for (const id of ids) {
      for (const stage of ['classify', 'execute', 'summarize']) {
        expect(executions.filter((e) => e.failure_id === id && e.stage === stage && e.status === 'succeeded'), `${id}/${stage}`).toHaveLength(1);
      }
    }
    expect(await tdb.db.selectFrom('deliveries').select('id').where('id', '=', first).execute()).toHaveLength(1);

    // The branch's open-failure set (MULTI SADD + EXPIRE by the worker, EXISTS by ingest): the same
    // job passing resolves its failure.
    const openKey = openFailuresKey(prefix, 'octo-org', 'green', jobFailure.workflow_job.head_branch);
    expect(await redis.scard(openKey)).toBe(3);
    expect((await deliver(job(2, 'success'))).body).toMatchObject({ accepted: true, resolution: true });
    await until('shard 2 resolved', async () => {
      const row = await tdb.db.selectFrom('failures').select('resolved_at').where('id', '=', ids[1]!).executeTakeFirst();
      return row?.resolved_at ? row : undefined;
    });
    expect(await redis.sismember(openKey, ids[1]!)).toBe(0);

    // Every key pitcrew and BullMQ wrote sits in one slot, on the one master that serves it.
    const slot = await cluster.slotOf(prefix);
    const keysBySlot = new Map<number, string[]>();
    const masters = (redis as import('ioredis').Cluster).nodes('master');
    for (const node of masters) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
        cursor = next;
        for (const key of keys) {
          const s = Number(await node.cluster('KEYSLOT', key));
          keysBySlot.set(s, [...(keysBySlot.get(s) ?? []), key]);
        }
      } while (cursor !== '0');
    }
    expect([...keysBySlot.keys()]).toEqual([slot]);
    expect(keysBySlot.get(slot)!.some((k) => k === deliverySeenKey(prefix, first))).toBe(true);
    expect(keysBySlot.get(slot)!.length).toBeGreaterThan(10);
  });

  it('runs the multi-key commands of breaker states, re-run counters and PR command memos on the cluster', async () => {
    const publisher = createBreakerPublisher({
      redis,
      prefix,
      breakers: createBreakers({ threshold: 3, cooldownMs: 1_000 }),
      runners: ['llm'],
      logger: pino({ level: 'silent' }),
      workerId: 'cluster-test:1',
    });
    await publisher.publish();
    expect(Object.keys(await redis.hgetall(breakerStatesKey(prefix)))).toEqual(['cluster-test:1/llm']);
    await publisher.stop();

    // The same MULTIs as requestRerun and runPrCommand, on the keys they build.
    const { runKey, hourKey } = rerunCounterKeys(prefix, 'octo-org', 'octo-repo', 42, Date.now());
    const counted = await redis.multi().incr(runKey).expire(runKey, 60).incr(hourKey).expire(hourKey, 60).exec();
    expect(counted?.map(([error]) => error)).toEqual([null, null, null, null]);
    const memoKey = commandMemoKey(prefix, randomUUID());
    expect((await redis.multi().hset(memoKey, 'step', '1').expire(memoKey, 60).exec())?.map(([error]) => error)).toEqual([null, null]);
    for (const key of [runKey, hourKey, memoKey]) expect(await cluster.slotOf(key)).toBe(await cluster.slotOf(prefix));

    // A key outside the prefix would be refused: the check above can fail.
    await expect(redis.multi().incr(runKey).incr('elsewhere').exec()).rejects.toThrow();
  });
});
