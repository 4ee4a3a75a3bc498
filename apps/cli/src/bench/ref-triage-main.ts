/**
 * The reference worker of `pitcrew bench worker` as a child process: {@link referenceProcessor}
 * on `BENCH_QUEUE`, with `REDIS_URL`, `DATABASE_URL`, `BENCH_PREFIX` and `BENCH_CONCURRENCY`.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createDb } from '@pitcrew/core';
import { referenceProcessor } from './ref-triage.ts';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 1);
const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const db = createDb(process.env.DATABASE_URL!, Math.max(2, concurrency));
const worker = new Worker(process.env.BENCH_QUEUE!, referenceProcessor(db), { connection, prefix: process.env.BENCH_PREFIX!, concurrency });
worker.on('error', (error) => console.error(error));
process.on('SIGTERM', () => void worker.close().finally(() => db.destroy()).finally(() => process.exit(0)));
