/**
 * Reference of `pitcrew bench worker`: a raw BullMQ worker whose processor does nothing, with the
 * connection options BullMQ recommends for workers. Run as a child process with `REDIS_URL`,
 * `BENCH_QUEUE`, `BENCH_PREFIX` and `BENCH_CONCURRENCY`.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const worker = new Worker(process.env.BENCH_QUEUE!, async () => {}, {
  connection,
  prefix: process.env.BENCH_PREFIX!,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 1),
});
worker.on('error', (error) => console.error(error));
process.on('SIGTERM', () => void worker.close().finally(() => process.exit(0)));
