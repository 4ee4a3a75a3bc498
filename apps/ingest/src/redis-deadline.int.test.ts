import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intakeJobId, QUEUES } from '@pitcrew/core';
import { createTestDatabase, startRedisServer, testPrefix, type RedisServerHandle, type TestDatabase } from '@pitcrew/testkit';
import { startIngest, type IngestHandle } from './main.ts';

// Ingest on its own redis-server, which is then frozen (SIGSTOP: the connection stays open and
// nothing answers, as a hung node or a cluster slot without a master). A delivery is answered 503
// once INGEST_REDIS_DEADLINE_MS pass instead of waiting for GitHub's 10 s cut-off; what was sent
// to Redis completes when the server resumes, and GitHub's redelivery is a duplicate.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const SECRET = 'deadline-secret-0123456789';
const prefix = testPrefix();

let dir: string;
let server: RedisServerHandle;
let tdb: TestDatabase;
let ingest: IngestHandle;
let redis: Redis;
let intake: Queue;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pitcrew-redis-deadline-'));
  [server, tdb] = await Promise.all([startRedisServer({ dir, appendonly: false }), createTestDatabase()]);
  ingest = await startIngest(
    { REDIS_URL: server.url, DATABASE_URL: tdb.url, GITHUB_WEBHOOK_SECRET: SECRET, PITCREW_QUEUE_PREFIX: prefix, PORT: '0', HOST: '127.0.0.1' },
    pino({ level: 'silent' }),
  );
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
});
afterAll(async () => {
  if (server && !server.exited) process.kill(server.pid, 'SIGCONT');
  await intake?.close();
  await redis?.quit();
  await ingest?.close();
  await server?.stop();
  await tdb?.destroy();
  await rm(dir, { recursive: true, force: true });
});

function failedJob(n: number): any {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: 9_300_000_000 + n, run_id: 9_400_000_000 + n });
  return payload;
}

async function deliver(payload: unknown, deliveryId: string): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${ingest.url}/webhooks/github`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': deliveryId, 'x-hub-signature-256': await sign(SECRET, body) },
    body,
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

describe('ingest when Redis stops answering', () => {
  it('answers 503 with Retry-After at its deadline; the enqueue completes once Redis answers, and the redelivery is a duplicate', async () => {
    expect((await deliver(failedJob(1), randomUUID())).status).toBe(202);

    const deliveryId = randomUUID();
    process.kill(server.pid, 'SIGSTOP');
    // Without the deadline this fetch would not return while the server is stopped.
    const frozen = await deliver(failedJob(2), deliveryId);
    process.kill(server.pid, 'SIGCONT');
    expect(frozen).toMatchObject({ status: 503, retryAfter: '30', body: { error: 'queue_unavailable' } });

    // The commands sent before the 503 were answered once the server resumed: the job is there.
    const deadline = Date.now() + 10_000;
    while (!(await intake.getJob(intakeJobId(deliveryId))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await intake.getJob(intakeJobId(deliveryId))).toBeDefined();

    const redelivered = await deliver(failedJob(2), deliveryId);
    expect(redelivered).toMatchObject({ status: 202, body: { duplicate: true, failureId: `gh-job-${9_300_000_002}` } });
    expect(await intake.getJobCounts('wait', 'active', 'completed', 'failed', 'delayed')).toMatchObject({ wait: 2 });
  });
});
