import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classificationRecorded,
  findFailure,
  finishFixAttempt,
  listExecutions,
  listFixAttempts,
  normalizeGithubEvent,
  recordExecutions,
  recordFailureDelivery,
  startFixAttempt,
  triageCompleted,
  type CiFailure,
} from '@pitcrew/core';
import { createTestDatabase, type TestDatabase } from '@pitcrew/testkit';

/** The repositories' one-statement writes, against real Postgres: what the fault suite relies on. */
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
let tdb: TestDatabase;

function failure(): CiFailure {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  return normalizeGithubEvent('workflow_job', payload) as CiFailure;
}
const delivery = (deliveryId: string = randomUUID()) => ({ deliveryId, event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), payload: { big: 'x'.repeat(10_000) } });

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  await tdb.destroy();
});

describe('recordFailureDelivery', () => {
  it('twin deliveries at the same moment: one failure, the first accepted and the other merged; a redelivery changes nothing', async () => {
    const f = failure();
    const [a, b] = await Promise.all([recordFailureDelivery(tdb.db, delivery(), f), recordFailureDelivery(tdb.db, delivery(), f)]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect([a.outcome, b.outcome].sort()).toEqual(['accepted', 'merged']);
    const deliveries = await tdb.db.selectFrom('deliveries').select(['id', 'outcome']).where('failure_id', '=', f.id).execute();
    expect(deliveries).toHaveLength(2);
    const first = deliveries.find((d) => d.outcome === 'accepted')!;
    const again = await recordFailureDelivery(tdb.db, delivery(first.id), f);
    expect(again).toEqual({ created: false, status: 'queued', outcome: 'accepted' });
    expect(await tdb.db.selectFrom('deliveries').select('id').where('failure_id', '=', f.id).execute()).toHaveLength(2);
  });
});

describe('recordExecutions', () => {
  const done = (output: unknown) => ({ status: 'succeeded' as const, durationMs: 1, output });

  it("writes several stages and the failure's patch in one statement; a row that succeeded elsewhere wins, and then the patch waits", async () => {
    const f = failure();
    await recordFailureDelivery(tdb.db, delivery(), f);
    const key = (stage: string) => ({ failureId: f.id, stage, attempt: 1, runner: 'rules', model: null });
    expect(await recordExecutions(tdb.db, [{ key: key('classify'), result: done({ n: 1 }) }], { failureId: f.id, patch: classificationRecorded({ category: 'lint', confidence: 0.9 }) })).toEqual(['classify']);
    expect(await findFailure(tdb.db, f.id)).toMatchObject({ status: 'running', category: 'lint' });
    // The same attempt recorded again (a stalled job run twice): the first result stands, the patch is not applied.
    expect(await recordExecutions(tdb.db, [{ key: key('classify'), result: done({ n: 2 }) }], { failureId: f.id, patch: { summary: 'second run' } })).toEqual([]);
    expect((await listExecutions(tdb.db, f.id))[0]!.output).toEqual({ n: 1 });
    expect((await findFailure(tdb.db, f.id))!.summary).toBeNull();
    // A failed row of the same attempt is replaced.
    await recordExecutions(tdb.db, [{ key: key('execute'), result: { status: 'failed', durationMs: 1, error: 'boom' } }]);
    const written = await recordExecutions(tdb.db, [
      { key: key('execute'), result: done({ markdown: 'm' }) },
      { key: key('summarize'), result: done({ summary: 's' }) },
    ], { failureId: f.id, patch: triageCompleted({ runner: 'rules', summary: 's', budgetSkipped: false }) });
    expect(written.sort()).toEqual(['execute', 'summarize']);
    expect((await listExecutions(tdb.db, f.id)).map((e) => `${e.stage}:${e.status}`)).toEqual(['classify:succeeded', 'execute:succeeded', 'summarize:succeeded']);
    expect(await findFailure(tdb.db, f.id)).toMatchObject({ status: 'triaged', summary: 's' });
  });

  it("a late classify write never turns a triaged failure back into running (the claim is compare-and-set)", async () => {
    const f = failure();
    await recordFailureDelivery(tdb.db, delivery(), f);
    await tdb.db.updateTable('failures').set({ status: 'triaged' }).where('id', '=', f.id).execute();
    await recordExecutions(tdb.db, [{ key: { failureId: f.id, stage: 'classify', attempt: 1, runner: 'rules', model: null }, result: done({}) }], { failureId: f.id, patch: classificationRecorded({ category: 'test', confidence: 0.5 }) });
    expect(await findFailure(tdb.db, f.id)).toMatchObject({ status: 'triaged', category: 'test' });
  });
});

describe('fix attempts', () => {
  it('one row per (failure, iteration): a retried start finds it, and it ends once', async () => {
    const f = failure();
    await recordFailureDelivery(tdb.db, delivery(), f);
    const a = await startFixAttempt(tdb.db, { failureId: f.id, iteration: 1, fixer: 'rules' });
    const again = await startFixAttempt(tdb.db, { failureId: f.id, iteration: 1, fixer: 'rules' });
    expect(again.id).toBe(a.id);
    expect(await finishFixAttempt(tdb.db, a.id, { status: 'refused', guardRule: 'skipped-test', guardDetail: 'src/a.test.ts: it.skip(', filesChanged: 1, linesChanged: 2 })).toMatchObject({ status: 'refused', guard_rule: 'skipped-test' });
    expect(await finishFixAttempt(tdb.db, a.id, { status: 'verified' })).toBeUndefined();
    expect(await listFixAttempts(tdb.db, f.id)).toEqual([expect.objectContaining({ iteration: 1, fixer: 'rules', status: 'refused', guard_rule: 'skipped-test', files_changed: 1, lines_changed: 2 })]);
  });
});
