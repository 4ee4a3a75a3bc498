import { describe, expect, it } from 'vitest';
import { exactlyOnceViolations, failedJobPayload, note, sendDelivery, startIngestProcess, startWorkerProcess, useModelFaults, waitFor } from './harness.ts';

/**
 * A worker is SIGKILLed while its execute stage waits on the model (the fake LLM holds the
 * answers). BullMQ's stalled-job check, run by the next worker, moves the jobs back to wait with
 * their attempt unchanged; the new worker re-runs execute and overwrites the dead worker's
 * `running` execution rows instead of adding rows.
 */
const fixture = useModelFaults();
const { prefix } = fixture;


function workerEnv(maxStalledCount: number): Record<string, string> {
  return {
    ...fixture.modelEnv(),
    // Short locks so the test sees recovery in seconds (production default: 30 s / 15 s).
    PITCREW_LOCK_DURATION_MS: '3000',
    PITCREW_STALLED_INTERVAL_MS: '1000',
    PITCREW_MAX_STALLED_COUNT: String(maxStalledCount),
  };
}

describe('worker SIGKILL in the middle of the execute stage', () => {
  it('another worker process recovers the stalled jobs and finishes them: one execution row per (failure, stage, attempt)', async () => {
    const env = workerEnv(2);
    const ingest = await startIngestProcess('ingest', env);
    fixture.llm.hold();
    const a = await startWorkerProcess('worker-a', env);
    const failures = [1, 2, 3].map((n) => failedJobPayload(n, 1));
    for (const f of failures) expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    await waitFor('3 model calls held', 60_000, () => fixture.llm.held === 3);
    const running = await fixture.tdb.db.selectFrom('executions').select(['failure_id', 'stage', 'attempt', 'status']).where('stage', '=', 'execute').execute();
    expect(running.map((e) => e.status)).toEqual(['running', 'running', 'running']);

    a.child.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    fixture.llm.release(); // the held answers go to a dead process
    const killedAt = Date.now();
    const b = await startWorkerProcess('worker-b', env);
    const ids = failures.map((f) => f.failureId);
    await waitFor('all triaged', 90_000, async () => {
      const rows = await fixture.tdb.db.selectFrom('failures').select('status').where('id', 'in', ids).execute();
      return rows.length === 3 && rows.every((r) => r.status === 'triaged');
    });
    note(`SIGKILL: 3 jobs recovered and triaged by another worker ${Date.now() - killedAt} ms after the kill (lock 3 s, stalled check 1 s)`);

    expect(await exactlyOnceViolations(fixture.tdb.db, ids)).toEqual([]);
    const executions = await fixture.tdb.db.selectFrom('executions').select(['failure_id', 'stage', 'attempt', 'status', 'runner']).orderBy('failure_id').orderBy('stage').execute();
    // Same attempt (1) for every stage: the stalled job was not charged an attempt.
    expect(executions).toHaveLength(9);
    expect(executions.every((e) => e.attempt === 1 && e.status === 'succeeded')).toBe(true);
    expect(executions.filter((e) => e.stage === 'execute').every((e) => e.runner === 'llm')).toBe(true);
    // Each failure's model call ran twice: once in the killed worker, once in its successor.
    expect(fixture.llm.requests.length).toBe(6);
    expect(b.gone).toBe(false);
    await b.stop();
    await ingest.stop();
  });

  it('a job that kills its worker more than PITCREW_MAX_STALLED_COUNT times ends failed with a readable error, never stuck running', async () => {
    const env = workerEnv(1);
    const ingest = await startIngestProcess('ingest-2', env);
    fixture.llm.requests.length = 0;
    fixture.llm.hold();
    const f = failedJobPayload(9, 1);
    expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    // Two crashes in a row while the job is at the model: the second exceeds maxStalledCount 1.
    for (const name of ['worker-c', 'worker-d']) {
      const held = fixture.llm.held;
      const w = await startWorkerProcess(name, env);
      await waitFor(`${name} holds the model call`, 60_000, () => fixture.llm.held > held);
      w.child.kill('SIGKILL');
      await w.exited;
    }
    fixture.llm.release();
    const e = await startWorkerProcess('worker-e', env);
    const row = await waitFor('failure final', 90_000, async () => {
      const r = await fixture.tdb.db.selectFrom('failures').select(['status', 'error']).where('id', '=', f.failureId).executeTakeFirst();
      return r && (r.status === 'failed' || r.status === 'triaged') ? r : null;
    });
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/stalled more than allowable limit/);
    note(`stall limit: failure ended failed with "${row.error}"`);
    const executions = await fixture.tdb.db.selectFrom('executions').select(['stage', 'attempt', 'status']).where('failure_id', '=', f.failureId).execute();
    // classify finished; the execute row the dead workers left `running` is the only one, and it
    // was closed as failed together with the failure.
    expect(executions.filter((x) => x.stage === 'execute').map((x) => x.status)).toEqual(['failed']);
    expect(await exactlyOnceViolations(fixture.tdb.db, [f.failureId], { exhaustive: false })).toEqual([]);
    expect(e.gone).toBe(false);
    await e.stop();
    await ingest.stop();
  });
});
