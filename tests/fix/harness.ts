import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { intakeJobId, normalizeGithubEvent, QUEUES, type CiFailure, type IntakeJobData } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import type { FixPolicy } from '../../apps/worker/src/fix/policy.ts';
import { createGithubApi } from '../../apps/worker/src/github/github-api.ts';
import { createGithubLogSource } from '../../apps/worker/src/github/log-source.ts';
import { resolveSinks } from '../../apps/worker/src/publish/publisher.ts';
import { createRunnerRegistry } from '../../apps/worker/src/runners/registry.ts';
import type { FixDeps } from '../../apps/worker/src/stages/fix.ts';
import { createWorkers, type WorkerDeps, type Workers } from '../../apps/worker/src/worker.ts';

/**
 * Shared pieces of the fix loop's end-to-end files (tests/fix): a database clone, the fake GitHub,
 * a scratch root, workers in this process with a fix policy, and failed `workflow_job` deliveries
 * put on the intake queue as ingest would.
 */

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
export const OWNER = 'octo-org';
export const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** A fix policy for tests: propose, not dry run, every category; `overrides` win. */
export function fixPolicy(dryRunDir: string, overrides: Partial<FixPolicy> = {}): FixPolicy {
  return {
    mode: 'propose',
    dryRun: false,
    dryRunDir,
    fixer: 'rules',
    repositories: [],
    branches: [],
    categories: ['lint', 'typecheck', 'test', 'build', 'dependency', 'unknown'],
    maxFiles: 10,
    maxLines: 200,
    usdPerFix: 1,
    timeoutMs: 60_000,
    commitLabel: 'pitcrew:fix',
    author: { name: 'pitcrew[bot]', email: 'pitcrew[bot]@users.noreply.github.com' },
    maxIterations: 3,
    loopUsd: 3,
    breaker: { threshold: 3, cooldownMs: 3_600_000 },
    escalationLabel: 'pitcrew:escalated',
    ...overrides,
  };
}

/** A failed job to submit: where, and its log's lines (without timestamps). */
export interface JobFailure {
  repo: string;
  sha: string;
  branch: string;
  job: string;
  step: string;
  log: string[];
  pullRequests?: number[];
}

/** The suite of one file; registers its `beforeAll`/`afterAll`. */
export function useFixSuite(label: string) {
  const prefix = testPrefix();
  const redis = createTestRedis();
  const running: Workers[] = [];
  let nextJobId = 90_000 + Math.floor(Math.random() * 1_000) * 1_000;
  const state: { tdb?: TestDatabase; github?: FakeGithub; root?: string } = {};
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`useFixSuite: ${name} is set in beforeAll`);
    return value;
  };
  beforeAll(async () => {
    [state.tdb, state.github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
    state.root = await mkdtemp(join(tmpdir(), `pitcrew-${label}-`));
  });
  afterAll(async () => {
    for (const w of running) await w.close(5_000);
    await Promise.all([state.tdb?.destroy(), state.github?.stop(), deleteKeysWithPrefix(redis, prefix)]);
    await redis.quit();
    if (state.root) await rm(state.root, { recursive: true, force: true });
  });
  return {
    redis,
    prefix,
    get tdb() {
      return ready(state.tdb, 'tdb');
    },
    get github() {
      return ready(state.github, 'github');
    },
    get root() {
      return ready(state.root, 'root');
    },
    /** Workers of this process (rules triage unless `extra.runners`), publishing to the check run and PR comment, with `fix`. */
    startWorkers(fix: Omit<FixDeps, 'workspaceRoot' | 'agentEstimateUsd'> & Partial<Pick<FixDeps, 'agentEstimateUsd'>>, extra: Partial<WorkerDeps> = {}): Workers {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
      const api = createGithubApi({ baseUrl: this.github.url, auth: { kind: 'app', appId: '12345', privateKey }, logger, retries: 0 });
      const workers = createWorkers({
        connection: redis,
        prefix,
        db: this.tdb.db,
        runners: createRunnerRegistry({ choice: 'rules' }),
        logger,
        concurrency: 2,
        attempts: 3,
        logs: createGithubLogSource(api),
        publish: { sinks: resolveSinks({ requested: ['check-run', 'pr-comment'], githubAuth: 'app', slackWebhookUrl: undefined, escalateAfter: 3 }, logger), github: api, attempts: 3, backoffMs: 50 },
        github: api,
        fix: { agentEstimateUsd: 0, ...fix, workspaceRoot: this.root, concurrency: 1 },
        ...extra,
      });
      running.push(workers);
      return workers;
    },
    /** Puts a failed `workflow_job` on the intake queue, its log on the fake GitHub. @returns the failure id */
    async submit(f: JobFailure): Promise<string> {
      const jobId = nextJobId++;
      const runId = jobId + 1_000_000;
      const t = (s: number) => `2026-12-03T10:00:${String(s).padStart(2, '0')}.1234567Z`;
      const log = f.log.map((line, i) => `${t(i + 1)} ${line}`).join('\n');
      this.github.setRun(OWNER, f.repo, runId, 1, [{ id: jobId, name: f.job, conclusion: 'failure', steps: [{ name: f.step, conclusion: 'failure', number: 2 }], log }]);
      if (f.pullRequests?.length) this.github.setPullRequests(OWNER, f.repo, f.sha, f.pullRequests);
      const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
      Object.assign(payload.workflow_job, { id: jobId, run_id: runId, run_attempt: 1, head_sha: f.sha, head_branch: f.branch, name: f.job, workflow_name: 'CI', steps: [{ name: f.step, status: 'completed', conclusion: 'failure', number: 2 }] });
      payload.repository.name = f.repo;
      payload.repository.owner.login = OWNER;
      payload.installation = { id: 7, node_id: 'x' };
      const failure = { ...(normalizeGithubEvent('workflow_job', payload) as CiFailure), pullRequests: f.pullRequests ?? [] };
      const data: IntakeJobData = { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure, payload };
      const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
      await intake.add('intake', data, { jobId: intakeJobId(data.deliveryId) });
      await intake.close();
      return failure.id;
    },
  };
}
