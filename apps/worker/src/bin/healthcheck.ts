// Health check of the worker container image (HEALTHCHECK in apps/worker/Dockerfile, and the
// compose `worker` service). Exits 0 when Redis lists a BullMQ worker of this host on the
// `triage` queue, that is when this container's worker process is up and connected to Redis;
// exits 1 otherwise (Redis unreachable, no worker connected, CLIENT LIST refused). Reads
// REDIS_URL and PITCREW_QUEUE_PREFIX, like the worker.
import { Queue } from 'bullmq';
import { hostname } from 'node:os';
import { createRedisConnection, parseEnv, QUEUES, RedisEnv } from '@pitcrew/core';

/** ms to wait for Redis; Docker's own health check timeout should be longer. */
const TIMEOUT_MS = 3_000;

const config = parseEnv(RedisEnv, process.env);
// On a Redis Cluster, BullMQ lists the workers of every master (CLIENT LIST on each node).
const connection = createRedisConnection(config.REDIS_URL, { connectTimeout: TIMEOUT_MS, maxRetriesPerRequest: 1, reconnect: false });
connection.on('error', () => {});
const queue = new Queue(QUEUES.triage, { connection, prefix: config.PITCREW_QUEUE_PREFIX });
queue.on('error', () => {});
const timer = setTimeout(() => {
  console.error(`no answer from Redis within ${TIMEOUT_MS} ms`);
  process.exit(1);
}, TIMEOUT_MS);
try {
  // `rawname` is `<prefix>:<base64 queue>:w:<worker name>`, the name being `<host>:<pid>` (worker.ts, workerName).
  const mine = (await queue.getWorkers()).filter((w) => String(w.rawname ?? '').includes(`:w:${hostname()}:`));
  clearTimeout(timer);
  await queue.close();
  connection.disconnect();
  if (mine.length === 0) {
    console.error(`no worker of host ${hostname()} is connected to the ${QUEUES.triage} queue`);
    process.exit(1);
  }
  console.log(`${mine.length} worker connection(s) of host ${hostname()} on ${QUEUES.triage}`);
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
