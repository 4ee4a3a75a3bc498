import { createRequire } from 'node:module';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFailure, intakeJobId, listPublications, normalizeGithubEvent, QUEUES, type CiFailure, type FailureRow, type IntakeJobData } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { createGithubApi } from '../github/github-api.ts';
import { createGithubLogSource } from '../github/log-source.ts';
import { resolveSinks } from '../publish/publisher.ts';
import { createRepoConfigSource } from '../repo-config/repo-config.ts';
import { createRunnerRegistry } from '../runners/registry.ts';
import { createWorkers, type Workers } from '../worker.ts';
import { rerunDecision, type RerunPolicy } from './rerun.ts';

// Re-runs of transient failures against real Redis, Postgres and the fake GitHub: first attempt
// only, at most N per run and M per repository per hour, never for a run that also failed for a
// non-transient reason, off for repositories not opted in; the check run says "re-run 1/1: …".
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
const OWNER = 'octo-org';
const prefix = testPrefix();
const redis = createTestRedis();
const POLICY: RerunPolicy = { repositories: ['octo-org/rerun-*'], maxPerRun: 1, maxPerRepoPerHour: 2, signatures: [/known-flaky-socket/] };
let tdb: TestDatabase;
let github: FakeGithub;
let workers: Workers;
let intake: Queue;
let nextJobId = 150_000;

const LOGS = {
  infrastructure: ['Run ./ci.sh', 'Error: ENOSPC: no space left on device, write', '##[error]Process completed with exit code 1.'],
  test: ['Run ./ci.sh', ' FAIL  src/cart.test.ts > cart > adds', 'AssertionError: expected 90 to be 81', '##[error]Process completed with exit code 1.'],
  allowed: ['Run ./ci.sh', 'Error: known-flaky-socket hung up', '##[error]Process completed with exit code 1.'],
};

/** One failed job of `repo` through intake; `runId` groups jobs of one run. */
async function submit(repo: string, log: keyof typeof LOGS, options: { runId?: number; attempt?: number; name?: string } = {}): Promise<CiFailure> {
  const jobId = nextJobId++;
  const runId = options.runId ?? jobId + 1_000_000;
  const attempt = options.attempt ?? 1;
  const name = options.name ?? `job-${jobId}`;
  github.setRun(OWNER, repo, runId, attempt, [{ id: jobId, name, conclusion: 'failure', steps: [{ name: 'Run ./ci.sh', conclusion: 'failure', number: 1 }], log: LOGS[log].map((l) => `2024-06-01T10:00:01.1234567Z ${l}`).join('\n') }]);
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: jobId, run_id: runId, run_attempt: attempt, head_sha: jobId.toString(16).padStart(40, 'c'), name, head_branch: 'main', steps: [{ name: 'Run ./ci.sh', status: 'completed', conclusion: 'failure', number: 1 }] });
  Object.assign(payload.repository, { name: repo, owner: { login: OWNER } });
  payload.installation = { id: 7 };
  const failure = normalizeGithubEvent('workflow_job', payload) as CiFailure;
  const data: IntakeJobData = { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure, payload };
  await intake.add('intake', data, { jobId: intakeJobId(data.deliveryId) });
  return failure;
}

/** Waits until the failure's check run publication settled (re-runs are decided before publishing). */
async function published(failureId: string): Promise<FailureRow> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await listPublications(tdb.db, failureId);
    if (rows.length === 1 && rows[0]!.status !== 'pending') return (await findFailure(tdb.db, failureId))!;
    if (Date.now() > deadline) throw new Error(`publication of ${failureId} not settled`);
    await sleep(25);
  }
}

const rerunsOf = (repo: string) => github.reruns.filter((r) => r.repo === repo);

beforeAll(async () => {
  [tdb, github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'app', appId: '12345', privateKey }, logger, retries: 0 });
  workers = createWorkers({
    connection: redis,
    prefix,
    db: tdb.db,
    runners: createRunnerRegistry({ choice: 'rules' }),
    logger,
    concurrency: 4,
    attempts: 3,
    logs: createGithubLogSource(api),
    github: api,
    publish: { sinks: resolveSinks({ requested: ['check-run'], githubAuth: 'app', slackWebhookUrl: undefined, escalateAfter: 3 }, logger), github: api, attempts: 3, backoffMs: 50 },
    rerun: POLICY,
    repoConfig: createRepoConfigSource({ redis, prefix, github: api, ttlSeconds: 0, logger, org: { sinks: ['check-run'], reruns: true, fix: { mode: 'off', categories: [], branches: [] } } }),
  });
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
});

afterAll(async () => {
  await workers?.close(5_000);
  await intake?.close();
  await Promise.all([tdb.destroy(), github.stop(), deleteKeysWithPrefix(redis, prefix)]);
  await redis.quit();
});

describe('re-runs of transient failures', () => {
  it('re-runs an infrastructure failure of an opted-in repository through the job re-run API, and says so in one line', async () => {
    const failure = await submit('rerun-a', 'infrastructure');
    const row = await published(failure.id);
    expect(row.category).toBe('infrastructure');
    expect(rerunsOf('rerun-a')).toEqual([{ owner: OWNER, repo: 'rerun-a', scope: 'job', id: failure.jobId }]);
    expect(row.rerun).toMatchObject({ n: 1, max: 1, reason: 'infrastructure failure', scope: 'job' });
    const check = [...github.checkRuns.values()].find((c) => c.external_id === failure.id)!;
    expect(check.output.summary).toContain('re-run 1/1: infrastructure failure');
  });

  it('re-runs at most N per run', async () => {
    const runId = 9_100_001;
    const first = await published((await submit('rerun-run', 'infrastructure', { runId })).id);
    const second = await published((await submit('rerun-run', 'infrastructure', { runId })).id);
    expect(rerunsOf('rerun-run')).toHaveLength(1);
    expect([first.rerun, second.rerun].filter(Boolean)).toHaveLength(1);
  });

  it('re-runs at most M per repository per hour', async () => {
    for (let i = 0; i < 3; i++) await published((await submit('rerun-hour', 'infrastructure')).id);
    expect(rerunsOf('rerun-hour')).toHaveLength(2);
  });

  it("re-runs only a run's first attempt", async () => {
    const row = await published((await submit('rerun-attempt', 'infrastructure', { attempt: 2 })).id);
    expect(row.rerun).toBeNull();
    expect(rerunsOf('rerun-attempt')).toEqual([]);
  });

  it('refuses a run that also failed for a non-transient reason', async () => {
    const runId = 9_100_002;
    const broken = await published((await submit('rerun-mixed', 'test', { runId })).id);
    expect(broken.category).toBe('test');
    expect(broken.rerun).toBeNull();
    const transient = await published((await submit('rerun-mixed', 'infrastructure', { runId })).id);
    expect(transient.category).toBe('infrastructure');
    expect(transient.rerun).toBeNull();
    expect(rerunsOf('rerun-mixed')).toEqual([]);
  });

  it("re-runs what matches the operator's allow-list, and nothing in repositories not opted in", async () => {
    const allowed = await published((await submit('rerun-allow', 'allowed')).id);
    expect(allowed.rerun?.reason).toBe('matches allow-list /known-flaky-socket/');
    const off = await published((await submit('other-repo', 'infrastructure')).id);
    expect(off.rerun).toBeNull();
    expect(rerunsOf('other-repo')).toEqual([]);
  });
});

describe('re-runs and .github/pitcrew.yml', () => {
  it('are not requested for a repository whose file says reruns: false, though the organisation opted it in', async () => {
    github.setFile(OWNER, 'rerun-narrowed', '.github/pitcrew.yml', 'reruns: false\n');
    const row = await published((await submit('rerun-narrowed', 'infrastructure')).id);
    expect(row.category).toBe('infrastructure');
    expect(row.rerun).toBeNull();
    expect(rerunsOf('rerun-narrowed')).toEqual([]);
  });
});

describe('rerunDecision', () => {
  const failure = { owner: OWNER, repo: 'rerun-x', branch: 'main', kind: 'job' as const, runId: 1, runAttempt: 1, jobId: 2, installationId: null };
  const candidate = { failure, category: 'test', flaky: false, flakyHistory: null, excerpt: null, signature: null };
  it('is off by default, and takes flaky evidence as transient', () => {
    expect(rerunDecision({ ...POLICY, repositories: [] }, { ...candidate, category: 'timeout' }).rerun).toBe(false);
    expect(rerunDecision(POLICY, { ...candidate, category: 'timeout' })).toEqual({ rerun: true, reason: 'timeout failure' });
    expect(rerunDecision(POLICY, { ...candidate, flaky: true }).rerun).toBe(true);
    expect(rerunDecision(POLICY, { ...candidate, flakyHistory: { score: 0.5, occurrences: 3, test: 'TestX' } })).toEqual({ rerun: true, reason: 'flaky test TestX (score 0.5, 3 occurrences)' });
    expect(rerunDecision(POLICY, candidate).rerun).toBe(false);
    expect(rerunDecision(POLICY, { ...candidate, category: 'timeout', repoAllows: false })).toEqual({ rerun: false, reason: "re-runs are off in octo-org/rerun-x's .github/pitcrew.yml" });
    expect(rerunDecision(POLICY, { ...candidate, category: 'timeout', failure: { ...failure, branch: 'pitcrew/fix/abc' } }).rerun).toBe(false);
  });
});
