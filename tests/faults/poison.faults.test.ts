import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { baseEnv, failedJobPayload, note, sendDelivery, startIngestProcess, startWorkerProcess, stopAll, waitFor, type RoleProcess } from './harness.ts';

/**
 * Input that passed ingest and still cannot be triaged as is: a job written by another release
 * (its data no longer matches this worker's schema), a failure row stored in an older shape, a huge
 * log, binary garbage in the log. The worker process must survive each; a failure ends `triaged`
 * when the input can be handled (logs are bounded and sanitized) and `failed` with a readable
 * error at once when it cannot (retrying a schema mismatch cannot help).
 */
let tdb: TestDatabase;
let github: FakeGithub;
let ingest: RoleProcess & { url: string };
let worker: RoleProcess;
const prefix = testPrefix();
const OWNER = 'Codertocat';
const REPO = 'Hello-World';

beforeAll(async () => {
  [tdb, github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
  const env = {
    ...baseEnv({ redisUrl: inject('redisUrl'), databaseUrl: tdb.url, prefix }),
    PITCREW_RUNNER: 'rules',
    GITHUB_API_URL: github.url,
    GITHUB_TOKEN: 'ghp_faultsuitetoken',
  };
  [ingest, worker] = await Promise.all([startIngestProcess('ingest', env), startWorkerProcess('worker', env)]);
});
afterAll(async () => {
  await stopAll();
  await github.stop();
  await tdb.destroy();
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

async function finalRow(failureId: string) {
  return waitFor(`${failureId} final`, 90_000, async () => {
    const r = await tdb.db.selectFrom('failures').select(['status', 'error', 'runner']).where('id', '=', failureId).executeTakeFirst();
    return r && (r.status === 'triaged' || r.status === 'failed') ? r : null;
  }, 200);
}

async function classifyOutput(failureId: string): Promise<any> {
  const row = await tdb.db.selectFrom('executions').select('output').where('failure_id', '=', failureId).where('stage', '=', 'classify').where('status', '=', 'succeeded').executeTakeFirstOrThrow();
  return row.output;
}

function serveLog(n: number, log: string) {
  const f = failedJobPayload(n, 5);
  github.setRun(OWNER, REPO, f.payload.workflow_job.run_id, f.payload.workflow_job.run_attempt, [
    { id: f.jobId, name: f.payload.workflow_job.name, conclusion: 'failure', steps: [{ name: 'Run yarn run format-check', conclusion: 'failure', number: 8 }], log },
  ]);
  return f;
}

describe('poison input that passed ingest', () => {
  it('a 40 MiB log: the last 8 MiB are read, the excerpt stays bounded, the failure is triaged', async () => {
    const line = '2026-11-25T10:00:00.0000000Z ok - still going, nothing to see here\n';
    const huge = line.repeat(Math.ceil((40 * 1024 * 1024) / line.length)) + '##[error]Process completed with exit code 1.\nError: Code style issues found in 3 files. Run Prettier to fix.\n';
    const f = serveLog(1, huge);
    expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    const row = await finalRow(f.failureId);
    expect(row.status).toBe('triaged');
    const out = await classifyOutput(f.failureId);
    expect(out.log.status).toBe('ok');
    expect(out.log.bytes).toBeGreaterThan(40 * 1024 * 1024);
    expect(Buffer.byteLength(out.logExcerpt)).toBeLessThanOrEqual(8 * 1024);
    expect(out.logExcerpt).toContain('Code style issues');
    note(`huge log: ${out.log.bytes} bytes fetched, excerpt ${Buffer.byteLength(out.logExcerpt)} bytes, category ${out.category}`);
  });

  it('binary garbage in the log (NUL bytes, invalid UTF-8): triaged, nothing unstorable reaches Postgres', async () => {
    const garbage = randomBytes(256 * 1024).toString('latin1') + '\u0000\u0000\n##[error]segfault \u0000 in test runner\n' + randomBytes(4096).toString('latin1');
    const f = serveLog(2, garbage);
    expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    const row = await finalRow(f.failureId);
    note(`binary log: failure ${row.status}${row.error ? ` (${row.error.slice(0, 160)})` : ''}`);
    expect(row.status).toBe('triaged');
    const out = await classifyOutput(f.failureId);
    expect(out.logExcerpt ?? '').not.toContain('\u0000');
  });

  it('a failure row stored in another shape (older release): failed at once with a readable error, no retries', async () => {
    const failureId = `gh-job-poison-${randomUUID().slice(0, 8)}`;
    await tdb.db
      .insertInto('failures')
      .values({
        id: failureId,
        provider: 'github',
        kind: 'job',
        owner: OWNER,
        repo: REPO,
        head_sha: 'a'.repeat(40),
        conclusion: 'failure',
        data: JSON.stringify({ id: failureId, repository: `${OWNER}/${REPO}`, job: { name: 'test' } }),
        status: 'queued',
        first_delivery_id: randomUUID(),
        received_at: new Date(),
      } as never)
      .execute();
    const redis = createTestRedis();
    const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
    await triage.add('triage', { v: 1, failureId }, { jobId: failureId, attempts: 5, backoff: { type: 'exponential', delay: 2_000 } });
    const row = await finalRow(failureId);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/InvalidFailureDataError: failure .* was stored in a shape this worker cannot read/);
    const job = await triage.getJob(failureId);
    expect(job?.attemptsMade).toBe(1); // unrecoverable: not retried
    note(`old-shape failure row: failed at once with "${row.error?.slice(0, 140)}"`);
    await triage.close();
    await redis.quit();
  });

  it('an intake job written by another release (shape changed): failed in the queue with a readable reason, worker stays up', async () => {
    const redis = createTestRedis();
    const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
    const jobId = `delivery-${randomUUID()}`;
    await intake.add('workflow_job', { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure: { id: 42, repo: { full: 'x' } }, payload: {} }, { jobId, attempts: 5 });
    // Fetched again once failed: a job read just before it failed has no failedReason yet.
    const job = await waitFor('intake job failed', 30_000, async () => ((await intake.getJobState(jobId)) === 'failed' ? intake.getJob(jobId) : null));
    expect(job.failedReason).toMatch(/has invalid data \(written by another release\?\): failure.id: /);
    expect(job.attemptsMade).toBe(1);
    note(`intake job of another shape: failed in BullMQ, reason "${job.failedReason.slice(0, 100)}…"`);
    await intake.close();
    await redis.quit();
    // Still serving: a good delivery after all of the above is triaged.
    const f = serveLog(3, 'Error: expected 1 to equal 2\n');
    expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    expect((await finalRow(f.failureId)).status).toBe('triaged');
    expect(worker.gone).toBe(false);
  });
});
