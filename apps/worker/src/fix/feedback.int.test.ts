import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLogger,
  findLoop,
  finishFixAttempt,
  FIX_BRANCH_PREFIX,
  isUuidv7,
  loopEpisodeId,
  normalizeGithubEvent,
  recordExecutions,
  recordFailureDelivery,
  recordPullRequestOutcome,
  startFixAttempt,
  updateFailure,
  type CiFailure,
  type FixLoopRow,
} from '@pitcrew/core';
import { createLlmClient } from '@pitcrew/llm';
import { createTestDatabase, type TestDatabase } from '@pitcrew/testkit';
import { startFakeTensorZero } from '@pitcrew/testkit/fake-tensorzero';
import type { FakeLlm } from '@pitcrew/testkit/fake-llm';
import { createTensorZeroFeedback, tensorZeroFeedbackFromEnv } from './feedback.ts';

// Real Postgres (a cloned template database), a fake TensorZero gateway over real HTTP: the loop's
// model calls go through the real client, so the ids on the execution rows are the gateway's.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = createLogger('feedback-test', 'silent');
const metrics = { merged: 'pitcrew_fix_merged', iterations: 'pitcrew_fix_iterations' };
let tdb: TestDatabase;
let gateway: FakeLlm;

function failure(overrides: Partial<CiFailure> = {}): CiFailure {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  return { ...(normalizeGithubEvent('workflow_job', payload) as CiFailure), ...overrides };
}

async function record(f: CiFailure): Promise<void> {
  await recordFailureDelivery(tdb.db, { deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), payload: {} }, f);
}

/** One execute stage of `f` whose model call went through the gateway (or, `ids: false`, recorded without ids). */
async function modelCall(f: CiFailure, ids = true): Promise<{ inferenceId: string | null; episodeId: string | null }> {
  const client = createLlmClient({ baseURL: gateway.url, model: 'tensorzero::function_name::pitcrew_triage', maxRetries: 0 });
  const completion = await client.complete({ messages: [{ role: 'user', content: 'diagnose' }], episodeId: await loopEpisodeId(tdb.db, f) });
  const result = { status: 'succeeded' as const, durationMs: completion.durationMs, output: { markdown: completion.text }, ...(ids ? { inferenceId: completion.inferenceId, episodeId: completion.episodeId } : {}) };
  await recordExecutions(tdb.db, [{ key: { failureId: f.id, stage: 'execute', attempt: 1, runner: 'llm', model: completion.model }, result }]);
  return { inferenceId: completion.inferenceId, episodeId: completion.episodeId };
}

/**
 * A loop of two iterations ending merged: the failure (triaged by the model), iteration 1 failed
 * CI on the fix branch (that failure, `fix_loop_id` = the loop, triaged by the model too),
 * iteration 2 proposed and its PR merged.
 */
async function mergedLoop(options: { ids?: boolean } = {}): Promise<{ loop: FixLoopRow; calls: { inferenceId: string | null; episodeId: string | null }[] }> {
  const first = failure();
  await record(first);
  const onFixBranch = failure({ branch: `${FIX_BRANCH_PREFIX}${first.id}` });
  await record(onFixBranch);
  await updateFailure(tdb.db, onFixBranch.id, { fix_loop_id: first.id });
  const calls = [await modelCall(first, options.ids), await modelCall(onFixBranch, options.ids)];
  const one = await startFixAttempt(tdb.db, { failureId: first.id, iteration: 1, fixer: 'rules', headSha: first.headSha });
  await finishFixAttempt(tdb.db, one.id, { status: 'proposed', branch: onFixBranch.branch, prNumber: 7, prUrl: 'https://github.com/acme/web/pull/7' });
  const two = await startFixAttempt(tdb.db, { failureId: first.id, iteration: 2, fixer: 'rules', ciFailureId: onFixBranch.id });
  await finishFixAttempt(tdb.db, two.id, { status: 'proposed', branch: onFixBranch.branch, prNumber: 7, prUrl: 'https://github.com/acme/web/pull/7' });
  await recordPullRequestOutcome(tdb.db, { loopId: first.id, outcome: 'merged', mergedBy: 'octocat', at: new Date() });
  return { loop: (await findLoop(tdb.db, first.id))!, calls };
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  gateway = await startFakeTensorZero();
});
afterAll(async () => {
  await gateway.stop();
  await tdb.destroy();
});

describe('TensorZero feedback of an ended fix loop', () => {
  it('sends merged = true and iterations = 2 once, on the one episode of the loop', async () => {
    const { loop, calls } = await mergedLoop();
    expect(loop).toMatchObject({ status: 'merged', iterations: 2 });
    // Both failures' calls joined the loop's derived episode; the gateway echoed it back.
    const episode = calls[0]!.episodeId!;
    expect(isUuidv7(episode)).toBe(true);
    expect(calls[1]!.episodeId).toBe(episode);
    expect(calls[0]!.inferenceId).not.toBe(calls[1]!.inferenceId);

    const feedback = createTensorZeroFeedback({ url: gateway.gatewayUrl, metrics, logger });
    const before = gateway.feedback.length;
    expect(await feedback.loopEnded(tdb.db, loop)).toEqual({ sent: 2, failed: 0 });
    const key = (metric: string, value: unknown) => ({ pitcrew_loop_id: loop.loop_id, pitcrew_feedback_key: `${loop.loop_id}:${metric}:${value}` });
    expect(gateway.feedback.slice(before)).toEqual([
      { metric_name: 'pitcrew_fix_merged', value: true, episode_id: episode, tags: key('pitcrew_fix_merged', true) },
      { metric_name: 'pitcrew_fix_iterations', value: 2, episode_id: episode, tags: key('pitcrew_fix_iterations', 2) },
    ]);
    // The same loop ending again in this process (a redelivered outcome) sends nothing more.
    expect(await feedback.loopEnded(tdb.db, loop)).toEqual({ sent: 0, failed: 0 });
    expect(gateway.feedback.length).toBe(before + 2);
  });

  it('retries a 5xx of the gateway and then delivers', async () => {
    const { loop } = await mergedLoop();
    const feedback = createTensorZeroFeedback({ url: gateway.gatewayUrl, metrics, logger, retry: { initialDelayMs: 10, maxDelayMs: 20 } });
    const requests = gateway.feedbackRequests.length;
    const accepted = gateway.feedback.length;
    gateway.failFeedbackNext(2, 503);
    expect(await feedback.loopEnded(tdb.db, loop)).toEqual({ sent: 2, failed: 0 });
    expect(gateway.feedbackRequests.length - requests).toBe(4);
    expect(gateway.feedback.slice(accepted).map((b) => [b.metric_name, b.value])).toEqual([
      ['pitcrew_fix_merged', true],
      ['pitcrew_fix_iterations', 2],
    ]);
  });

  it('gives up after its attempts without throwing, and does not retry a 400', async () => {
    const { loop } = await mergedLoop();
    const down = createTensorZeroFeedback({ url: gateway.gatewayUrl, metrics, logger, retry: { maxAttempts: 2, initialDelayMs: 5 } });
    let requests = gateway.feedbackRequests.length;
    gateway.failFeedbackNext(4, 500);
    expect(await down.loopEnded(tdb.db, loop)).toEqual({ sent: 0, failed: 2 });
    expect(gateway.feedbackRequests.length - requests).toBe(4);

    const misconfigured = createTensorZeroFeedback({ url: gateway.gatewayUrl, metrics: { merged: 'not_declared', iterations: 'pitcrew_fix_iterations' }, logger });
    requests = gateway.feedbackRequests.length;
    expect(await misconfigured.loopEnded(tdb.db, loop)).toEqual({ sent: 1, failed: 1 });
    expect(gateway.feedbackRequests.length - requests).toBe(2);
  });

  it('sends nothing for a loop whose model calls carry no TensorZero ids', async () => {
    const { loop } = await mergedLoop({ ids: false });
    const requests = gateway.feedbackRequests.length;
    expect(await createTensorZeroFeedback({ url: gateway.gatewayUrl, metrics, logger }).loopEnded(tdb.db, loop)).toEqual({ sent: 0, failed: 0 });
    expect(gateway.feedbackRequests.length).toBe(requests);
  });

  it('falls back to inference-level feedback for calls stored without an episode id', async () => {
    const inferenceLevel = await startFakeTensorZero({ metrics: { m: { type: 'boolean', level: 'inference' }, i: { type: 'float', level: 'inference' } } });
    try {
      const { loop } = await mergedLoop({ ids: false });
      const inferenceId = '019ae000-0000-7000-8000-000000000001';
      await tdb.db.updateTable('executions').set({ inference_id: inferenceId }).where('failure_id', '=', loop.loop_id).execute();
      const feedback = createTensorZeroFeedback({ url: `${inferenceLevel.gatewayUrl}/`, metrics: { merged: 'm', iterations: 'i' }, logger });
      expect(await feedback.loopEnded(tdb.db, loop)).toEqual({ sent: 2, failed: 0 });
      expect(inferenceLevel.feedback.map((b) => [b.metric_name, b.value, b.inference_id, b.episode_id])).toEqual([
        ['m', true, inferenceId, undefined],
        ['i', 2, inferenceId, undefined],
      ]);
    } finally {
      await inferenceLevel.stop();
    }
  });

  it('is off without PITCREW_TENSORZERO_URL', () => {
    const env = { PITCREW_TENSORZERO_METRIC_MERGED: 'a', PITCREW_TENSORZERO_METRIC_ITERATIONS: 'b' };
    expect(tensorZeroFeedbackFromEnv({ ...env, PITCREW_TENSORZERO_URL: undefined }, logger)).toBeNull();
    expect(tensorZeroFeedbackFromEnv({ ...env, PITCREW_TENSORZERO_URL: gateway.gatewayUrl }, logger)).not.toBeNull();
  });
});
