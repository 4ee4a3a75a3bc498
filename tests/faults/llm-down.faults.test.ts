import { describe, expect, it } from 'vitest';
import { exactlyOnceViolations, failedJobPayload, note, sendDelivery, startIngestProcess, startWorkerProcess, useModelFaults, waitFor } from './harness.ts';

/**
 * The model server answers 500 to every call (an outage), with pitcrew's defaults for retries:
 * the openai SDK's two retries inside each call, five job attempts with BullMQ's exponential
 * backoff, model classification on. A failure delivered after the outage began must be triaged
 * by rules within 15 s of its delivery (PITCREW_DEGRADE_AFTER_MS, default 8 s: no model retry
 * is started past it), while a model that fails one attempt and then answers still triages it.
 */
const fixture = useModelFaults();

/** The outage's target from issue 12: delivery to `triaged` by rules. */
const DEGRADED_WITHIN_MS = 15_000;

describe('LLM server down (500 to every call)', () => {
  it('a failure is triaged by rules within 15 s of delivery; a model that fails once still answers the next', async () => {
    const env = {
      ...fixture.modelEnv(),
      LLM_MAX_RETRIES: '2',
      PITCREW_LLM_CLASSIFY_BELOW: '0.6',
      PITCREW_JOB_ATTEMPTS: '5',
      // A threshold no single failure reaches: the deadline, not the breaker, makes rules stand in.
      PITCREW_BREAKER_THRESHOLD: '50',
    };
    const ingest = await startIngestProcess('ingest', env);
    const worker = await startWorkerProcess('worker', env);

    fixture.llm.failNext(10_000, { status: 500 });
    const down = failedJobPayload(1, 7);
    const sentAt = Date.now();
    expect((await sendDelivery(ingest.url, 'workflow_job', down.payload)).status).toBe(202);
    const row = await waitFor('the failure triaged during the outage', 60_000, async () => {
      const r = await fixture.tdb.db.selectFrom('failures').selectAll().where('id', '=', down.failureId).executeTakeFirst();
      return r && (r.status === 'triaged' || r.status === 'failed') ? r : null;
    }, 100);
    const tookMs = (row.finished_at as Date).getTime() - sentAt;
    expect(row).toMatchObject({ status: 'triaged', runner: 'rules' });
    expect(tookMs).toBeLessThanOrEqual(DEGRADED_WITHIN_MS);
    const execute = await fixture.tdb.db.selectFrom('executions').selectAll().where('failure_id', '=', down.failureId).where('stage', '=', 'execute').where('status', '=', 'succeeded').executeTakeFirstOrThrow();
    expect((execute.output as { fallbackFrom?: string; fallbackReason?: string }).fallbackReason).toMatch(/model unavailable|500/);
    const modelCalls = fixture.llm.requests.length;
    note(`LLM down: delivery → triaged by rules in ${tookMs} ms (${modelCalls} model calls answered 500)`);

    // One failed attempt, then the model answers: the retry is not given up.
    fixture.llm.recover();
    const before = fixture.llm.requests.length;
    fixture.llm.failNext(3, { status: 500 }); // one call with its two SDK retries
    const once = failedJobPayload(2, 7);
    expect((await sendDelivery(ingest.url, 'workflow_job', once.payload)).status).toBe(202);
    const second = await waitFor('the failure triaged after one failed model attempt', 60_000, async () => {
      const r = await fixture.tdb.db.selectFrom('failures').selectAll().where('id', '=', once.failureId).executeTakeFirst();
      return r && (r.status === 'triaged' || r.status === 'failed') ? r : null;
    }, 100);
    expect(second).toMatchObject({ status: 'triaged', runner: 'llm' });
    expect(fixture.llm.requests.length - before).toBeGreaterThan(3);
    expect(await exactlyOnceViolations(fixture.tdb.db, [down.failureId, once.failureId])).toEqual([]);
    expect(worker.gone).toBe(false);
  });
});
