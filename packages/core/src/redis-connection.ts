import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * A connection to where the queues live: an ioredis `Redis` (one server) or `Cluster` (Redis
 * Cluster). Both take the same commands; BullMQ takes either as its `connection`. Every key
 * pitcrew writes starts with the hash-tagged queue prefix (`{pitcrew}`), so on a cluster all of
 * them, BullMQ's included, live in one slot and every multi-key command, `MULTI` and Lua script
 * stays on one node.
 */
export type RedisConnection = Redis | Cluster;

/**
 * What `REDIS_URL` names, parsed by {@link parseRedisUrl}:
 * - `standalone`: one server, the URL as ioredis reads it (`redis://`, `rediss://`);
 * - `cluster`: a Redis Cluster, its seed nodes and the credentials and TLS of every node.
 */
export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | {
      kind: 'cluster';
      /** Seed nodes; ioredis discovers the others (`CLUSTER SLOTS`). At least one. */
      nodes: { host: string; port: number }[];
      /** `rediss+cluster://`: TLS to every node. */
      tls: boolean;
      username?: string;
      password?: string;
    };

/** Schemes of a Redis Cluster URL: plain and TLS. */
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/([^/?#]*)(\/?)$/i;
const DEFAULT_PORT = 6379;

/**
 * Reads `REDIS_URL`. Two forms:
 *
 * - one server: `redis://[user:password@]host[:port][/db]`, TLS `rediss://…` (ioredis' own URL);
 * - Redis Cluster: `redis+cluster://[user:password@]host1:port1[,host2:port2,…][/]`, TLS
 *   `rediss+cluster://…`. The hosts are seed nodes (one is enough, more survive one being down at
 *   start); the credentials and TLS apply to every node. No database number (a cluster has only
 *   db 0) and no query. The same scheme names as the Python `limits` library (Flask-Limiter) and
 *   Gitea's cache/queue settings; Redis' URL scheme itself has no cluster form.
 *
 * @returns the parsed target
 * @throws {TypeError} naming what is wrong when `url` is neither form
 */
export function parseRedisUrl(url: string): RedisTarget {
  const cluster = CLUSTER_URL.exec(url);
  if (!cluster) {
    if (/^[a-z+]*\+cluster:/i.test(url)) {
      throw new TypeError('a Redis Cluster URL is redis+cluster://[user:password@]host:port[,host:port...] (or rediss+cluster:// for TLS), without a database or query');
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError('not a URL: expected redis://host:port, rediss://host:port or redis+cluster://host1:port1,host2:port2');
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new TypeError(`unknown scheme ${parsed.protocol}: expected redis://, rediss://, redis+cluster:// or rediss+cluster://`);
    }
    return { kind: 'standalone', url };
  }
  const [, scheme, authority] = cluster as unknown as [string, string, string];
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at);
  const hosts = (at === -1 ? authority : authority.slice(at + 1)).split(',').filter((h) => h.length > 0);
  if (hosts.length === 0) throw new TypeError('a Redis Cluster URL names at least one node: redis+cluster://host:port');
  const nodes = hosts.map((hostPort) => {
    // Each node through the URL parser, for IPv6 brackets and port checks.
    let node: URL;
    try {
      node = new URL(`redis://${hostPort}`);
    } catch {
      throw new TypeError(`not a host:port in the Redis Cluster URL: ${hostPort}`);
    }
    if (node.hostname === '' || node.pathname.replace('/', '') !== '' || node.username || node.password) {
      throw new TypeError(`not a host:port in the Redis Cluster URL: ${hostPort}`);
    }
    return { host: node.hostname.replace(/^\[(.*)\]$/, '$1'), port: node.port ? Number(node.port) : DEFAULT_PORT };
  });
  const colon = userinfo.indexOf(':');
  const username = decodeURIComponent(colon === -1 ? userinfo : userinfo.slice(0, colon));
  const password = colon === -1 ? '' : decodeURIComponent(userinfo.slice(colon + 1));
  return {
    kind: 'cluster',
    nodes,
    tls: scheme.toLowerCase() === 'rediss',
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

/** Whether `url` names a Redis Cluster (`redis+cluster://`, `rediss+cluster://`). */
export function isRedisClusterUrl(url: string): boolean {
  return CLUSTER_URL.test(url);
}

/**
 * How a process uses its connection; the same meaning on one server and on a cluster.
 * Follows BullMQ's "Going to production": workers `maxRetriesPerRequest: null` (keep retrying
 * while Redis is away), producers `enableOfflineQueue: false` (fail fast, answer 503).
 */
export interface RedisConnectionOptions {
  /** Retries of a command over reconnections: `null` = forever (BullMQ workers require it). */
  maxRetriesPerRequest: number | null;
  /** Queue commands while disconnected (default true); false rejects them at once. */
  enableOfflineQueue?: boolean;
  /** Commands of one event-loop turn share one write (per node on a cluster). Default false. */
  enableAutoPipelining?: boolean;
  /** ms to connect to a node. ioredis' default (10 000) when unset. */
  connectTimeout?: number;
  /** false: never reconnect (a one-shot probe such as the health check). Default true. */
  reconnect?: boolean;
  /**
   * Cluster only: ms a command may keep being retried while its slot has no reachable master
   * (a failover: the master is gone and a replica not yet elected), before it fails. Default
   * {@link CLUSTER_FAILOVER_WAIT_MS}. The election takes about `cluster-node-timeout` plus a
   * second (Redis docs, "Redis cluster specification", "Replica election").
   */
  failoverWaitMs?: number;
}

/**
 * ms a command waits before it is sent again when its node is gone or the cluster reports
 * `CLUSTERDOWN`/`TRYAGAIN` (ioredis' `retryDelayOnFailover`, `retryDelayOnClusterDown`,
 * `retryDelayOnTryAgain`; default 100). ioredis advises `retryDelayOnFailover * maxRedirections`
 * above `cluster-node-timeout` so no command fails during a failover (ioredis README, "Cluster").
 */
export const CLUSTER_RETRY_DELAY_MS = 200;
/**
 * Default {@link RedisConnectionOptions.failoverWaitMs}, ms: 20 s, above Redis' default
 * `cluster-node-timeout` (15 s) plus the election. Turned into ioredis' `maxRedirections`
 * (redirections and failover retries of one command; its default 16) as
 * `failoverWaitMs / CLUSTER_RETRY_DELAY_MS`, at least 16.
 */
export const CLUSTER_FAILOVER_WAIT_MS = 20_000;

/**
 * Opens the connection `url` names ({@link parseRedisUrl}): an ioredis `Cluster` for
 * `redis+cluster://` / `rediss+cluster://`, a `Redis` otherwise. On a cluster the options go
 * where ioredis reads them: `enableOfflineQueue` and `enableAutoPipelining` on the `Cluster`,
 * `maxRetriesPerRequest`, `connectTimeout` and the credentials on each node (`redisOptions`,
 * where BullMQ checks `maxRetriesPerRequest`), `reconnect: false` as a `clusterRetryStrategy`
 * returning null. Reads from masters only (ioredis' default `scaleReads`): BullMQ's scripts need
 * a master, and a replica may lag. No cluster ready check (`enableReadyCheck: false`): with it, a
 * reconnect during a failover could leave `connect()` unsettled for good, and a BullMQ worker
 * awaiting it would take no job again (the comment at the option says how).
 *
 * Not expressible in the URL (use ioredis directly if needed): `natMap` for nodes that announce
 * addresses the client cannot reach, `dnsLookup` for AWS ElastiCache with TLS.
 *
 * @param url `REDIS_URL`
 * @throws {TypeError} when `url` is neither form (validate it first with the `RedisEnv` schema)
 */
export function createRedisConnection(url: string, options: RedisConnectionOptions): RedisConnection {
  const target = parseRedisUrl(url);
  const perNode: RedisOptions = {
    maxRetriesPerRequest: options.maxRetriesPerRequest,
    ...(options.connectTimeout !== undefined ? { connectTimeout: options.connectTimeout } : {}),
  };
  if (target.kind === 'standalone') {
    return new Redis(url, {
      ...perNode,
      ...(options.enableOfflineQueue !== undefined ? { enableOfflineQueue: options.enableOfflineQueue } : {}),
      ...(options.enableAutoPipelining ? { enableAutoPipelining: true } : {}),
      ...(options.reconnect === false ? { retryStrategy: () => null } : {}),
    });
  }
  const clusterOptions: ClusterOptions = {
    ...(options.enableOfflineQueue !== undefined ? { enableOfflineQueue: options.enableOfflineQueue } : {}),
    ...(options.enableAutoPipelining ? { enableAutoPipelining: true } : {}),
    ...(options.reconnect === false ? { clusterRetryStrategy: () => null } : {}),
    // No cluster ready check. ioredis' check sends CLUSTER INFO to a random master; when that
    // master is the one just killed (a failover under way, the slot map still names it), the check
    // fails, the Cluster disconnects and reconnects by itself, and the promise of the connect()
    // that ran the check is never settled (ioredis PR #741, "resolve is lost when we issue
    // .disconnect(true)", never merged). BullMQ's worker awaits exactly that promise when its
    // blocking-read watchdog resets the blocking connection (RedisConnection.reconnect, no
    // timeout), so that worker took no job again, silently: one in three resets during a failover
    // longer than drainDelay + 1 s (tests/faults/redis-cluster-failover.faults.test.ts with
    // FAULTS_CLUSTER_NODE_TIMEOUT_MS=7000). Without the check connect() settles once the slot map
    // is read; a command sent while the cluster is down gets CLUSTERDOWN and is retried
    // (retryDelayOnClusterDown), as the check would have waited.
    enableReadyCheck: false,
    retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
    maxRedirections: Math.max(16, Math.ceil((options.failoverWaitMs ?? CLUSTER_FAILOVER_WAIT_MS) / CLUSTER_RETRY_DELAY_MS)),
    redisOptions: {
      ...perNode,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
  return new Cluster(target.nodes satisfies ClusterNode[], clusterOptions);
}

/** `url` with its password replaced by `***`, for logs; either form. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/**
 * Resolves when `redis` is ready (`ready` event, or already), or after `ms` with false: a process
 * that must serve while Redis is still away (ingest, the console) waits this long, then serves and
 * lets `/readyz` report it.
 *
 * @param ms how long to wait, in ms
 * @returns true when ready within `ms`
 */
export function waitForRedisReady(redis: RedisConnection, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
