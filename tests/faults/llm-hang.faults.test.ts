import { describe, expect, it } from 'vitest';
import { exactlyOnceViolations, failedJobPayload, note, sendDelivery, startIngestProcess, startWorkerProcess, useModelFaults, waitFor } from './harness.ts';

/**
 * The model server accepts every request and never answers. The openai SDK's timeout
 * (LLM_TIMEOUT_MS) fires, the attempt fails and is retried; after PITCREW_BREAKER_THRESHOLD
 * consecutive failures the llm runner's breaker opens and every later execute goes straight to
 * the rules runner, which triages the failure and says why (`fallbackFrom`, `fallbackReason`).
 */
const fixture = useModelFaults();
const { prefix } = fixture;
const THRESHOLD = 3;


describe('LLM server hangs', () => {
  it('the timeout fires, failures fall back to rules, the breaker opens after the configured count', async () => {
    const env = {
      ...fixture.modelEnv(),
      LLM_TIMEOUT_MS: '1000',
      PITCREW_JOB_ATTEMPTS: '2',
      PITCREW_BREAKER_THRESHOLD: String(THRESHOLD),
      PITCREW_BREAKER_COOLDOWN_MS: '600000',
      // One model call at a time, so the breaker sees the timeouts one after another.
      PITCREW_RUNNER_LLM_CONCURRENCY: '1',
    };
    fixture.llm.hangNext(1_000);
    const ingest = await startIngestProcess('ingest', env);
    const worker = await startWorkerProcess('worker', env);
    const failures = [1, 2, 3, 4, 5].map((n) => failedJobPayload(n, 4));
    for (const f of failures) expect((await sendDelivery(ingest.url, 'workflow_job', f.payload)).status).toBe(202);
    const ids = failures.map((f) => f.failureId);
    await waitFor('5 failures final', 90_000, async () => {
      const rows = await fixture.tdb.db.selectFrom('failures').select('status').where('id', 'in', ids).execute();
      return rows.length === 5 && rows.every((r) => r.status === 'triaged' || r.status === 'failed');
    }, 250);

    expect(await exactlyOnceViolations(fixture.tdb.db, ids)).toEqual([]);
    const rows = await fixture.tdb.db.selectFrom('failures').select(['id', 'status', 'runner']).execute();
    expect(rows.every((r) => r.status === 'triaged' && r.runner === 'rules')).toBe(true);
    // The model was asked exactly THRESHOLD times: every later call met the open breaker.
    expect(fixture.llm.requests).toHaveLength(THRESHOLD);
    const executions = await fixture.tdb.db.selectFrom('executions').select(['failure_id', 'attempt', 'status', 'error', 'output', 'runner']).where('stage', '=', 'execute').orderBy('failure_id').orderBy('attempt').execute();
    const timedOut = executions.filter((e) => e.status === 'failed');
    expect(timedOut).toHaveLength(THRESHOLD);
    for (const e of timedOut) expect(e.error).toMatch(/timed out|timeout/i);
    const succeeded = executions.filter((e) => e.status === 'succeeded');
    expect(succeeded).toHaveLength(5);
    for (const e of succeeded) {
      const out = e.output as { runner: string; fallbackFrom?: string; fallbackReason?: string };
      expect(out.runner).toBe('rules');
      expect(out.fallbackFrom).toBe('llm');
      expect(out.fallbackReason).toBe('circuit open for runner llm');
    }
    expect(worker.output()).toMatch(/"runner":"llm","state":"open".*circuit breaker changed state/);
    note(`LLM hang: ${THRESHOLD} timeouts (${timedOut[0]!.error?.slice(0, 80)}), breaker open, 5/5 failures triaged by rules`);
    expect(worker.gone).toBe(false);
  });
});
