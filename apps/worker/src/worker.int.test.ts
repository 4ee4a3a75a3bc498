import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  listExecutions,
  findFailure,
  requestRetry,
  normalizeGithubEvent,
  QUEUES,
  runJobId,
  runnerQueueName,
  type CiFailure,
  type IntakeJobData,
} from '@pitcrew/core';
import { createJsonCompleter, createLlmClient, createPriceBook } from '@pitcrew/llm';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { defaultDiagnosis, startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { processIntake } from './jobs/intake.ts';
import { triageFailure } from './stages/index.ts';
import { createLlmRunner } from './runners/llm-runner.ts';
import { createRunnerRegistry, type RunnerRegistry } from './runners/registry.ts';
import { createRulesRunner } from './runners/rules-runner.ts';
import type { Runner } from './runners/runner.ts';
import { createWorkers } from './worker.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const example = (event: string, test: (e: any) => boolean) => structuredClone(sets.find((s) => s.name === event)!.examples.find(test));
const logger = pino({ level: 'silent' });

let tdb: TestDatabase;
let redis: Redis;
let llm: FakeLlm;
let prefix: string;

beforeAll(async () => {
  [tdb, llm] = await Promise.all([createTestDatabase(), startFakeLlm()]);
  redis = createTestRedis();
});
afterAll(async () => {
  await Promise.all([tdb.destroy(), llm.stop(), redis.quit()]);
});
beforeEach(async () => {
  prefix = testPrefix();
  return () => deleteKeysWithPrefix(redis, prefix).then(() => undefined);
});

/** A fresh failure (unique job id) from the GitHub example of a failed workflow_job. */
function intakeData(overrides: { jobId?: number; deliveryId?: string; event?: 'workflow_job' | 'check_run' } = {}): IntakeJobData {
  const event = overrides.event ?? 'workflow_job';
  const payload =
    event === 'workflow_job'
      ? example('workflow_job', (e) => e.workflow_job.conclusion === 'failure')
      : example('check_run', (e) => e.action === 'completed' && e.check_run.conclusion === 'failure');
  const jobId = overrides.jobId ?? Math.floor(Math.random() * 1e12);
  if (event === 'workflow_job') payload.workflow_job.id = jobId;
  else payload.check_run.id = jobId;
  return {
    v: 1,
    deliveryId: overrides.deliveryId ?? randomUUID(),
    event,
    action: 'completed',
    receivedAt: new Date().toISOString(),
    failure: normalizeGithubEvent(event, payload) as CiFailure,
    payload,
  };
}

function stagesOf(rows: { stage: string; attempt: number; status: string }[]) {
  return rows.map((r) => `${r.stage}#${r.attempt}:${r.status}`);
}

const rules = (): RunnerRegistry => createRunnerRegistry({ choice: 'rules' });
/** A registry whose chosen runner is `runner` (named llm), with rules as the fallback. */
const chosen = (runner: Omit<Runner, 'name' | 'estimateUsd'>): RunnerRegistry =>
  createRunnerRegistry({ choice: 'llm', llm: { name: 'llm', estimateUsd: () => 0, ...runner } });
const llmRegistry = (client: ReturnType<typeof createLlmClient>, choice: 'auto' | 'llm' = 'auto') =>
  createRunnerRegistry({ choice, llm: createLlmRunner(client, { maxTokens: 1024 }), llmClient: client });
const signal = () => new AbortController().signal;

describe('processIntake', () => {
  it('records the delivery and the failure once, and enqueues one triage job under the failure id', async () => {
    const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
    const data = intakeData();
    expect(await processIntake(tdb.db, triage, data)).toMatchObject({ created: true, status: 'queued', outcome: 'accepted' });
    expect(await processIntake(tdb.db, triage, data)).toMatchObject({ created: false, status: 'queued', outcome: 'accepted' });
    // The check_run twin of the same job: another delivery, same failure.
    const twin = intakeData({ event: 'check_run', jobId: data.failure.jobId! });
    expect(twin.failure.id).toBe(data.failure.id);
    expect(await processIntake(tdb.db, triage, twin)).toMatchObject({ created: false, outcome: 'merged' });
    const deliveries = await tdb.db.selectFrom('deliveries').select(['id', 'outcome']).where('failure_id', '=', data.failure.id).orderBy('recorded_at').execute();
    expect(deliveries).toEqual([
      { id: data.deliveryId, outcome: 'accepted' },
      { id: twin.deliveryId, outcome: 'merged' },
    ]);
    expect(await triage.getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect((await triage.getJob(data.failure.id))?.data).toEqual({ v: 1, failureId: data.failure.id, round: 0, carried: { failure: data.failure, recordedAt: data.receivedAt } });
    await triage.close();
  });
});

describe('triageFailure', () => {
  async function recorded(): Promise<string> {
    const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
    const data = intakeData();
    await processIntake(tdb.db, triage, data);
    await triage.close();
    return data.failure.id;
  }

  it('runs classify → execute → summarize with rules and records one execution per stage', async () => {
    const failureId = await recorded();
    const result = await triageFailure({ db: tdb.db, runners: rules(), logger }, { failureId, attempt: 1, finalAttempt: false, signal: signal() });
    expect(result).toMatchObject({ category: 'lint', runner: 'rules', reused: [] });
    const rows = await listExecutions(tdb.db, failureId);
    expect(stagesOf(rows)).toEqual(['classify#1:succeeded', 'execute#1:succeeded', 'summarize#1:succeeded']);
    expect(rows.every((r) => r.finished_at !== null && r.duration_ms !== null)).toBe(true);
    const failure = await findFailure(tdb.db, failureId);
    expect(failure).toMatchObject({ status: 'triaged', category: 'lint', runner: 'rules' });
    expect(failure!.summary).toContain('Run yarn run format-check');
    expect(rows[2]!.runner).toBe('runner-output');
  });

  it('is idempotent: the same attempt again or a later attempt adds no rows and re-runs nothing', async () => {
    const failureId = await recorded();
    const deps = { db: tdb.db, runners: rules(), logger };
    await triageFailure(deps, { failureId, attempt: 1, finalAttempt: false, signal: signal() });
    // The same attempt started again (a stalled job picked up by another worker: `resumed`).
    const again = await triageFailure(deps, { failureId, attempt: 1, finalAttempt: false, resumed: true, signal: signal() });
    const later = await triageFailure(deps, { failureId, attempt: 2, finalAttempt: false, signal: signal() });
    expect(again.reused).toEqual(['classify', 'execute', 'summarize']);
    expect(later.reused).toEqual(['classify', 'execute', 'summarize']);
    expect(await listExecutions(tdb.db, failureId)).toHaveLength(3);
  });

  it('resumes at the failed stage on retry and never repeats a finished one', async () => {
    const failureId = await recorded();
    let calls = 0;
    const runners = chosen({
      model: null,
      async execute(input) {
        calls += 1;
        if (calls === 1) throw new Error('runner crashed', { cause: new Error('socket hang up') });
        return createRulesRunner().execute(input);
      },
    });
    await expect(
      triageFailure({ db: tdb.db, runners, logger }, { failureId, attempt: 1, finalAttempt: false, signal: signal() }),
    ).rejects.toThrow('runner crashed');
    const second = await triageFailure({ db: tdb.db, runners, logger }, { failureId, attempt: 2, finalAttempt: false, signal: signal() });
    expect(second.reused).toEqual(['classify']);
    const rows = await listExecutions(tdb.db, failureId);
    expect(stagesOf(rows)).toEqual(['classify#1:succeeded', 'execute#1:failed', 'execute#2:succeeded', 'summarize#2:succeeded']);
    expect(rows[1]!.error).toBe('Error: runner crashed <- Error: socket hang up');
  });

  it('a requested retry from a stage keeps earlier stages and re-runs that stage and later ones as new attempts', async () => {
    const failureId = await recorded();
    const deps = { db: tdb.db, runners: rules(), logger };
    await triageFailure(deps, { failureId, attempt: 1, finalAttempt: false, signal: signal() });
    expect(await requestRetry(tdb.db, failureId, 'execute')).toBe(1);
    expect(await findFailure(tdb.db, failureId)).toMatchObject({ status: 'queued', attempt_base: 1, retry_from_stage: 'execute' });
    const result = await triageFailure(deps, { failureId, attempt: 1, finalAttempt: false, signal: signal() });
    expect(result.reused).toEqual(['classify']);
    expect(stagesOf(await listExecutions(tdb.db, failureId))).toEqual([
      'classify#1:succeeded',
      'execute#1:succeeded',
      'summarize#1:succeeded',
      'execute#2:succeeded',
      'summarize#2:succeeded',
    ]);
    expect(await requestRetry(tdb.db, 'gh-job-nope', 'classify')).toBeNull();
  });

  it('falls back to rules when the runner fails on the last attempt (degrade, do not drop)', async () => {
    const failureId = await recorded();
    const broken = chosen({ model: 'm', execute: async () => { throw new Error('model down'); } });
    const result = await triageFailure(
      { db: tdb.db, runners: broken, logger },
      { failureId, attempt: 5, finalAttempt: true, signal: signal() },
    );
    expect(result.runner).toBe('rules');
    const execute = (await listExecutions(tdb.db, failureId)).find((r) => r.stage === 'execute')!;
    expect(execute).toMatchObject({ runner: 'rules', status: 'succeeded' });
    expect(execute.output).toMatchObject({ fallbackFrom: 'llm', fallbackReason: 'Error: model down' });
  });

  it('uses the llm runner against an OpenAI-compatible server and records model and tokens', async () => {
    const failureId = await recorded();
    const client = createLlmClient({ baseURL: llm.url, model: 'test-model', prices: createPriceBook({ overrides: { 'test-model': { input: 1, output: 2 } } }) });
    const before = llm.requests.length;
    const result = await triageFailure(
      { db: tdb.db, runners: llmRegistry(client), logger },
      { failureId, attempt: 1, finalAttempt: false, signal: signal() },
    );
    expect(result.runner).toBe('llm');
    const request = llm.requests[before]!.body;
    expect(request).toMatchObject({ model: 'test-model', stream: true, stream_options: { include_usage: true } });
    const execute = (await listExecutions(tdb.db, failureId)).find((r) => r.stage === 'execute')!;
    expect(execute.model).toBe('test-model');
    expect(execute.tokens_in).toBeGreaterThan(0);
    expect(execute.tokens_out).toBeGreaterThan(0);
    expect(Number(execute.cost_usd)).toBeCloseTo((execute.tokens_in * 1 + execute.tokens_out * 2) / 1e6, 6);
    // The fake server's diagnosis has a ## Summary section: it wins, no second model call.
    expect(llm.requests.length - before).toBe(1);
    expect((await findFailure(tdb.db, failureId))!.summary).toBeTruthy();
  });

  it('asks the model to classify when the rules are unsure, under a JSON schema, and routes by its category', async () => {
    const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
    const data = intakeData();
    data.failure = { ...data.failure, jobName: 'deploy', checkName: 'deploy', workflowName: 'Release', failedSteps: ['Publish'] };
    await processIntake(tdb.db, triage, data);
    await triage.close();
    const client = createLlmClient({ baseURL: llm.url, model: 'test-model' });
    llm.setReply((body) =>
      body.response_format?.type === 'json_schema'
        ? JSON.stringify({ category: 'dependency', confidence: 0.8, runner: 'llm', model: null, reason: 'the publish step could not resolve a package' })
        : defaultDiagnosis(body),
    );
    try {
      const result = await triageFailure(
        { db: tdb.db, runners: llmRegistry(client), logger, classifier: { completeJson: createJsonCompleter(client), below: 0.6 } },
        { failureId: data.failure.id, attempt: 1, finalAttempt: false, signal: signal() },
      );
      expect(result).toMatchObject({ category: 'dependency', confidence: 0.8, runner: 'llm' });
    } finally {
      llm.setReply(undefined);
    }
    const classify = (await listExecutions(tdb.db, data.failure.id)).find((r) => r.stage === 'classify')!;
    expect(classify).toMatchObject({ runner: 'llm', model: 'test-model' });
    expect(classify.tokens_in).toBeGreaterThan(0);
    expect(classify.output).toMatchObject({ rules: { category: 'unknown' }, modelVerdict: { category: 'dependency' } });
    expect(await findFailure(tdb.db, data.failure.id)).toMatchObject({ category: 'dependency' });
  });

  it('asks the model for a summary when the runner output has no Summary section', async () => {
    const failureId = await recorded();
    const client = createLlmClient({ baseURL: llm.url, model: 'test-model' });
    llm.setReply((body) =>
      JSON.stringify(body).includes('Summarize CI failure diagnoses')
        ? 'The format check failed on main. Run prettier --write and commit.'
        : '## Diagnosis\nPrettier found unformatted files.',
    );
    try {
      await triageFailure(
        { db: tdb.db, runners: llmRegistry(client, 'llm'), logger },
        { failureId, attempt: 1, finalAttempt: false, signal: signal() },
      );
    } finally {
      llm.setReply(undefined as never);
    }
    const summarize = (await listExecutions(tdb.db, failureId)).find((r) => r.stage === 'summarize')!;
    expect(summarize).toMatchObject({ runner: 'llm', model: 'test-model', output: { source: 'llm' } });
    expect(summarize.tokens_out).toBeGreaterThan(0);
    expect((await findFailure(tdb.db, failureId))!.summary).toBe('The format check failed on main. Run prettier --write and commit.');
  });
});

describe('createWorkers (BullMQ)', () => {
  it('takes an intake job through to a triaged failure, and a job run twice leaves one row per stage', async () => {
    const connection = createTestRedis();
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners: rules(), logger, concurrency: 2, attempts: 3 });
    const intake = new Queue(QUEUES.intake, { connection, prefix });
    const events = new QueueEvents(runnerQueueName('rules'), { connection: createTestRedis(), prefix });
    await events.waitUntilReady();
    const data = intakeData();
    const runId = runJobId(data.failure.id, 0);
    const done = new Promise<void>((resolve) => events.on('completed', ({ jobId }) => jobId === runId && resolve()));
    await intake.add('workflow_job', data, { jobId: `delivery-${data.deliveryId}` });
    await done;
    expect(await findFailure(tdb.db, data.failure.id)).toMatchObject({ status: 'triaged' });
    // At-least-once: BullMQ may run a job again (stalled worker). Same job ids, new jobs after removal.
    await workers.triageQueue.remove(data.failure.id);
    await workers.runQueues.rules!.remove(runId);
    const again = new Promise<void>((resolve) => events.on('completed', ({ jobId }) => jobId === runId && resolve()));
    await workers.triageQueue.add('triage', { v: 1, failureId: data.failure.id }, { jobId: data.failure.id });
    await again;
    expect(stagesOf(await listExecutions(tdb.db, data.failure.id))).toEqual([
      'classify#1:succeeded',
      'execute#1:succeeded',
      'summarize#1:succeeded',
    ]);
    await Promise.all([workers.close(), intake.close(), events.close()]);
    await events.disconnect();
    await connection.quit();
  });

  it('fails a job with invalid data at once (unrecoverable) and marks a failure failed after its last attempt', async () => {
    const connection = createTestRedis();
    const broken: Runner = { name: 'rules', model: null, estimateUsd: () => 0, execute: async () => { throw new Error('always broken'); } };
    // rules is its own fallback: a broken rules runner fails the job on every attempt.
    const runners: RunnerRegistry = { runners: { rules: broken }, fallback: broken, llm: null, choose: () => ({ runner: 'rules', model: null }) };
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners, logger, concurrency: 1, attempts: 2 });
    const bad = await workers.triageQueue.add('triage', { v: 99 }, { attempts: 3 });
    const triage = new Queue(QUEUES.triage, { connection, prefix });
    const data = intakeData();
    await processIntake(tdb.db, triage, data);
    const deadline = Date.now() + 20_000;
    let failure = await findFailure(tdb.db, data.failure.id);
    while (failure?.status !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      failure = await findFailure(tdb.db, data.failure.id);
    }
    expect(failure).toMatchObject({ status: 'failed' });
    expect(failure!.error).toContain('always broken');
    const badJob = await workers.triageQueue.getJob(bad.id!);
    expect(await badJob!.getState()).toBe('failed');
    expect(badJob!.attemptsMade).toBe(1);
    expect(badJob!.failedReason).toContain('invalid data');
    await Promise.all([workers.close(), triage.close()]);
    await connection.quit();
  });

  it('gives each runner its own queue and concurrency: a slow model never holds up rules triage', async () => {
    const connection = createTestRedis();
    const slow = await startFakeLlm({ latencyMs: 700 });
    const client = createLlmClient({ baseURL: slow.url, model: 'slow-model' });
    // Test failures go to the model, lint failures to rules.
    const runners = createRunnerRegistry({
      choice: 'rules',
      llm: createLlmRunner(client, { maxTokens: 256 }),
      llmClient: client,
      strategy: { test: { runner: 'llm' } },
    });
    const workers = createWorkers({
      connection, prefix, db: tdb.db, runners, logger, concurrency: 4, attempts: 1,
      runnerLimits: { llm: { concurrency: 1, ratePerMinute: 0 }, rules: { concurrency: 4, ratePerMinute: 0 } },
    });
    const make = (step: string) => {
      const data = intakeData();
      data.failure = { ...data.failure, jobName: 'ci', checkName: 'ci', failedSteps: [step] };
      return data;
    };
    const modelFailures = [make('Run npm test'), make('Run npm test')];
    const rulesFailures = [make('Run eslint .'), make('Run eslint .'), make('Run eslint .')];
    for (const d of [...modelFailures, ...rulesFailures]) await processIntake(tdb.db, workers.triageQueue, d);
    const finishedAt = async (ids: string[]) => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const rows = await tdb.db.selectFrom('failures').select(['finished_at']).where('id', 'in', ids).where('status', '=', 'triaged').execute();
        if (rows.length === ids.length) return Math.max(...rows.map((r) => new Date(r.finished_at!).getTime()));
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('not triaged in time');
    };
    const [rulesDone, modelDone] = await Promise.all([finishedAt(rulesFailures.map((d) => d.failure.id)), finishedAt(modelFailures.map((d) => d.failure.id))]);
    expect(rulesDone).toBeLessThan(modelDone); // rules did not wait behind the model
    const rulesRunners = await tdb.db.selectFrom('executions').select('runner').where('stage', '=', 'execute').where('failure_id', 'in', rulesFailures.map((d) => d.failure.id)).execute();
    expect(rulesRunners.every((r) => r.runner === 'rules')).toBe(true);
    // llm concurrency 1: the two model calls did not overlap (each takes at least 700 ms).
    const [a, b] = slow.requests.map((r) => r.receivedAt);
    expect(Math.abs(b! - a!)).toBeGreaterThanOrEqual(650);
    await workers.close();
    await slow.stop();
    await connection.quit();
  });

  it("a 429 with Retry-After rate-limits the runner's queue: the job waits without using an attempt, then the model serves it", async () => {
    const connection = createTestRedis();
    const limited = await startFakeLlm();
    // No SDK retries: the 429 reaches the worker, whose retry policy turns it into a queue rate limit.
    const client = createLlmClient({ baseURL: limited.url, model: 'limited-model', maxRetries: 0 });
    const runners = createRunnerRegistry({ choice: 'llm', llm: createLlmRunner(client, { maxTokens: 256 }), llmClient: client });
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners, logger, concurrency: 2, attempts: 2, degradeAfterMs: 60_000 });
    limited.failNext(1, { status: 429, retryAfterSeconds: 1 });
    const data = intakeData();
    await processIntake(tdb.db, workers.triageQueue, data);
    const deadline = Date.now() + 15_000;
    let limitSeen = 0;
    while ((await findFailure(tdb.db, data.failure.id))?.status !== 'triaged') {
      if (Date.now() > deadline) throw new Error('not triaged in time');
      limitSeen = Math.max(limitSeen, await workers.runQueues.llm!.getRateLimitTtl());
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(limitSeen).toBeGreaterThan(0); // the run-llm queue was paused for the Retry-After
    const rows = await listExecutions(tdb.db, data.failure.id);
    // Served by the model on the same attempt: the rate limit used none.
    expect(rows.find((r) => r.stage === 'execute')).toMatchObject({ attempt: 1, status: 'succeeded', runner: 'llm', model: 'limited-model' });
    const job = await workers.runQueues.llm!.getJob(runJobId(data.failure.id, 0));
    // Started twice (the rate-limited start and the served one), one attempt made (the completion).
    expect(job?.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(job?.attemptsMade).toBe(1);
    expect(limited.requests.length).toBeGreaterThanOrEqual(2);
    await workers.close();
    await limited.stop();
    await connection.quit();
  });

  it('graceful close waits for the active job to finish', async () => {
    const connection = createTestRedis();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const startedPromise = new Promise<void>((r) => (started = r));
    const slow = chosen({
      model: null,
      async execute(input) {
        started();
        await gate;
        return createRulesRunner().execute(input);
      },
    });
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners: slow, logger, concurrency: 1, attempts: 1 });
    const data = intakeData();
    await processIntake(tdb.db, workers.triageQueue, data);
    await startedPromise;
    let closed = false;
    const closing = workers.close(10_000).then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(closed).toBe(false);
    release();
    await closing;
    expect(await findFailure(tdb.db, data.failure.id)).toMatchObject({ status: 'triaged' });
    await connection.quit();
  });
});
