import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionAlreadySucceededError, finishExecution, startExecution } from '@pitcrew/core';
import { createTestDatabase, type TestDatabase } from '@pitcrew/testkit';

/**
 * Two workers on the same (failure, stage, attempt): the one cut off behind a network partition
 * (A) and the one that took its job over after the lock expired (B). Found by the several-hosts
 * fault test (tests/faults/netns.faults.test.ts): A's late "failed: aborted" overwrote B's
 * succeeded row. The row now carries its run's claim (`started_at`).
 */
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.destroy();
});

async function insertFailure(): Promise<string> {
  const id = `gh-job-claim-${randomUUID().slice(0, 8)}`;
  await tdb.db
    .insertInto('failures')
    .values({ id, provider: 'github', kind: 'job', owner: 'o', repo: 'r', head_sha: 'a'.repeat(40), conclusion: 'failure', data: '{}', status: 'running', first_delivery_id: randomUUID(), received_at: new Date() } as never)
    .execute();
  return id;
}

describe('execution rows shared by a worker that lost its job and the one that took it over', () => {
  it('the taken-over run records nothing over the other run, before or after it finished', async () => {
    const failureId = await insertFailure();
    const key = { failureId, stage: 'execute', attempt: 1, runner: 'llm', model: 'm' };
    const a = new Date(Date.now() - 5_000);
    const idA = await startExecution(tdb.db, { ...key, startedAt: a });
    const b = new Date();
    const idB = await startExecution(tdb.db, { ...key, startedAt: b });
    expect(idB).toBe(idA); // one row per (failure, stage, attempt)
    // A wakes up while B is still running: its failure must not land on B's row.
    expect(await finishExecution(tdb.db, idA, { status: 'failed', durationMs: 1, error: 'LlmError: model call aborted' }, a)).toBe(false);
    expect(await finishExecution(tdb.db, idB, { status: 'succeeded', durationMs: 2, output: { markdown: 'ok' } }, b)).toBe(true);
    // A again, after B finished.
    expect(await finishExecution(tdb.db, idA, { status: 'failed', durationMs: 1, error: 'late' }, a)).toBe(false);
    const row = await tdb.db.selectFrom('executions').select(['status', 'output', 'error']).where('id', '=', idA).executeTakeFirstOrThrow();
    expect(row).toEqual({ status: 'succeeded', output: { markdown: 'ok' }, error: null });
  });

  it('a succeeded row is never reset to running: a late start gets ExecutionAlreadySucceededError', async () => {
    const failureId = await insertFailure();
    const key = { failureId, stage: 'summarize', attempt: 2, runner: 'rules', model: null };
    const startedAt = new Date();
    const id = await startExecution(tdb.db, { ...key, startedAt });
    await finishExecution(tdb.db, id, { status: 'succeeded', durationMs: 1, output: { summary: 's' } }, startedAt);
    await expect(startExecution(tdb.db, key)).rejects.toBeInstanceOf(ExecutionAlreadySucceededError);
    const row = await tdb.db.selectFrom('executions').select('status').where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.status).toBe('succeeded');
  });
});
