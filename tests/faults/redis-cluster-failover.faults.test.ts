import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createTestDatabase, startRedisCluster, testPrefix, type RedisClusterHandle, type TestDatabase } from '@pitcrew/testkit';
import { baseEnv, exactlyOnceViolations, failedJobPayload, note, scratchDir, sendDelivery, startIngestProcess, startWorkerProcess, stopAll, waitFor, type RoleProcess, type Sent } from './harness.ts';

/**
 * A Redis Cluster (3 masters, 1 replica each, cluster-node-timeout 2 s or as set below, AOF
 * everysec) under a steady stream of deliveries to `pitcrew ingest`, two `pitcrew worker`s
 * processing them. The master serving the queue prefix's slot is SIGKILLed mid-run; its replica
 * is elected master. Ingest answers 503 (with Retry-After) for what it cannot write within its
 * 5 s deadline, GitHub's redelivery of those is accepted after (or answered duplicate when it was
 * written after its 503); the workers carry on by themselves, each taking jobs again after the
 * failover. At the end every delivery is in Postgres once and triaged once. Figures (failover ms,
 * 503s, slowest answer, losses, triaged per worker) are printed; on a failure, where the jobs are.
 *
 * Replication is asynchronous: a write acknowledged by the killed master in its last moments may
 * never have reached the replica. Such a loss shows here as an accepted (202) failure missing
 * from Postgres; the test counts them and then fails, so a loss is never silent.
 */
let tdb: TestDatabase;
let cluster: RedisClusterHandle | undefined;
const prefix = testPrefix();
/**
 * The cluster's `cluster-node-timeout`, ms (default 2 000). `FAULTS_CLUSTER_NODE_TIMEOUT_MS=7000`
 * makes the failover (about 10 s) outlast ingest's failover wait, to see the 503 path, and the
 * workers' blocking reads (drainDelay 5 s + 1 s), so their watchdog resets the blocking
 * connections while the dead master still holds the slot. `FAULTS_DEBUG=ioredis:*` passes DEBUG
 * to the processes (ioredis' own trace in their logs); `FAULTS_KEEP=1` keeps the logs.
 */
const nodeTimeoutMs = Number(process.env.FAULTS_CLUSTER_NODE_TIMEOUT_MS ?? 2_000);

beforeAll(async () => {
  [tdb, cluster] = await Promise.all([createTestDatabase(), startRedisCluster({ dir: scratchDir('cluster'), nodeTimeoutMs })]);
});
afterAll(async () => {
  // The cluster first: stopAll removes the scratch directories, and a running node still writes
  // its append-only files into its own (CI failed once with ENOTEMPTY removing one).
  await cluster?.stop();
  await stopAll();
  await tdb.destroy();
});

interface Delivery {
  deliveryId: string;
  payload: unknown;
  failureId: string;
  answers: Sent[];
}

describe('Redis Cluster: the master of the queues slot is killed mid-run', () => {
  it('a replica takes over; 503 then redelivery for what ingest could not write; nothing accepted is lost or triaged twice', async () => {
    const env = { ...baseEnv({ redisUrl: cluster!.url, databaseUrl: tdb.url, prefix }), PITCREW_RUNNER: 'rules', ...(process.env.FAULTS_DEBUG ? { DEBUG: process.env.FAULTS_DEBUG } : {}) };
    const ingest = await startIngestProcess('ingest', env);
    const workers = await Promise.all([startWorkerProcess('worker-1', env), startWorkerProcess('worker-2', env)]);

    const deliveries: Delivery[] = [];
    let streaming = true;
    let phase: 'before' | 'failover' | 'after' = 'before';
    const byPhase: Record<string, Record<number, number>> = { before: {}, failover: {}, after: {} };
    const stream = (async () => {
      let n = 0;
      const inFlight: Promise<void>[] = [];
      while (streaming) {
        const f = failedJobPayload(n, 11);
        const d: Delivery = { deliveryId: randomUUID(), payload: f.payload, failureId: f.failureId, answers: [] };
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
    const old = await cluster!.masterOf(prefix);
    phase = 'failover';
    await cluster!.kill(old, 'SIGKILL');
    const failover = await cluster!.waitForFailover(prefix, old, 60_000);
    const failedOverAt = Date.now();
    phase = 'after';
    await waitFor('ingest ready again', 60_000, async () => (await fetch(`${ingest.url}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 2_000));
    streaming = false;
    await stream;
    // The killed node comes back and rejoins as a replica of the new master.
    await cluster!.restart(old);

    try {
      await checkOutcome();
    } catch (error) {
      await diagnose([ingest, ...workers]);
      throw error;
    }

    async function checkOutcome() {
      const answers = deliveries.map((d) => d.answers[0]!);
      const slow = Math.round(Math.max(...answers.map((s) => s.ms)));
      note(`cluster failover: master :${old.port} killed, :${failover.master.port} master after ${failover.ms} ms (cluster-node-timeout ${cluster!.nodeTimeoutMs} ms); answers by phase ${JSON.stringify(byPhase)}; slowest answer ${slow} ms`);
      // Only 202 or 503: never a 500, never a dropped connection.
      expect(answers.filter((s) => s.status !== 202 && s.status !== 503)).toEqual([]);
      const refused = deliveries.filter((d) => d.answers[0]!.status === 503);
      for (const d of refused) expect(d.answers[0]!.retryAfter).toMatch(/^\d+$/);
      const accepted = deliveries.filter((d) => d.answers[0]!.status === 202);

      // GitHub redelivers the refused ones (same delivery id): accepted now.
      const redelivered = await Promise.all(refused.map((d) => sendDelivery(ingest.url, 'workflow_job', d.payload, d.deliveryId)));
      expect(redelivered.map((s) => s.status).filter((s) => s !== 202)).toEqual([]);
      // A 503 at ingest's deadline does not withdraw what was sent: some of those were written after
      // their answer, and their redelivery is a duplicate (the delivery id's seen mark).
      const lateWritten = redelivered.filter((s) => s.body?.['duplicate'] === true).length;

      // The workers were never restarted. Wait until the count stops growing, then look for losses.
      const ids = deliveries.map((d) => d.failureId);
      const final = async () => Number((await tdb.db.selectFrom('failures').select((eb) => eb.fn.countAll<string>().as('n')).where('status', 'in', ['triaged', 'failed']).executeTakeFirstOrThrow()).n);
      await waitFor(`${ids.length} failures final`, 60_000, async () => (await final()) === ids.length, 250).catch(() => undefined);
      const stored = new Set((await tdb.db.selectFrom('failures').select('id').execute()).map((r) => r.id));
      const lost = accepted.filter((d) => !stored.has(d.failureId));
      note(`cluster failover: ${accepted.length} accepted at once, ${refused.length} refused with 503 and accepted on redelivery (${lateWritten} of them as duplicates: written after their 503), ${lost.length} accepted but lost${lost.length ? ` (${lost.map((d) => d.failureId).join(', ')})` : ''}; ${await final()}/${ids.length} final`);
      expect(lost.map((d) => d.failureId)).toEqual([]);
      expect(await exactlyOnceViolations(tdb.db, ids)).toEqual([]);
      for (const w of workers) expect(w.gone).toBe(false);
      expect(ingest.gone).toBe(false);
      // No worker stopped taking jobs: each triaged failures after the failover. (A worker whose
      // triage queue stalled while the other carried on lost nothing, and was seen only here.)
      const triagedAfter = workers.map((w) => triagedSince(w, failedOverAt));
      note(`cluster failover: failures triaged after the failover by ${workers.map((w, i) => `${w.name} ${triagedAfter[i]}`).join(', ')}`);
      expect(triagedAfter.filter((n) => n === 0)).toEqual([]);
    }
  });
});

/** "failure triaged" log lines of `worker` stamped at or after `since` (ms since the epoch). */
function triagedSince(worker: RoleProcess, since: number): number {
  let n = 0;
  for (const line of worker.output().split('\n')) {
    if (!line.includes('"msg":"failure triaged"')) continue;
    try {
      if ((JSON.parse(line) as { time: number }).time >= since) n += 1;
    } catch {
      // not a pino line
    }
  }
  return n;
}

/**
 * After a failure: where the jobs are (wait/active/delayed/prioritized/completed/failed of the
 * intake, triage and run-rules queues on the slot's master now), `CLUSTER NODES`, the clients of
 * that master (BullMQ names each worker's blocking connection `<prefix>:<base64 queue>:w:<name>`;
 * a worker that stopped has no `cmd=bzpopmin` there), and the last log lines of each process.
 */
async function diagnose(processes: RoleProcess[]): Promise<void> {
  const lines: string[] = [];
  try {
    const master = await cluster!.masterOf(prefix);
    const redis = new Redis({ host: '127.0.0.1', port: master.port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      for (const queue of [QUEUES.intake, QUEUES.triage, 'run-rules']) {
        const key = (type: string) => `${prefix}:${queue}:${type}`;
        const counts = {
          wait: await redis.llen(key('wait')),
          active: await redis.llen(key('active')),
          delayed: await redis.zcard(key('delayed')),
          prioritized: await redis.zcard(key('prioritized')),
          completed: await redis.zcard(key('completed')),
          failed: await redis.zcard(key('failed')),
        };
        lines.push(`${queue} on :${master.port}: ${JSON.stringify(counts)}`);
      }
      lines.push(`CLUSTER NODES:\n${String(await redis.cluster('NODES')).trim()}`);
      const clients = String(await redis.client('LIST')).trim().split('\n').filter((c) => c.includes(prefix));
      lines.push(`CLIENT LIST of :${master.port} (pitcrew's named connections):\n${clients.join('\n')}`);
    } finally {
      redis.disconnect();
    }
  } catch (error) {
    lines.push(`could not inspect the cluster: ${String(error)}`);
  }
  for (const p of processes) lines.push(`--- last lines of ${p.name} ---\n${p.output().trim().split('\n').slice(-30).join('\n')}`);
  note(`cluster failover diagnosis:\n${lines.join('\n')}`);
}
