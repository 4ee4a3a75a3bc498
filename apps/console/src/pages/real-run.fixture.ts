import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { inject } from 'vitest';
import { QUEUES } from '@pitcrew/core';
import { createIntakeProducer, startIngest, type IngestHandle, type IntakeProducer } from '@pitcrew/ingest';
import { createTestDatabase, createTestRedis, createTestRepository, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { startWorker, type WorkerHandle } from '@pitcrew/worker';

/**
 * A real run for the console's tests: ingest and a worker started from their environment as
 * `main.ts` starts them (real Redis and Postgres of the harness, the fake GitHub for logs, check
 * runs and pull requests, the fake OpenAI-compatible server as the model, a real git origin and
 * prettier for the fix loop), fed signed webhook deliveries over HTTP built from GitHub's own
 * examples (@octokit/webhooks-examples). The pages then render what the pipeline recorded:
 *
 * - `lint`: a prettier check failure of `octo-org/shop`; triaged by the model, fixed by the rules
 *   fixer (verified, pushed, a draft PR on the fake GitHub)
 * - `unit20`, `unit22`: the same test failure in two jobs of one commit, one incident; `unit20`
 *   then passes on the same commit (a resolution, and a flaky registry row)
 * - `checkRun`: GitHub's example failed `check_run` as it is (its log is not on the fake: no excerpt)
 */
export interface RealRun {
  tdb: TestDatabase;
  redis: Redis;
  prefix: string;
  triage: Queue;
  producer: IntakeProducer;
  github: FakeGithub;
  llm: FakeLlm;
  /** Failure ids of the run's failures. */
  failures: { lint: string; unit20: string; unit22: string; checkRun: string };
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const example = (event: string, test: (e: any) => boolean) => structuredClone(sets.find((s) => s.name === event)!.examples.find(test));
const OWNER = 'octo-org';
const REPO = 'shop';
const SECRET = 'console-pages-webhook-secret';
/** pitcrew's own node_modules: prettier, as the job's `npm ci` would have installed it. */
const TOOLCHAIN = dirname(dirname(require.resolve('prettier/package.json')));

/** The failing commit: `src/cart.ts` is not formatted, so `prettier --check src` fails. */
const FILES = {
  '.github/workflows/ci.yml': ['name: CI', 'on: [push]', 'jobs:', '  lint:', '    runs-on: ubuntu-latest', '    steps:', '      - uses: actions/checkout@v4', '      - name: Check formatting', '        run: prettier --check src', ''].join('\n'),
  'package.json': '{"name":"shop","private":true,"devDependencies":{"prettier":"^3"}}\n',
  'src/cart.ts': 'export const total=(items:{price:number,qty:number}[])=>items.reduce((sum,i)=>sum+i.price*i.qty,0)\n',
};

const LINT_LOG = [
  '##[group]Run prettier --check src',
  'prettier --check src',
  'shell: /usr/bin/bash -e {0}',
  '##[endgroup]',
  'Checking formatting...',
  '[warn] src/cart.ts',
  '[warn] Code style issues found in the above file. Run Prettier with --write to fix.',
  '##[error]Process completed with exit code 1.',
];

const TEST_LOG = [
  '##[group]Run npm test',
  'npm test',
  '##[endgroup]',
  '> shop@1.0.0 test',
  '> vitest run',
  ...Array.from({ length: 12 }, (_, i) => ` ✓ src/money.test.ts > format ${i} (${i + 1} ms)`),
  ' ❯ src/cart.test.ts (3 tests | 1 failed)',
  '   × total > adds the shipping fee',
  ' FAIL  src/cart.test.ts > total > adds the shipping fee',
  // Log text is untrusted: the pages must show this markup as text.
  'AssertionError: expected "<b>42</b>" to be "<b>47</b>" // Object.is equality',
  ' ❯ src/cart.test.ts:12:34',
  ' Test Files  1 failed | 1 passed (2)',
  '      Tests  1 failed | 14 passed (15)',
  '##[error]Process completed with exit code 1.',
];

/** Polls `read` every 100 ms until `done`; throws naming `what` after `ms`. */
export async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${ms} ms (last: ${JSON.stringify(value)})`);
    await sleep(100);
  }
}

/** Starts ingest and a worker, sends the deliveries, and waits until every failure, the fix and the resolution are recorded. */
export async function startRealRun(): Promise<RealRun> {
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  const prefix = testPrefix();
  const redis = createTestRedis();
  const [tdb, github, llm] = await Promise.all([createTestDatabase(), startFakeGithub(), startFakeLlm()]);
  const root = await mkdtemp(join(tmpdir(), 'pitcrew-console-'));
  const repo = await createTestRepository(root, FILES);
  github.setOrigin(OWNER, REPO, repo.origin);
  const base = { REDIS_URL: inject('redisUrl'), DATABASE_URL: tdb.url, PITCREW_QUEUE_PREFIX: prefix };
  const ingest: IngestHandle = await startIngest({ ...base, GITHUB_WEBHOOK_SECRET: SECRET, PORT: '0', HOST: '127.0.0.1' }, logger);
  const worker: WorkerHandle = await startWorker(
    {
      ...base,
      LLM_BASE_URL: llm.url,
      GITHUB_API_URL: github.url,
      GITHUB_TOKEN: 'ghs_console_pages_test_token',
      PITCREW_PUBLISH: 'check-run',
      PITCREW_WORKER_CONCURRENCY: '4',
      PITCREW_METRICS_PORT: '0',
      PITCREW_FIX: 'propose',
      PITCREW_FIX_FIXER: 'rules',
      PITCREW_FIX_REPOS: `${OWNER}/${REPO}`,
      PITCREW_FIX_CLONE_URL: repo.url,
      PITCREW_FIX_PATH: join(TOOLCHAIN, '.bin'),
      // The harness machine has no bubblewrap; `none` is the documented choice for such machines.
      PITCREW_SANDBOX: 'none',
      PITCREW_WORKSPACE_ROOT: root,
      PITCREW_SHUTDOWN_TIMEOUT_MS: '5000',
    },
    logger,
  );
  const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
  const producer = createIntakeProducer(new Queue(QUEUES.intake, { connection: redis, prefix }), redis, prefix);

  const send = async (event: string, payload: unknown): Promise<Record<string, unknown>> => {
    const body = JSON.stringify(payload);
    const response = await fetch(`${ingest.url}/webhooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(SECRET, body), 'user-agent': 'GitHub-Hookshot/console-test' },
      body,
    });
    const json = (await response.json()) as Record<string, unknown>;
    if (response.status !== 202 && response.status !== 200) throw new Error(`ingest answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };
  let nextId = 5_000_000 + Math.floor(Math.random() * 1_000) * 1_000;
  /** A workflow_job delivery of the shop repository at the failing commit; a failure's log goes on the fake GitHub. */
  const job = (name: string, conclusion: 'failure' | 'success', step: string, log?: string[]) => {
    const payload = example('workflow_job', (e) => e.action === 'completed' && e.workflow_job.conclusion === conclusion);
    const id = nextId++;
    const steps = [{ name: step, status: 'completed', conclusion, number: 2 }];
    Object.assign(payload.workflow_job, { id, run_id: id + 1_000_000, run_attempt: 1, head_sha: repo.sha, head_branch: 'main', name, workflow_name: 'CI', steps });
    // As GitHub would send it now: a success resolves the failures received before it completed.
    Object.assign(payload.workflow_job, { started_at: new Date(Date.now() - 30_000).toISOString(), completed_at: new Date().toISOString() });
    payload.repository = { ...payload.repository, name: REPO, full_name: `${OWNER}/${REPO}`, owner: { ...payload.repository.owner, login: OWNER } };
    if (log) {
      const t = (s: number) => `2026-12-03T10:00:${String(s % 60).padStart(2, '0')}.1234567Z`;
      github.setRun(OWNER, REPO, id + 1_000_000, 1, [{ id, name, conclusion, steps: [{ name: step, conclusion, number: 2 }], log: log.map((line, i) => `${t(i + 1)} ${line}`).join('\n') }]);
    }
    return payload;
  };

  try {
    const ids = {
      lint: String((await send('workflow_job', job('lint', 'failure', 'Check formatting', LINT_LOG))).failureId),
      unit20: String((await send('workflow_job', job('unit (node 20)', 'failure', 'Run npm test', TEST_LOG))).failureId),
      unit22: String((await send('workflow_job', job('unit (node 22)', 'failure', 'Run npm test', TEST_LOG))).failureId),
      checkRun: String((await send('check_run', example('check_run', (e) => e.action === 'completed' && e.check_run.conclusion === 'failure'))).failureId),
    };
    const all = Object.values(ids);
    await until(
      'every failure triaged',
      () => tdb.db.selectFrom('failures').select(['id', 'status']).where('id', 'in', all).execute(),
      (rows) => rows.length === all.length && rows.every((r) => r.status === 'triaged' || r.status === 'failed'),
    );
    await until('the fix attempt ended', () => tdb.db.selectFrom('fix_attempts').select('status').where('failure_id', '=', ids.lint).execute(), (rows) => rows.length > 0 && rows.every((r) => r.status !== 'running'), 90_000);
    // CI goes green for one of the two test jobs, on the commit that failed.
    await send('workflow_job', job('unit (node 20)', 'success', 'Run npm test'));
    await until('the unit (node 20) failure resolved', () => tdb.db.selectFrom('failures').select('resolved_at').where('id', '=', ids.unit20).executeTakeFirst(), (row) => Boolean(row?.resolved_at));
    return {
      tdb,
      redis,
      prefix,
      triage,
      producer,
      github,
      llm,
      failures: ids,
      async close() {
        await worker.close();
        await ingest.close();
        await triage.close();
        await deleteKeysWithPrefix(redis, prefix);
        await redis.quit();
        await Promise.all([tdb.destroy(), github.stop(), llm.stop()]);
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await worker.close().catch(() => {});
    await ingest.close().catch(() => {});
    throw error;
  }
}
