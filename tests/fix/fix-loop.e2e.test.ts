import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intakeJobId, listExecutions, listFixAttempts, normalizeGithubEvent, QUEUES, type CiFailure, type FixAttemptRow, type IntakeJobData } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, createTestRepository, deleteKeysWithPrefix, testPrefix, type TestDatabase, type TestRepository } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { DEMO_FIX_FILES } from '../../apps/cli/src/demo-fix.ts';
import { rulesFixer } from '../../apps/worker/src/fix/fixer.ts';
import type { FixPolicy } from '../../apps/worker/src/fix/policy.ts';
import { createGithubApi } from '../../apps/worker/src/github/github-api.ts';
import { createGithubLogSource } from '../../apps/worker/src/github/log-source.ts';
import { resolveSinks } from '../../apps/worker/src/publish/publisher.ts';
import { createRunnerRegistry } from '../../apps/worker/src/runners/registry.ts';
import { DEFAULT_SANDBOX } from '../../apps/worker/src/sandbox/sandbox.ts';
import { createWorkers, type Workers } from '../../apps/worker/src/worker.ts';

// The fix loop end to end, every part real: a delivery through intake, triage, the fix job on a
// fresh checkout from a bare origin (real git), prettier (the npm package) as the failing check
// and its fix form in real bubblewrap, the guard, the verification, the push to the origin and a
// draft PR on the fake GitHub, and the check run updated with its link. Slow (a minute): it runs
// with the fault suite (`npm run test:faults`, or `npm run test:fix` alone).

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
/** pitcrew's own node_modules, bound read-only into the sandbox: the check's toolchain, as the job's `npm ci` would have installed it. */
const TOOLCHAIN = dirname(dirname(require.resolve('prettier/package.json')));
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const OWNER = 'octo-org';
const prefix = testPrefix();
const redis = createTestRedis();
let tdb: TestDatabase;
let github: FakeGithub;
let root: string;
let nextJobId = 90_000;
const running: Workers[] = [];


async function brokenRepository(repo: string): Promise<TestRepository> {
  // The demo's failing commit (`pitcrew start --demo`): prettier --check src fails on src/cart.ts.
  const r = await createTestRepository(root, { ...DEMO_FIX_FILES });
  github.setOrigin(OWNER, repo, r.origin);
  return r;
}

const policy = (overrides: Partial<FixPolicy>): FixPolicy => ({
  mode: 'propose',
  dryRun: false,
  dryRunDir: root,
  fixer: 'rules',
  repositories: [],
  branches: [],
  categories: ['lint', 'typecheck', 'test', 'build', 'dependency'],
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
});

function startWorkers(repo: TestRepository, fix: FixPolicy): Workers {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'app', appId: '12345', privateKey }, logger, retries: 0 });
  const workers = createWorkers({
    connection: redis,
    prefix,
    db: tdb.db,
    runners: createRunnerRegistry({ choice: 'rules' }),
    logger,
    concurrency: 2,
    attempts: 3,
    logs: createGithubLogSource(api),
    publish: { sinks: resolveSinks({ requested: ['check-run', 'pr-comment'], githubAuth: 'app', slackWebhookUrl: undefined, escalateAfter: 3 }, logger), github: api, attempts: 3, backoffMs: 50 },
    github: api,
    fix: {
      policy: fix,
      fixers: { rules: rulesFixer(), agent: null },
      sandbox: { ...DEFAULT_SANDBOX, readOnlyPaths: [TOOLCHAIN] },
      sandboxEnv: { PATH: `${TOOLCHAIN}/.bin:/usr/local/bin:/usr/bin:/bin` },
      cloneUrl: repo.url,
      workspaceRoot: root,
      agentEstimateUsd: 0,
      concurrency: 1,
    },
  });
  running.push(workers);
  return workers;
}

/** A failed `lint` job of `repo` at its failing SHA, through intake as ingest would send it. */
async function submit(repo: string, sha: string, pullRequests: number[] = []): Promise<string> {
  const jobId = nextJobId++;
  const runId = jobId + 1_000_000;
  const t = (s: number) => `2026-12-03T10:00:${String(s).padStart(2, '0')}.1234567Z`;
  const log = [
    `${t(1)} ##[group]Run prettier --check src`,
    `${t(1)} prettier --check src`,
    `${t(1)} shell: /usr/bin/bash -e {0}`,
    `${t(1)} ##[endgroup]`,
    `${t(2)} Checking formatting...`,
    `${t(2)} [warn] src/cart.ts`,
    `${t(2)} [warn] Code style issues found in the above file. Run Prettier with --write to fix.`,
    `${t(3)} ##[error]Process completed with exit code 1.`,
  ].join('\n');
  github.setRun(OWNER, repo, runId, 1, [{ id: jobId, name: 'lint', conclusion: 'failure', steps: [{ name: 'Check formatting', conclusion: 'failure', number: 3 }], log }]);
  if (pullRequests.length) github.setPullRequests(OWNER, repo, sha, pullRequests);
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: jobId, run_id: runId, run_attempt: 1, head_sha: sha, head_branch: 'main', name: 'lint', workflow_name: 'CI', steps: [{ name: 'Check formatting', status: 'completed', conclusion: 'failure', number: 3 }] });
  payload.repository.name = repo;
  payload.repository.owner.login = OWNER;
  payload.installation = { id: 7, node_id: 'x' };
  const failure = { ...(normalizeGithubEvent('workflow_job', payload) as CiFailure), pullRequests };
  const data: IntakeJobData = { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure, payload };
  const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  await intake.add('intake', data, { jobId: intakeJobId(data.deliveryId) });
  await intake.close();
  return failure.id;
}

async function attemptEnded(failureId: string, timeoutMs = 90_000): Promise<FixAttemptRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [attempt] = await listFixAttempts(tdb.db, failureId);
    if (attempt && attempt.status !== 'running') return attempt;
    if (Date.now() > deadline) throw new Error(`the fix attempt of ${failureId} did not end: ${JSON.stringify(attempt ?? null)}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  [tdb, github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
  root = await mkdtemp(join(tmpdir(), 'pitcrew-fix-e2e-'));
});

afterAll(async () => {
  for (const w of running) await w.close(5_000);
  await Promise.all([tdb?.destroy(), github?.stop(), deleteKeysWithPrefix(redis, prefix)]);
  await redis.quit();
  await rm(root, { recursive: true, force: true });
});

describe('the fix loop, end to end', () => {
  it('a formatter failure: fix → guard → verify → a pushed branch and a draft PR, linked from the check run and PR comment', async () => {
    const repo = await brokenRepository('shop');
    const workers = startWorkers(repo, policy({}));
    const id = await submit('shop', repo.sha, [4]);
    const attempt = await attemptEnded(id);
    expect(attempt).toMatchObject({ status: 'proposed', fixer: 'rules', files_changed: 1, verify_exit_code: 0, branch: `pitcrew/fix/${id}`, dry_run: false, guard_rule: null });
    expect(attempt.verify_command).toBe('prettier --check src');

    // The origin holds the fix on pitcrew's branch, on top of the failing commit, with its trailer.
    const branch = `pitcrew/fix/${id}`;
    expect(repo.originGit('rev-parse', `${branch}^`).trim()).toBe(repo.sha);
    const message = repo.originGit('log', '-1', '--format=%an <%ae>%n%B', branch);
    expect(message).toContain('pitcrew[bot] <pitcrew[bot]@users.noreply.github.com>');
    expect(message).toContain(`Pitcrew-Failure: ${id}`);
    expect(repo.originGit('show', `${branch}:src/cart.ts`)).toContain('export const total = (items: { price: number; qty: number }[]) =>');
    expect(repo.originGit('rev-parse', 'main').trim()).toBe(repo.sha);

    // One draft PR into the failing branch, saying what was verified.
    const prs = [...github.pulls.values()].filter((p) => p.repo === 'shop');
    expect(prs).toHaveLength(1);
    expect(prs[0]).toMatchObject({ draft: true, head: { ref: branch }, base: { ref: 'main' } });
    expect(prs[0]!.body).toContain('prettier --check src');
    const prUrl = `https://github.com/${OWNER}/shop/pull/${prs[0]!.number}`;
    expect(attempt).toMatchObject({ pr_url: prUrl, pr_number: prs[0]!.number });

    // Every stage left its execution row.
    const stages = (await listExecutions(tdb.db, id)).filter((e) => e.status === 'succeeded').map((e) => e.stage);
    expect(stages).toEqual(expect.arrayContaining(['classify', 'execute', 'summarize', 'fix', 'guard', 'verify', 'propose']));

    // The check run and the PR comment, updated in place, link the PR.
    const deadline = Date.now() + 20_000;
    const linked = () => [...github.checkRuns.values()].some((c) => c.head_sha === repo.sha && (c.output.text ?? '').includes(prUrl)) && [...github.comments.values()].some((c) => c.repo === 'shop' && c.body.includes(prUrl));
    while (!linked() && Date.now() < deadline) await sleep(100);
    expect(linked()).toBe(true);
    expect([...github.checkRuns.values()].filter((c) => c.head_sha === repo.sha)).toHaveLength(1);
    await workers.close(5_000);
  }, 150_000);

  it('a dry run writes the proposal and pushes nothing', async () => {
    const repo = await brokenRepository('dry');
    const dir = join(root, 'proposals');
    const workers = startWorkers(repo, policy({ dryRun: true, dryRunDir: dir }));
    const id = await submit('dry', repo.sha);
    const attempt = await attemptEnded(id);
    expect(attempt).toMatchObject({ status: 'proposed', dry_run: true, pr_url: null, verify_exit_code: 0 });
    const written = join(dir, '.pitcrew', 'proposals', id);
    expect(attempt.proposal_path).toBe(written);
    for (const file of ['fix.patch', 'pull-request.md', 'verification.json', 'proposal.json']) expect(existsSync(join(written, file))).toBe(true);
    expect(await readFile(join(written, 'fix.patch'), 'utf8')).toContain('+export const total = (items: { price: number; qty: number }[]) =>');
    expect(repo.originGit('branch', '--list', 'pitcrew/*').trim()).toBe('');
    expect([...github.pulls.values()].filter((p) => p.repo === 'dry')).toHaveLength(0);
    await workers.close(5_000);
  }, 150_000);
});
