import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { injectProvided } from './inject-provided.ts';

/**
 * A BullMQ prefix unique to this call, `{test-<uuid>}` (braces make it a Redis Cluster hash
 * tag, so all of a queue's keys share a slot). Use one per test or file so parallel files never
 * see each other's queues, and remove its keys afterwards with {@link deleteKeysWithPrefix}.
 */
export function testPrefix(): string {
  return `{test-${randomUUID()}}`;
}

/**
 * An ioredis client to the run's redis-server, with `maxRetriesPerRequest: null` as BullMQ
 * workers require. The caller must `quit()` it.
 */
export function createTestRedis(): Redis {
  return new Redis(injectProvided('redisUrl'), { maxRetriesPerRequest: null });
}

/**
 * Deletes every key starting with `prefix` (SCAN + UNLINK, so it does not block Redis).
 *
 * @returns the number of keys deleted
 */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
