import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, type RedisConnection } from '@pitcrew/core';
import { startRedisCluster, testPrefix, type RedisClusterHandle } from '@pitcrew/testkit';

// A reconnect while the master of the queues' slot is down and not yet replaced: what a BullMQ
// worker does when its blocking-read watchdog resets its blocking connection during a failover
// (RedisConnection.reconnect awaits Cluster#connect(), with no timeout). With ioredis' cluster
// ready check that connect() never settled in about one try in three (the check asked the dead
// master, failed, and the Cluster reconnected by itself, dropping the promise), and the worker
// took no job again. createRedisConnection turns the check off; every connect() here settles.
let dir: string;
let cluster: RedisClusterHandle;
const prefix = testPrefix();
const open: RedisConnection[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pitcrew-cluster-reconnect-'));
  // cluster-node-timeout 60 s: the killed master stays in the slot map for the whole test.
  cluster = await startRedisCluster({ dir, appendonly: false, nodeTimeoutMs: 60_000 });
});
afterAll(async () => {
  for (const c of open) c.disconnect();
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves with what `promise` did, or 'never settled' once `ms` pass (a hang, not a slow answer). */
function settled(promise: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => 'resolved',
      (error: Error) => `rejected: ${error.message}`,
    ),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('never settled'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe('createRedisConnection on a Redis Cluster whose master is down', () => {
  it('connect() settles every time, as a worker resetting its blocking connection needs', async () => {
    const master = await cluster.masterOf(prefix);
    await cluster.kill(master, 'SIGKILL');
    const outcomes: string[] = [];
    // 12 tries: with the ready check, the chance that none hangs was (2/3)^12, under 1 %.
    for (let i = 0; i < 12; i++) {
      const connection = createRedisConnection(cluster.url, { maxRetriesPerRequest: null });
      open.push(connection);
      connection.on('error', () => {});
      await new Promise((resolve) => connection.once('ready', resolve));
      const ended = new Promise((resolve) => connection.once('end', resolve));
      connection.disconnect();
      await ended;
      // Loopback: a connect() settles within milliseconds; 5 s means it never will.
      outcomes.push(await settled(connection.connect(), 5_000));
      connection.disconnect();
      if (outcomes.at(-1) !== 'resolved') break;
    }
    expect(outcomes).toEqual(Array(12).fill('resolved'));
  });
});
