import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { normalizeGithubEvent, QUEUES, type CiFailure } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { processIntake } from '../jobs/intake.ts';
import { triageFailure } from '../stages/index.ts';
import { createLlmRunner } from '../runners/llm-runner.ts';
import { createRunnerRegistry } from '../runners/registry.ts';
import { createLlmClient, createPriceBook } from '@pitcrew/llm';
import { createBreakers } from './breakers.ts';
import { BudgetExceededError } from '../errors.ts';
import { createBudget, utcDay } from './budget.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const BIN = fileURLToPath(new URL('../../../cli/bin/pitcrew.mjs', import.meta.url));
const logger = pino({ level: 'silent' });

let tdb: TestDatabase;
let llm: FakeLlm;
beforeAll(async () => {
  [tdb, llm] = await Promise.all([createTestDatabase(), startFakeLlm({ model: 'priced-model' })]);
});
afterAll(async () => {
  await Promise.all([tdb.destroy(), llm.stop()]);
});

function failureData(repo = 'octo-repo') {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  payload.repository.name = repo;
  return {
    v: 1 as const,
    deliveryId: randomUUID(),
    event: 'workflow_job' as const,
    action: 'completed',
    receivedAt: new Date().toISOString(),
    failure: normalizeGithubEvent('workflow_job', payload) as CiFailure,
    payload,
  };
}

describe('createBudget', () => {
  it('refuses a call that would pass a limit, releases and settles reservations', async () => {
    const budget = createBudget(tdb.db, { orgDailyUsd: 1, repoDailyUsd: 0, failureUsd: 0.5 });
    const scope = { owner: 'o', repo: 'budget-unit', failureId: `gh-job-${randomUUID()}` };
    const first = await budget.reserve(scope, 0.4);
    await expect(budget.reserve(scope, 0.2)).rejects.toBeInstanceOf(BudgetExceededError); // failure: 0.4 + 0.2 > 0.5
    await first.settle(0.1); // the call cost less than estimated
    const second = await budget.reserve(scope, 0.3); // 0.1 spent + 0.3 <= 0.5
    await second.release();
    await expect(budget.reserve(scope, 0.6)).rejects.toThrow(/failure:.* of 0.5 USD would be exceeded/);
    const rows = await tdb.db.selectFrom('spend').selectAll().where('scope', 'in', ['org', `failure:${scope.failureId}`]).execute();
    const failureRow = rows.find((r) => r.scope.startsWith('failure:'))!;
    expect(Number(failureRow.spent_usd)).toBeCloseTo(0.1, 6);
    expect(Number(failureRow.reserved_usd)).toBe(0);
    expect(rows.find((r) => r.scope === 'org')!.day).toBeTruthy();
  });

  it('a spent budget triages by rules and marks the failure budget_skipped, never failed', async () => {
    const triage = new Queue(QUEUES.triage, { connection: createTestRedis(), prefix: testPrefix() });
    const data = failureData('budget-skip');
    await processIntake(tdb.db, triage, data);
    await triage.close();
    await triage.disconnect();
    const client = createLlmClient({ baseURL: llm.url, model: 'priced-model', prices: createPriceBook({ overrides: { 'priced-model': { input: 1000, output: 1000 } } }) });
    const runners = createRunnerRegistry({ choice: 'llm', llm: createLlmRunner(client, { maxTokens: 1024 }), llmClient: client });
    const before = llm.requests.length;
    const result = await triageFailure(
      {
        db: tdb.db,
        runners,
        logger,
        guards: { breakers: createBreakers({ threshold: 5, cooldownMs: 1000 }), budget: createBudget(tdb.db, { orgDailyUsd: 0, repoDailyUsd: 0.01, failureUsd: 0 }) },
      },
      { failureId: data.failure.id, attempt: 1, finalAttempt: false, signal: new AbortController().signal },
    );
    expect(result.runner).toBe('rules');
    expect(llm.requests.length).toBe(before);
    const row = await tdb.db.selectFrom('failures').selectAll().where('id', '=', data.failure.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'triaged', budget_skipped: true });
  });
});

describe('a model with no known price', () => {
  /** Triages one fresh failure with `book`, a USD budget of 5 per repository per day, and a counting observer. */
  async function triageWith(book: ReturnType<typeof createPriceBook>, repo: string) {
    const triage = new Queue(QUEUES.triage, { connection: createTestRedis(), prefix: testPrefix() });
    const data = failureData(repo);
    await processIntake(tdb.db, triage, data);
    await triage.close();
    await triage.disconnect();
    const client = createLlmClient({ baseURL: llm.url, model: 'local-llama:8b', prices: book });
    const runners = createRunnerRegistry({ choice: 'llm', llm: createLlmRunner(client, { maxTokens: 256 }), llmClient: client });
    const refused: { runner: string; model: string | null }[] = [];
    const before = llm.requests.length;
    const result = await triageFailure(
      {
        db: tdb.db,
        runners,
        logger,
        guards: { breakers: createBreakers({ threshold: 5, cooldownMs: 1000 }), budget: createBudget(tdb.db, { orgDailyUsd: 0, repoDailyUsd: 5, failureUsd: 0 }) },
        observer: { execution() {}, budgetSkipped() {}, unpricedRefused: (runner, model) => refused.push({ runner, model }), fixAttempt() {}, fixLoopEnded() {}, fixBreakerOpened() {} },
      },
      { failureId: data.failure.id, attempt: 1, finalAttempt: false, signal: new AbortController().signal },
    );
    const row = await tdb.db.selectFrom('failures').selectAll().where('id', '=', data.failure.id).executeTakeFirstOrThrow();
    const execute = await tdb.db.selectFrom('executions').selectAll().where('failure_id', '=', data.failure.id).where('stage', '=', 'execute').executeTakeFirstOrThrow();
    return { result, row, execute, refused, calls: llm.requests.length - before };
  }

  it('is refused when a USD budget is set: no call, rules triage, the failure marked budget_skipped, the refusal counted', async () => {
    const { result, row, execute, refused, calls } = await triageWith(createPriceBook(), 'unpriced-refused');
    expect(calls).toBe(0);
    expect(result.runner).toBe('rules');
    expect(row).toMatchObject({ status: 'triaged', budget_skipped: true });
    expect((execute.output as { fallbackReason: string }).fallbackReason).toMatch(/price of local-llama:8b is unknown.*LLM_PRICES.*LLM_FREE_MODELS/);
    expect(refused).toEqual([{ runner: 'llm', model: 'local-llama:8b' }]);
    const spend = await tdb.db.selectFrom('spend').selectAll().where('scope', '=', 'repo:Codertocat/unpriced-refused').executeTakeFirst();
    expect(spend).toBeUndefined();
  });

  it('runs when the operator marks it free (LLM_FREE_MODELS), at 0 USD', async () => {
    const { result, row, execute, refused, calls } = await triageWith(createPriceBook({ freeModels: ['local-llama:*'] }), 'unpriced-free');
    expect(calls).toBeGreaterThan(0);
    expect(result.runner).toBe('llm');
    expect(row).toMatchObject({ status: 'triaged', budget_skipped: false });
    expect(Number(execute.cost_usd)).toBe(0);
    expect(refused).toEqual([]);
  });

  it('is costed once the operator prices it, and the budget applies', async () => {
    const { result, execute } = await triageWith(createPriceBook({ overrides: { 'local-llama': { input: 1, output: 2 } } }), 'unpriced-priced');
    expect(result.runner).toBe('llm');
    expect(Number(execute.cost_usd)).toBeCloseTo((execute.tokens_in * 1 + execute.tokens_out * 2) / 1e6, 9);
    expect(Number(execute.cost_usd)).toBeGreaterThan(0);
  });
});

describe('budget across two worker processes', () => {
  it('exhausted mid-day: no overspend beyond one call, the rest triaged by rules', async () => {
    const prefix = testPrefix();
    const redis = createTestRedis();
    const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
    // Prices make one call cost about 0.03-0.05 USD; the org budget fits a handful of calls.
    const prices = { 'priced-model': { input: 50, output: 50 } };
    const orgSpent = async () =>
      Number((await tdb.db.selectFrom('spend').select('spent_usd').where('scope', '=', 'org').where('day', '=', utcDay()).executeTakeFirst())?.spent_usd ?? 0);
    const before = await orgSpent(); // earlier tests of this file spent some of today's org budget
    const limit = before + 0.2;
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const data = failureData('two-processes');
      ids.push(data.failure.id);
      await processIntake(tdb.db, triage, data);
    }
    const env = {
      ...process.env,
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: tdb.url,
      PITCREW_QUEUE_PREFIX: prefix,
      LLM_BASE_URL: llm.url,
      LLM_MODEL: 'priced-model',
      LLM_PRICES: JSON.stringify(prices),
      LLM_MAX_TOKENS: '200',
      PITCREW_BUDGET_DAILY_USD: String(limit),
      PITCREW_RUNNER_LLM_CONCURRENCY: '4',
      LOG_LEVEL: 'warn',
    };
    const children: ChildProcess[] = [0, 1].map(() => spawn(process.execPath, [BIN, 'worker'], { env, stdio: 'ignore' }));
    try {
      const deadline = Date.now() + 45_000;
      let done = 0;
      while (Date.now() < deadline) {
        done = (await tdb.db.selectFrom('failures').select('id').where('id', 'in', ids).where('status', '=', 'triaged').execute()).length;
        if (done === ids.length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(done).toBe(ids.length);
    } finally {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    }
    const executions = await tdb.db.selectFrom('executions').selectAll().where('failure_id', 'in', ids).where('runner', '=', 'llm').execute();
    const spent = executions.reduce((sum, e) => sum + Number(e.cost_usd), 0);
    const largest = Math.max(...executions.map((e) => Number(e.cost_usd)));
    const org = await tdb.db.selectFrom('spend').selectAll().where('scope', '=', 'org').where('day', '=', utcDay()).executeTakeFirstOrThrow();
    expect(Number(org.spent_usd) - before).toBeCloseTo(spent, 6);
    expect(Number(org.reserved_usd)).toBe(0);
    expect(before + spent).toBeLessThanOrEqual(limit + largest);
    expect(executions.length).toBeGreaterThan(0);
    const skipped = await tdb.db.selectFrom('failures').select('id').where('id', 'in', ids).where('budget_skipped', '=', true).execute();
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped.length + executions.filter((e) => e.stage === 'execute').length).toBe(ids.length);
    await deleteKeysWithPrefix(redis, prefix);
    await triage.close();
    await redis.quit();
  }, 60_000);
});
