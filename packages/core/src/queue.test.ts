import { describe, expect, it } from 'vitest';
import { parseEnv, RedisEnv } from './config.ts';
import { allQueueNames, deliverySeenKey, redisHashTag } from './queue.ts';

const env = (prefix?: string) => ({ REDIS_URL: 'redis://localhost:6379', ...(prefix === undefined ? {} : { PITCREW_QUEUE_PREFIX: prefix }) });

describe('redisHashTag (Redis cluster specification, "Hash tags")', () => {
  it('takes the text between the first { and the first } after it', () => {
    expect(redisHashTag('{pitcrew}:intake:wait')).toBe('pitcrew');
    expect(redisHashTag('acme:{pitcrew}:seen:abc')).toBe('pitcrew');
    expect(redisHashTag('{a}{b}')).toBe('a');
    expect(redisHashTag('x}{pitcrew}')).toBe('pitcrew');
  });

  it('has none for keys without braces or with an empty tag', () => {
    expect(redisHashTag('bull:intake:wait')).toBeNull();
    expect(redisHashTag('{}pitcrew')).toBeNull();
    expect(redisHashTag('{pitcrew')).toBeNull();
  });
});

describe('PITCREW_QUEUE_PREFIX', () => {
  it('defaults to the hash-tagged {pitcrew}', () => {
    expect(parseEnv(RedisEnv, env()).PITCREW_QUEUE_PREFIX).toBe('{pitcrew}');
  });

  it('accepts any prefix with a hash tag', () => {
    expect(parseEnv(RedisEnv, env('{acme-ci}')).PITCREW_QUEUE_PREFIX).toBe('{acme-ci}');
  });

  it('rejects a prefix without one, which would spread keys over Redis Cluster slots', () => {
    expect(() => parseEnv(RedisEnv, env('bull'))).toThrow(/PITCREW_QUEUE_PREFIX: needs a Redis Cluster hash tag/);
    expect(() => parseEnv(RedisEnv, env('{}bull'))).toThrow(/hash tag/);
  });
});

describe('keys under the prefix share its hash tag', () => {
  it.each(['{pitcrew}', 'acme:{ci}'])('prefix %s: BullMQ queue keys and the delivery seen key', (prefix) => {
    const tag = redisHashTag(prefix);
    // BullMQ builds every key of a queue as `<prefix>:<queue name>:<suffix>`.
    for (const queue of allQueueNames()) expect(redisHashTag(`${prefix}:${queue}:wait`)).toBe(tag);
    // A delivery id with braces must not move the key to another slot.
    expect(redisHashTag(deliverySeenKey(prefix, '{72d3162e}-cc78'))).toBe(tag);
  });
});
