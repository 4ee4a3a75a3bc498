import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { committedSpend, normalizeGithubEvent, QUEUES, type CiFailure, type IntakeJobData } from '@pitcrew/core';
import { createLlmClient, createPriceBook } from '@pitcrew/llm';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, findFreePort, parseExposition, sampleValue, testPrefix, type Sample, type TestDatabase } from '@pitcrew/testkit';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { createBreakers } from './guards/breakers.ts';
import { createBudget, utcDay } from './guards/budget.ts';
import { processIntake } from './jobs/intake.ts';
import { startWorker } from './main.ts';
import { createWorkerMetrics, FIX_DURATION_BUCKETS, FIX_LOOP_ITERATION_BUCKETS, serveMetrics, STAGE_DURATION_BUCKETS, type MetricsServer, type WorkerMetrics } from './metrics.ts';
import { triageFailure } from './stages/index.ts';
import { createLlmRunner } from './runners/llm-runner.ts';
import { createRunnerRegistry, type RunnerRegistry } from './runners/registry.ts';
import type { Runner } from './runners/runner.ts';
import { createWorkers } from './worker.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
const PRICES = { 'priced-model': { input: 1, output: 2 } };
const TOKEN = 'worker-metrics-token-0123456789';

let tdb: TestDatabase;
let redis: Redis;
let llm: FakeLlm;
let prefix: string;
let metrics: WorkerMetrics;
let server: MetricsServer;

beforeAll(async () => {
  [tdb, llm] = await Promise.all([createTestDatabase(), startFakeLlm({ model: 'priced-model' })]);
  redis = createTestRedis();
});
afterAll(async () => {
  await Promise.all([tdb.destroy(), llm.stop(), redis.quit()]);
});
beforeEach(async () => {
  prefix = testPrefix();
  metrics = createWorkerMetrics();
  server = await serveMetrics(metrics, { port: 0, host: '127.0.0.1' });
  return async () => {
    await server.close();
    await deleteKeysWithPrefix(redis, prefix);
  };
});

/** A fresh failed workflow_job (unique job id), as an intake job. */
function intakeData(): IntakeJobData {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  return {
    v: 1,
    deliveryId: randomUUID(),
    event: 'workflow_job',
    action: 'completed',
    receivedAt: new Date().toISOString(),
    failure: normalizeGithubEvent('workflow_job', payload) as CiFailure,
    payload,
  };
}

async function scrape(url = server.url, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** Scrapes until `done` holds (job events arrive just after the job's own writes), at most 15 s. */
async function scrapeUntil(done: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const samples = parseExposition((await scrape()).text);
    if (done(samples) || Date.now() > deadline) return samples;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForStatus(ids: string[], status: 'triaged' | 'failed') {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const rows = await tdb.db.selectFrom('failures').select('id').where('id', 'in', ids).where('status', '=', status).execute();
    if (rows.length === ids.length) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`failures not ${status} in time`);
}

/** Execution rows of these failures grouped as `stage|runner|status` → count. */
async function executionCounts(ids: string[]) {
  const rows = await tdb.db.selectFrom('executions').select(['stage', 'runner', 'status']).where('failure_id', 'in', ids).execute();
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(`${r.stage}|${r.runner}|${r.status}`, (counts.get(`${r.stage}|${r.runner}|${r.status}`) ?? 0) + 1);
  return counts;
}

function exposedExecutions(samples: Sample[]) {
  const counts = new Map<string, number>();
  for (const s of samples.filter((s) => s.name === 'pitcrew_executions_total')) counts.set(`${s.labels.stage}|${s.labels.runner}|${s.labels.status}`, s.value);
  return counts;
}

describe('worker metrics', () => {
  it('counts executions, stage durations and finished jobs of real BullMQ jobs exactly as Postgres records them', async () => {
    const connection = createTestRedis();
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners: createRunnerRegistry({ choice: 'rules' }), logger, concurrency: 2, attempts: 3, metrics });
    const intake = new Queue(QUEUES.intake, { connection, prefix });
    try {
      const data = [intakeData(), intakeData()];
      for (const d of data) await intake.add('workflow_job', d, { jobId: `delivery-${d.deliveryId}` });
      const ids = data.map((d) => d.failure.id);
      await waitForStatus(ids, 'triaged');
      const samples = await scrapeUntil((s) => sampleValue(s, 'pitcrew_jobs_total', { queue: 'run-rules', result: 'completed' }) === 2);

      expect(sampleValue(samples, 'pitcrew_jobs_total', { queue: 'intake', result: 'completed' })).toBe(2);
      expect(sampleValue(samples, 'pitcrew_jobs_total', { queue: 'triage', result: 'completed' })).toBe(2);
      expect(sampleValue(samples, 'pitcrew_jobs_total', { queue: 'run-rules', result: 'completed' })).toBe(2);
      expect(samples.filter((s) => s.name === 'pitcrew_jobs_total' && s.labels.result !== 'completed')).toEqual([]);

      const recorded = await executionCounts(ids);
      expect([...recorded.values()].reduce((a, b) => a + b, 0)).toBe(6); // classify, execute, summarize × 2
      expect(exposedExecutions(samples)).toEqual(recorded);
      for (const [key, count] of recorded) {
        const [stage, runner] = key.split('|') as [string, string];
        expect(sampleValue(samples, 'pitcrew_stage_duration_seconds_count', { stage, runner })).toBe(count);
        expect(sampleValue(samples, 'pitcrew_stage_duration_seconds_bucket', { stage, runner, le: '+Inf' })).toBe(count);
      }
      const les = samples.filter((s) => s.name === 'pitcrew_stage_duration_seconds_bucket' && s.labels.stage === 'execute').map((s) => s.labels.le);
      expect(les).toEqual([...STAGE_DURATION_BUCKETS.map(String), '+Inf']);
      // Rules use no model: no token or cost series.
      expect(samples.filter((s) => /^pitcrew_(tokens_(in|out)|cost_usd)_total$/.test(s.name))).toEqual([]);

      // BullMQ's own metrics are on: the board's completed rate has both runs.
      expect((await workers.runQueues.rules!.getMetrics('completed')).meta.count).toBe(2);
    } finally {
      await Promise.all([workers.close(), intake.close()]);
      await connection.quit();
    }
  });

  it('adds up tokens in, tokens out and USD per runner and model as the execution rows do', async () => {
    const connection = createTestRedis();
    const client = createLlmClient({ baseURL: llm.url, model: 'priced-model', prices: createPriceBook({ overrides: PRICES }) });
    const runners = createRunnerRegistry({ choice: 'llm', llm: createLlmRunner(client, { maxTokens: 256 }), llmClient: client });
    const breakers = createBreakers({ threshold: 5, cooldownMs: 60_000 });
    metrics.watchBreakers(breakers);
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners, logger, concurrency: 2, attempts: 1, guards: { breakers, budget: null }, metrics });
    try {
      const data = [intakeData(), intakeData(), intakeData()];
      for (const d of data) await processIntake(tdb.db, workers.triageQueue, d);
      const ids = data.map((d) => d.failure.id);
      await waitForStatus(ids, 'triaged');
      const samples = await scrapeUntil((s) => sampleValue(s, 'pitcrew_jobs_total', { queue: 'run-llm', result: 'completed' }) === 3);

      const rows = await tdb.db
        .selectFrom('executions')
        .select(['runner', 'model', 'tokens_in', 'tokens_out', 'cost_usd'])
        .where('failure_id', 'in', ids)
        .where('runner', '=', 'llm')
        .execute();
      expect(rows.length).toBe(3); // one model call per failure (the reply has a Summary section)
      const tokensIn = rows.reduce((sum, r) => sum + r.tokens_in, 0);
      const tokensOut = rows.reduce((sum, r) => sum + r.tokens_out, 0);
      const usd = rows.reduce((sum, r) => sum + Number(r.cost_usd), 0);
      expect(tokensIn).toBeGreaterThan(0);
      const labels = { runner: 'llm', model: 'priced-model' };
      expect(sampleValue(samples, 'pitcrew_tokens_in_total', labels)).toBe(tokensIn);
      expect(sampleValue(samples, 'pitcrew_tokens_out_total', labels)).toBe(tokensOut);
      expect(sampleValue(samples, 'pitcrew_cost_usd_total', labels)).toBeCloseTo(usd, 9);
      expect(usd).toBeCloseTo((tokensIn * 1 + tokensOut * 2) / 1e6, 9);
      expect(exposedExecutions(samples)).toEqual(await executionCounts(ids));
      // The llm breaker exists after the first call and is closed.
      expect(sampleValue(samples, 'pitcrew_breaker_state', { runner: 'llm' })).toBe(0);
    } finally {
      await workers.close();
      await connection.quit();
    }
  });

  it('shows an open breaker as 2 and counts budget skips', async () => {
    const recorded = async () => {
      const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
      const data = intakeData();
      await processIntake(tdb.db, triage, data);
      await triage.close();
      return data.failure.id;
    };
    const run = (failureId: string) => ({ failureId, attempt: 1, finalAttempt: true, signal: new AbortController().signal });
    const broken: Runner = { name: 'llm', model: 'broken-model', estimateUsd: () => 1, execute: async () => { throw new Error('model down'); } };
    const runners: RunnerRegistry = createRunnerRegistry({ choice: 'llm', llm: broken });
    const breakers = createBreakers({ threshold: 1, cooldownMs: 60_000 });
    metrics.watchBreakers(breakers);

    // The model fails once: the breaker (threshold 1) opens and rules stand in.
    const first = await triageFailure({ db: tdb.db, runners, logger, guards: { breakers, budget: null }, observer: metrics.observer }, run(await recorded()));
    expect(first.runner).toBe('rules');
    // A budget of 0.5 USD per failure refuses the 1 USD estimate: rules stand in without a call.
    const budget = createBudget(tdb.db, { orgDailyUsd: 0, repoDailyUsd: 0, failureUsd: 0.5 });
    const second = await triageFailure({ db: tdb.db, runners, logger, guards: { breakers: createBreakers({ threshold: 5, cooldownMs: 1_000 }), budget }, observer: metrics.observer }, run(await recorded()));
    expect(second.runner).toBe('rules');

    const samples = parseExposition((await scrape()).text);
    expect(sampleValue(samples, 'pitcrew_breaker_state', { runner: 'llm' })).toBe(2);
    expect(sampleValue(samples, 'pitcrew_budget_skipped_total', { runner: 'llm' })).toBe(1);
    // Both executions finished on the rules fallback.
    expect(sampleValue(samples, 'pitcrew_executions_total', { stage: 'execute', runner: 'rules', status: 'succeeded' })).toBe(2);
  });

  it('counts a retried attempt and a final failure, and the failed executions', async () => {
    const connection = createTestRedis();
    const broken: Runner = { name: 'rules', model: null, estimateUsd: () => 0, execute: async () => { throw new Error('always broken'); } };
    const runners: RunnerRegistry = { runners: { rules: broken }, fallback: broken, llm: null, choose: () => ({ runner: 'rules', model: null }) };
    const workers = createWorkers({ connection, prefix, db: tdb.db, runners, logger, concurrency: 1, attempts: 2, metrics });
    try {
      const data = intakeData();
      await processIntake(tdb.db, workers.triageQueue, data);
      await waitForStatus([data.failure.id], 'failed');
      const samples = await scrapeUntil((s) => sampleValue(s, 'pitcrew_jobs_total', { queue: 'run-rules', result: 'failed' }) === 1);
      expect(sampleValue(samples, 'pitcrew_jobs_total', { queue: 'run-rules', result: 'retried' })).toBe(1);
      expect(sampleValue(samples, 'pitcrew_jobs_total', { queue: 'run-rules', result: 'failed' })).toBe(1);
      expect(sampleValue(samples, 'pitcrew_jobs_total', { queue: 'triage', result: 'completed' })).toBe(1);
      expect(sampleValue(samples, 'pitcrew_executions_total', { stage: 'execute', runner: 'rules', status: 'failed' })).toBe(2);
      expect(sampleValue(samples, 'pitcrew_stage_duration_seconds_count', { stage: 'execute', runner: 'rules' })).toBe(2);
      expect(exposedExecutions(samples)).toEqual(await executionCounts([data.failure.id]));
    } finally {
      await workers.close();
      await connection.quit();
    }
  });

  it('counts fix attempts by fixer and status, refusals by rule, fix USD and proposals, whose ratio is USD per proposed fix', async () => {
    const observe = metrics.observer.fixAttempt;
    observe({ fixer: 'agent', status: 'proposed', guardRule: null, costUsd: 0.5, durationMs: 95_000 });
    observe({ fixer: 'agent', status: 'refused', guardRule: 'skipped-test', costUsd: 0.25, durationMs: 40_000 });
    observe({ fixer: 'agent', status: 'refused', guardRule: 'skipped-test', costUsd: 0.125, durationMs: 20_000 });
    observe({ fixer: 'agent', status: 'verify_failed', guardRule: null, costUsd: 0.125, durationMs: 700_000 });
    observe({ fixer: 'agent', status: 'proposed', guardRule: null, costUsd: 0.5, durationMs: 80_000 });
    observe({ fixer: 'rules', status: 'refused', guardRule: 'workflow-edit', costUsd: 0, durationMs: 1_200 });
    observe({ fixer: 'rules', status: 'not_attempted', guardRule: null, costUsd: 0, durationMs: 0 });
    const samples = parseExposition((await scrape()).text);

    expect(sampleValue(samples, 'pitcrew_fix_attempts_total', { fixer: 'agent', status: 'proposed' })).toBe(2);
    expect(sampleValue(samples, 'pitcrew_fix_attempts_total', { fixer: 'agent', status: 'refused' })).toBe(2);
    expect(sampleValue(samples, 'pitcrew_fix_attempts_total', { fixer: 'agent', status: 'verify_failed' })).toBe(1);
    expect(sampleValue(samples, 'pitcrew_fix_attempts_total', { fixer: 'rules', status: 'not_attempted' })).toBe(1);
    expect(samples.filter((s) => s.name === 'pitcrew_fix_attempts_total').reduce((n, s) => n + s.value, 0)).toBe(7);
    expect(samples.filter((s) => s.name === 'pitcrew_fix_refused_total').map((s) => [s.labels.rule, s.value])).toEqual([
      ['skipped-test', 2],
      ['workflow-edit', 1],
    ]);
    // USD per proposed fix: every attempt's USD (refused and failed ones too) over the fixes proposed.
    const agentUsd = sampleValue(samples, 'pitcrew_fix_cost_usd_total', { fixer: 'agent' })!;
    const agentProposed = sampleValue(samples, 'pitcrew_fix_proposed_total', { fixer: 'agent' })!;
    expect(agentUsd).toBeCloseTo(1.5, 9);
    expect(agentProposed).toBe(2);
    expect(agentUsd / agentProposed).toBeCloseTo(0.75, 9);
    // The free rules fixer that proposed nothing still has both series, at 0.
    expect(sampleValue(samples, 'pitcrew_fix_cost_usd_total', { fixer: 'rules' })).toBe(0);
    expect(sampleValue(samples, 'pitcrew_fix_proposed_total', { fixer: 'rules' })).toBe(0);
    // Durations in seconds; an attempt that was never made is not one.
    expect(sampleValue(samples, 'pitcrew_fix_duration_seconds_count', { fixer: 'agent' })).toBe(5);
    expect(sampleValue(samples, 'pitcrew_fix_duration_seconds_sum', { fixer: 'agent' })).toBeCloseTo(935, 6);
    expect(sampleValue(samples, 'pitcrew_fix_duration_seconds_bucket', { fixer: 'agent', le: '600' })).toBe(4);
    expect(sampleValue(samples, 'pitcrew_fix_duration_seconds_count', { fixer: 'rules' })).toBe(1);
    const les = samples.filter((s) => s.name === 'pitcrew_fix_duration_seconds_bucket' && s.labels.fixer === 'rules').map((s) => s.labels.le);
    expect(les).toEqual([...FIX_DURATION_BUCKETS.map(String), '+Inf']);
  });

  it('counts ended fix loops by fixer, category and outcome, their iterations and USD: merge rate, iterations and USD per merged fix', async () => {
    const ended = metrics.observer.fixLoopEnded;
    ended({ fixer: 'agent', model: 'gpt-x', category: 'test', outcome: 'merged', iterations: 2, costUsd: 1 });
    ended({ fixer: 'agent', model: 'gpt-x', category: 'test', outcome: 'merged', iterations: 1, costUsd: 0.25 });
    ended({ fixer: 'agent', model: 'gpt-x', category: 'lint', outcome: 'closed', iterations: 1, costUsd: 0.5 });
    ended({ fixer: 'agent', model: 'gpt-x', category: 'test', outcome: 'escalated', iterations: 12, costUsd: 0.75 });
    ended({ fixer: 'rules', model: null, category: null, outcome: 'verified_by_ci', iterations: 1, costUsd: 0 });
    metrics.observer.fixBreakerOpened();
    metrics.observer.fixBreakerOpened();
    const samples = parseExposition((await scrape()).text);
    const sum = (name: string, labels: Record<string, string>) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

    expect(sampleValue(samples, 'pitcrew_fix_loops_total', { fixer: 'agent', category: 'test', outcome: 'merged' })).toBe(2);
    expect(sampleValue(samples, 'pitcrew_fix_loops_total', { fixer: 'agent', category: 'lint', outcome: 'closed' })).toBe(1);
    expect(sampleValue(samples, 'pitcrew_fix_loops_total', { fixer: 'rules', category: 'none', outcome: 'verified_by_ci' })).toBe(1);
    // Every fixer and category that ended a loop has a merged series, at 0 when none merged.
    expect(sampleValue(samples, 'pitcrew_fix_loops_total', { fixer: 'agent', category: 'lint', outcome: 'merged' })).toBe(0);
    expect(sampleValue(samples, 'pitcrew_fix_loops_total', { fixer: 'rules', category: 'none', outcome: 'merged' })).toBe(0);
    // The docstring's PromQL over one scrape: merge rate 2 / (2 + 1).
    const merged = sum('pitcrew_fix_loops_total', { fixer: 'agent', outcome: 'merged' });
    expect(merged / (merged + sum('pitcrew_fix_loops_total', { fixer: 'agent', outcome: 'closed' }))).toBeCloseTo(2 / 3, 9);
    // Iterations per merged fix: every ended loop's iterations (16) over the merged ones; a merged loop itself took 1.5.
    expect(sum('pitcrew_fix_loop_iterations_sum', { fixer: 'agent' }) / merged).toBe(8);
    expect(sampleValue(samples, 'pitcrew_fix_loop_iterations_sum', { fixer: 'agent', outcome: 'merged' })! / sampleValue(samples, 'pitcrew_fix_loop_iterations_count', { fixer: 'agent', outcome: 'merged' })!).toBe(1.5);
    // USD per merged fix: every ended loop's USD (2.5) over the merged ones.
    expect(sum('pitcrew_fix_loop_cost_usd_total', { fixer: 'agent' }) / merged).toBeCloseTo(1.25, 9);
    expect(sampleValue(samples, 'pitcrew_fix_loop_cost_usd_total', { fixer: 'rules', outcome: 'verified_by_ci' })).toBe(0);
    // Buckets 1..10: a loop of 12 iterations is only under +Inf.
    const les = samples.filter((s) => s.name === 'pitcrew_fix_loop_iterations_bucket' && s.labels.fixer === 'agent' && s.labels.outcome === 'escalated');
    expect(les.map((s) => s.labels.le)).toEqual([...FIX_LOOP_ITERATION_BUCKETS.map(String), '+Inf']);
    expect(les.map((s) => s.value)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(sampleValue(samples, 'pitcrew_fix_loop_iterations_bucket', { fixer: 'agent', outcome: 'merged', le: '1' })).toBe(1);
    // The breaker counter has no repository label.
    expect(samples.filter((s) => s.name === 'pitcrew_fix_breaker_opened_total')).toEqual([{ name: 'pitcrew_fix_breaker_opened_total', labels: {}, value: 2 }]);
  });

  it('serves Prometheus text on /metrics only, behind the bearer token when one is set', async () => {
    const open = await scrape();
    expect(open.status).toBe(200);
    expect(open.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(open.text).toContain('# TYPE pitcrew_stage_duration_seconds histogram');
    expect(parseExposition(open.text).some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);
    expect((await scrape(server.url.replace('/metrics', '/other'))).status).toBe(404);

    const guarded = await serveMetrics(metrics, { port: 0, host: '127.0.0.1', token: TOKEN });
    try {
      const anonymous = await scrape(guarded.url);
      expect(anonymous.status).toBe(401);
      expect(JSON.parse(anonymous.text)).toMatchObject({ error: 'unauthorized' });
      expect((await scrape(guarded.url, { authorization: 'Bearer not-the-token-0123456789' })).status).toBe(401);
      expect((await scrape(guarded.url, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });

  it('startWorker reports the org\'s daily budget and today\'s spend against it, as Postgres holds it', async () => {
    const port = await findFreePort();
    const worker = await startWorker({
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: tdb.url,
      PITCREW_QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      PITCREW_SHUTDOWN_TIMEOUT_MS: '1000',
      PITCREW_METRICS_PORT: String(port),
      PITCREW_METRICS_HOST: '127.0.0.1',
      PITCREW_BUDGET_DAILY_USD: '5',
    });
    try {
      const orgToday = { day: utcDay(), scope: 'org' };
      const before = await committedSpend(tdb.db, orgToday); // earlier tests of this file may have spent today
      let samples = parseExposition((await scrape(worker.metricsUrl!)).text);
      expect(sampleValue(samples, 'pitcrew_budget_daily_usd')).toBe(5);
      expect(sampleValue(samples, 'pitcrew_spend_today_usd')).toBeCloseTo(before, 9);
      // A call reserved (in flight) counts against the budget at once; settled, its actual cost stays.
      const budget = createBudget(tdb.db, { orgDailyUsd: 5, repoDailyUsd: 0, failureUsd: 0 });
      const reservation = await budget.reserve({ owner: 'octo', repo: 'spend', failureId: randomUUID() }, 1.25);
      samples = parseExposition((await scrape(worker.metricsUrl!)).text);
      expect(sampleValue(samples, 'pitcrew_spend_today_usd')).toBeCloseTo(before + 1.25, 9);
      await reservation.settle(0.75);
      samples = parseExposition((await scrape(worker.metricsUrl!)).text);
      expect(sampleValue(samples, 'pitcrew_spend_today_usd')).toBeCloseTo(before + 0.75, 9);
    } finally {
      await worker.close();
    }
  });

  it('reports today\'s spend as NaN (unknown) when Postgres cannot answer, and serves the rest', async () => {
    metrics.watchSpend({ dailyLimitUsd: 2, spentTodayUsd: () => Promise.reject(new Error('connection refused')) });
    const samples = parseExposition((await scrape()).text);
    expect(sampleValue(samples, 'pitcrew_budget_daily_usd')).toBe(2);
    expect(sampleValue(samples, 'pitcrew_spend_today_usd')).toBeNaN();
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
  });

  it('startWorker serves /metrics on PITCREW_METRICS_PORT, and not at all when it is 0', async () => {
    const port = await findFreePort();
    const env = {
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: tdb.url,
      PITCREW_QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'silent',
      PITCREW_SHUTDOWN_TIMEOUT_MS: '1000',
    };
    const worker = await startWorker({ ...env, PITCREW_METRICS_PORT: String(port), PITCREW_METRICS_HOST: '127.0.0.1' });
    try {
      expect(worker.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
      const res = await scrape(worker.metricsUrl!);
      expect(res.status).toBe(200);
      expect(res.text).toContain('# TYPE pitcrew_jobs_total counter');
    } finally {
      await worker.close();
    }
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    const off = await startWorker(env);
    try {
      expect(off.metricsUrl).toBeNull();
    } finally {
      await off.close();
    }
  });
});
