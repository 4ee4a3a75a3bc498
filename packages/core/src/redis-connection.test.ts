import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { parseEnv, RedisEnv } from './config.ts';
import { createRedisConnection, isRedisClusterUrl, parseRedisUrl, redactRedisUrl } from './redis-connection.ts';

describe('parseRedisUrl', () => {
  it('keeps a one-server URL as ioredis reads it', () => {
    expect(parseRedisUrl('redis://localhost:6379/0')).toEqual({ kind: 'standalone', url: 'redis://localhost:6379/0' });
    expect(parseRedisUrl('rediss://u:p@host:6380')).toEqual({ kind: 'standalone', url: 'rediss://u:p@host:6380' });
  });

  it('reads the seed nodes, credentials and TLS of a cluster URL', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001/')).toEqual({
      kind: 'cluster',
      tls: false,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
    });
    expect(parseRedisUrl('rediss+cluster://default:p%40ss:word@redis-0.redis,[::1]:7002')).toEqual({
      kind: 'cluster',
      tls: true,
      username: 'default',
      password: 'p@ss:word',
      nodes: [
        { host: 'redis-0.redis', port: 6379 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(parseRedisUrl('redis+cluster://:secret@h:1')).toMatchObject({ password: 'secret', nodes: [{ host: 'h', port: 1 }] });
    expect(isRedisClusterUrl('redis+cluster://h:1')).toBe(true);
    expect(isRedisClusterUrl('redis://h:1')).toBe(false);
  });

  it('refuses a database, a query, an empty node list, a bad port and other schemes, saying why', () => {
    expect(() => parseRedisUrl('redis+cluster://h:7000/1')).toThrow(/without a database/);
    expect(() => parseRedisUrl('redis+cluster://h:7000?x=1')).toThrow(/without a database or query/);
    expect(() => parseRedisUrl('redis+cluster://')).toThrow(/at least one node/);
    expect(() => parseRedisUrl('redis+cluster://h:notaport')).toThrow(/not a host:port.*h:notaport/);
    expect(() => parseRedisUrl('http://h:6379')).toThrow(/unknown scheme http:/);
    expect(() => parseRedisUrl('localhost:6379')).toThrow(/unknown scheme|not a URL/);
  });

  it('is what RedisEnv validates REDIS_URL with', () => {
    expect(parseEnv(RedisEnv, { REDIS_URL: 'redis+cluster://h1:7000,h2:7001' }).REDIS_URL).toBe('redis+cluster://h1:7000,h2:7001');
    expect(() => parseEnv(RedisEnv, { REDIS_URL: 'redis+cluster://h1:7000/3' })).toThrow(/REDIS_URL: a Redis Cluster URL is/);
  });
});

describe('createRedisConnection', () => {
  it('opens a Cluster for a cluster URL, with the options where ioredis and BullMQ read them', async () => {
    const cluster = createRedisConnection('redis+cluster://:pw@127.0.0.1:1', { maxRetriesPerRequest: null, enableOfflineQueue: false, reconnect: false, failoverWaitMs: 10_000 });
    cluster.on('error', () => {});
    try {
      expect(cluster).toBeInstanceOf(Cluster);
      const options = (cluster as Cluster).options;
      expect(options.enableOfflineQueue).toBe(false);
      expect(options.maxRedirections).toBe(50);
      // Its connect() must always settle (see redis-cluster-reconnect.int.test.ts).
      expect(options.enableReadyCheck).toBe(false);
      expect(options.redisOptions).toMatchObject({ maxRetriesPerRequest: null, password: 'pw' });
    } finally {
      cluster.disconnect();
    }
  });

  it('opens a Redis otherwise', () => {
    const redis = createRedisConnection('redis://127.0.0.1:1', { maxRetriesPerRequest: 1, reconnect: false });
    redis.on('error', () => {});
    try {
      expect(redis).toBeInstanceOf(Redis);
      expect((redis as Redis).options.maxRetriesPerRequest).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});

describe('redactRedisUrl', () => {
  it('hides the password of either form', () => {
    expect(redactRedisUrl('rediss+cluster://u:secret@h1:1,h2:2')).toBe('rediss+cluster://u:***@h1:1,h2:2');
    expect(redactRedisUrl('redis://:secret@h:1/0')).toBe('redis://:***@h:1/0');
    expect(redactRedisUrl('redis://h:1')).toBe('redis://h:1');
  });
});
