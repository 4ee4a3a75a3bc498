import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createTestRedis } from '@pitcrew/testkit';
import { runnerQueueName } from '@pitcrew/core';
import { exactlyOnceViolations, failedJobPayload, note, sendDelivery, startIngestProcess, startWorkerProcess, useModelFaults, waitFor } from './harness.ts';

/**
 * SIGTERM while the execute stage waits on the model. The worker stops taking jobs and gives the
 * active ones PITCREW_SHUTDOWN_TIMEOUT_MS; a job that finishes in that time is simply done; one
 * that does not is cancelled (the model call is aborted) and handed back to the queue with its
 * attempt unused, and the process exits 0 within timeout + SHUTDOWN_RELEASE_MS (5 s).
 */
const fixture = useModelFaults();
const { prefix } = fixture;
const SHUTDOWN_TIMEOUT_MS = 3_000;
const RELEASE_MS = 5_000; // SHUTDOWN_RELEASE_MS in apps/worker/src/worker.ts


const env = () => ({
  ...fixture.modelEnv(),
  PITCREW_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
});

describe('worker SIGTERM during a long execute', () => {
  it('a job that finishes within the shutdown timeout completes in the stopping worker', async () => {
    const ingest = await startIngestProcess('ingest', env());
    fixture.llm.hold();
    const w = await startWorkerProcess('worker-a', env());
    const f = failedJobPayload(1, 2);
    expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    await waitFor('model call held', 60_000, () => fixture.llm.held === 1);
    // One SIGTERM (a second one means "exit now"); the harness SIGKILLs only far past the
    // documented deadline, so the worker must exit by itself.
    const stopping = w.stop('SIGTERM', SHUTDOWN_TIMEOUT_MS + RELEASE_MS + 15_000);
    await new Promise((r) => setTimeout(r, 1_000));
    fixture.llm.release(); // the model answers 1 s into the 3 s grace
    expect(await stopping).toBe(0);
    const row = await fixture.tdb.db.selectFrom('failures').select(['status', 'runner']).where('id', '=', f.failureId).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'triaged', runner: 'llm' });
    expect(w.output()).not.toContain('cancelling them');
    await ingest.stop();
  });

  it('a job still running at the timeout is cancelled and handed back, attempt unused; another worker finishes it', async () => {
    const ingest = await startIngestProcess('ingest-2', env());
    fixture.llm.hold();
    const w = await startWorkerProcess('worker-b', env());
    const f = failedJobPayload(2, 2);
    expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    await waitFor('model call held', 60_000, () => fixture.llm.held === 1);
    const signalled = Date.now();
    expect(await w.stop('SIGTERM', SHUTDOWN_TIMEOUT_MS + RELEASE_MS + 15_000)).toBe(0);
    const exitMs = Date.now() - signalled;
    note(`SIGTERM: worker exited 0 after ${exitMs} ms (shutdown timeout ${SHUTDOWN_TIMEOUT_MS} ms + release up to ${RELEASE_MS} ms)`);
    expect(w.output()).toContain('handed back to the queue');
    expect(w.output()).not.toContain('closing hard');

    // Back in the queue, not active, not failed, attempt not charged.
    const redis = createTestRedis();
    const queue = new Queue(runnerQueueName('llm'), { connection: redis, prefix });
    const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'failed', 'prioritized');
    expect(counts.active).toBe(0);
    expect(counts.failed).toBe(0);
    expect((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0)).toBe(1);
    const [job] = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
    expect(job?.attemptsMade).toBe(0);
    await queue.close();
    await redis.quit();
    const aborted = await fixture.tdb.db.selectFrom('executions').select(['status', 'error']).where('failure_id', '=', f.failureId).where('stage', '=', 'execute').execute();
    expect(aborted).toHaveLength(1);
    expect(aborted[0]!.status).toBe('failed');
    note(`SIGTERM: the cancelled execute row says "${aborted[0]!.error?.slice(0, 120)}"`);

    fixture.llm.release();
    const next = await startWorkerProcess('worker-c', env());
    await waitFor('triaged by the next worker', 60_000, async () => {
      const r = await fixture.tdb.db.selectFrom('failures').select('status').where('id', '=', f.failureId).executeTakeFirst();
      return r?.status === 'triaged';
    });
    expect(await exactlyOnceViolations(fixture.tdb.db, [f.failureId], { exhaustive: false })).toEqual([]);
    const executions = await fixture.tdb.db.selectFrom('executions').select(['stage', 'attempt', 'status']).where('failure_id', '=', f.failureId).orderBy('stage').execute();
    expect(executions).toEqual([
      { stage: 'classify', attempt: 1, status: 'succeeded' },
      { stage: 'execute', attempt: 1, status: 'succeeded' },
      { stage: 'summarize', attempt: 1, status: 'succeeded' },
    ]);
    await next.stop();
    await ingest.stop();
  });
});
