import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { ensureRedisServer, startRedisServer, type RedisServerHandle } from '@pitcrew/stack';

const run = promisify(execFile);

/** One redis-server of a {@link RedisClusterHandle}. */
export interface RedisClusterNode {
  port: number;
  /** Its directory: AOF files and `nodes.conf` (the node's cluster state). */
  dir: string;
  /** The running process; replaced by {@link RedisClusterHandle.restart}. */
  server: RedisServerHandle;
}

/** A Redis Cluster started by {@link startRedisCluster}. */
export interface RedisClusterHandle {
  /** `redis+cluster://127.0.0.1:p1,…,127.0.0.1:p6`, the `REDIS_URL` pitcrew reads. */
  url: string;
  nodes: RedisClusterNode[];
  /** The cluster's `cluster-node-timeout`, ms. */
  nodeTimeoutMs: number;
  /** The node that is master of `key`'s slot now (asked of a live node: `CLUSTER NODES`). */
  masterOf(key: string): Promise<RedisClusterNode>;
  /** `CLUSTER KEYSLOT key`. */
  slotOf(key: string): Promise<number>;
  /** Sends `signal` to a node's redis-server (SIGKILL: no shutdown, no AOF flush) and waits until it is gone. */
  kill(node: RedisClusterNode, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Waits until `key`'s slot has a master other than `old` that the live nodes do not flag
   * `fail`, and every live node reports `cluster_state:ok`.
   * @returns the new master and the ms waited
   * @throws {Error} after `timeoutMs` (default 30 s)
   */
  waitForFailover(key: string, old: RedisClusterNode, timeoutMs?: number): Promise<{ master: RedisClusterNode; ms: number }>;
  /** Starts a killed node again on its port and directory; it rejoins (as a replica once failed over). */
  restart(node: RedisClusterNode): Promise<void>;
  /** Stops every node (SIGTERM). Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Parent directory; each node gets `node-<port>/` in it. */
  dir: string;
  /** Masters (default 3, the fewest `redis-cli --cluster create` accepts). */
  masters?: number;
  /** Replicas of each master (default 1). */
  replicas?: number;
  /** `cluster-node-timeout`, ms (default 2 000; Redis' own default is 15 000). */
  nodeTimeoutMs?: number;
  /** `--appendonly` of every node (default true, appendfsync everysec). */
  appendonly?: boolean;
}

/**
 * Starts a Redis Cluster of real redis-server processes on loopback: `masters × (1 + replicas)`
 * nodes, each `redis-server --cluster-enabled yes --cluster-config-file nodes.conf
 * --cluster-node-timeout <ms>` in its own directory, then `redis-cli --cluster create …
 * --cluster-replicas <n> --cluster-yes` (which assigns the 16 384 slots and the replicas), and
 * waits for `cluster_state:ok` on every node and every replica's link to its master (so a
 * failover has a synced replica to promote). Redis docs, "Scale with Redis Cluster".
 *
 * Start it only in the tests that need it (it is not in the global setup): six servers cost a
 * second or two and ~60 MB.
 *
 * @throws {Error} when a node does not start, `redis-cli` fails, or the cluster is not ok in 30 s
 *   (every node started is stopped)
 */
export async function startRedisCluster(options: StartRedisClusterOptions): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2_000;
  const appendonly = options.appendonly ?? true;
  const bin = await ensureRedisServer({ install: false });
  const cli = await redisCli(bin);
  const nodes: RedisClusterNode[] = [];
  const startNode = (dir: string, port?: number) =>
    startRedisServer({
      bin,
      dir,
      ...(port ? { port } : {}),
      appendonly,
      // A replica's first sync starts at once (Redis waits 5 s by default for more replicas to join).
      extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs), '--repl-diskless-sync-delay', '0'],
    });
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.server.stop()));
  };
  try {
    const started = await Promise.allSettled(Array.from({ length: masters * (1 + replicas) }, (_, i) => startNode(join(options.dir, `node-${i}`))));
    started.forEach((result, i) => {
      if (result.status === 'fulfilled') nodes.push({ port: result.value.port, dir: join(options.dir, `node-${i}`), server: result.value });
    });
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    await run(cli, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
    await waitUntil('cluster_state:ok on every node and every replica linked', 30_000, async () => {
      for (const node of nodes) {
        if (!(await ask(node.port, (r) => r.cluster('INFO') as Promise<string>)).includes('cluster_state:ok')) return false;
        const replication = await ask(node.port, (r) => r.info('replication'));
        if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
      }
      return true;
    });
  } catch (error) {
    await stop();
    throw new Error('testkit: cannot start the Redis Cluster', { cause: error });
  }

  const live = () => nodes.filter((n) => !n.server.exited);
  /** `CLUSTER NODES` of a live node: address → flags and slot ranges. */
  const topology = async () => {
    const text = await ask(live()[0]!.port, (r) => r.cluster('NODES') as Promise<string>);
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [, address, flags, , , , , , ...slots] = line.split(' ');
        const port = Number(address!.split('@')[0]!.split(':').pop());
        const ranges = slots.filter((s) => !s.startsWith('[')).map((s) => s.split('-').map(Number) as [number, number?]);
        return { port, flags: flags!.split(','), ranges };
      });
  };
  const slotOf = (key: string) => ask(live()[0]!.port, (r) => r.cluster('KEYSLOT', key) as Promise<number>);
  const masterOf = async (key: string) => {
    const slot = await slotOf(key);
    const owner = (await topology()).find((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.ranges.some(([from, to]) => slot >= from && slot <= (to ?? from)));
    const node = owner && nodes.find((n) => n.port === owner.port);
    if (!node) throw new Error(`no live master serves slot ${slot} of ${key}`);
    return node;
  };
  return {
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes,
    nodeTimeoutMs,
    masterOf,
    slotOf,
    async kill(node, signal = 'SIGKILL') {
      await node.server.kill(signal);
    },
    async waitForFailover(key, old, timeoutMs = 30_000) {
      const started = performance.now();
      const master = await waitUntil(`a new master for ${key}`, timeoutMs, async () => {
        const now = await masterOf(key).catch(() => null);
        if (!now || now === old) return null;
        for (const n of live()) if (!(await ask(n.port, (r) => r.cluster('INFO') as Promise<string>)).includes('cluster_state:ok')) return null;
        return now;
      });
      return { master, ms: Math.round(performance.now() - started) };
    },
    async restart(node) {
      node.server = await startNode(node.dir, node.port);
    },
    stop,
  };
}

/** redis-cli beside `redisServer` (same package), else on PATH. */
async function redisCli(redisServer: string): Promise<string> {
  const beside = join(dirname(redisServer), 'redis-cli');
  try {
    await access(beside, constants.X_OK);
    return beside;
  } catch {
    return 'redis-cli';
  }
}

/** Runs `fn` on a short-lived connection to one node (no retries: a dead node rejects at once). */
async function ask<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | null | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 100));
  }
}
