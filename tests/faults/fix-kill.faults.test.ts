import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { intakeJobId, listFixAttempts, normalizeGithubEvent, QUEUES, type CiFailure, type IntakeJobData } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, createTestRepository, deleteKeysWithPrefix, testPrefix, type TestDatabase, type TestRepository } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { baseEnv, note, scratchDir, startWorkerProcess, stopAll, waitFor } from './harness.ts';

/**
 * A worker is SIGKILLed in the middle of a fix loop's second iteration, while its verify stage
 * runs in the sandbox. The next worker takes the stalled fix job over: the stages the dead one
 * finished are reused (the fix's diff goes onto a fresh checkout), verify runs again, and the
 * loop's one pull request gets the iteration's commit; no second PR, no second fix execution.
 */
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const AGENT = fileURLToPath(new URL('../../apps/worker/src/fix/fixtures/fix-agent.mjs', import.meta.url));
const OWNER = 'octo-org';
const REPO = 'killed-calc';
const prefix = testPrefix();
let tdb: TestDatabase;
let github: FakeGithub;
let repo: TestRepository;
let nextJobId = 7_700_000;

beforeAll(async () => {
  [tdb, github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
  repo = await createTestRepository(scratchDir('fix-kill'), {
    // The verification sleeps long enough to be killed in, then finds no `deno` (left to CI).
    '.github/workflows/ci.yml': ['name: CI', 'on: [push]', 'jobs:', '  unit:', '    runs-on: ubuntu-latest', '    steps:', '      - name: Run tests', '        run: sleep 6 && deno test', ''].join('\n'),
    'src/sum.js': 'export const sum = (a, b) => a - b;\n',
    'src/mul.js': 'export const mul = (a, b) => a + b;\n',
  });
  github.setOrigin(OWNER, REPO, repo.origin);
});

afterAll(async () => {
  await stopAll();
  await Promise.all([tdb?.destroy(), github?.stop()]);
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

function workerEnv(): Record<string, string> {
  return {
    ...baseEnv({ redisUrl: inject('redisUrl'), databaseUrl: tdb.url, prefix }),
    GITHUB_API_URL: github.url,
    GITHUB_TOKEN: 'ghs_faultsfaultsfaultsfaultsfaults0000',
    PITCREW_PUBLISH: 'none',
    PITCREW_FIX: 'propose',
    PITCREW_FIX_FIXER: 'agent',
    PITCREW_FIX_CATEGORIES: 'lint,typecheck,test,build,dependency,unknown',
    PITCREW_AGENT_COMMAND: `/usr/bin/node ${AGENT} --behaviour learner`,
    PITCREW_AGENT_ESTIMATE_USD: '0.1',
    PITCREW_SANDBOX_RO_PATHS: dirname(AGENT),
    PITCREW_FIX_CLONE_URL: repo.url,
    PITCREW_WORKSPACE_ROOT: scratchDir('fix-kill-work'),
    // Short locks so the test sees recovery in seconds (production default: 30 s / 15 s).
    PITCREW_LOCK_DURATION_MS: '3000',
    PITCREW_STALLED_INTERVAL_MS: '1000',
    PITCREW_MAX_STALLED_COUNT: '2',
  };
}

/** A failed `unit` job at `sha` on `branch`, its log naming `fn`, straight onto the intake queue. */
async function submit(sha: string, branch: string, fn: string): Promise<string> {
  const jobId = nextJobId++;
  const log = ['##[group]Run sleep 6 && deno test', 'sleep 6 && deno test', '##[endgroup]', `FAIL ${fn}: expected 1 to be 5`, '##[error]Process completed with exit code 1.'].join('\n');
  github.setRun(OWNER, REPO, jobId + 1, 1, [{ id: jobId, name: 'unit', conclusion: 'failure', steps: [{ name: 'Run tests', conclusion: 'failure', number: 1 }], log }]);
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: jobId, run_id: jobId + 1, run_attempt: 1, head_sha: sha, head_branch: branch, name: 'unit', workflow_name: 'CI', steps: [{ name: 'Run tests', status: 'completed', conclusion: 'failure', number: 1 }] });
  payload.repository.name = REPO;
  payload.repository.owner.login = OWNER;
  const failure = normalizeGithubEvent('workflow_job', payload) as CiFailure;
  const data: IntakeJobData = { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure, payload };
  const redis = createTestRedis();
  const intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  await intake.add('intake', data, { jobId: intakeJobId(data.deliveryId) });
  await intake.close();
  await redis.quit();
  return failure.id;
}

describe('worker SIGKILL in the middle of a fix iteration', () => {
  it('the loop resumes at the stage it was in on another worker and opens no second PR', async () => {
    const env = workerEnv();
    const a = await startWorkerProcess('worker-a', env);
    const loop = await submit(repo.sha, 'main', 'sum');
    const first = await waitFor('iteration 1 proposed', 90_000, async () => (await listFixAttempts(tdb.db, loop)).find((f) => f.iteration === 1 && f.status === 'proposed'));
    const ci = await submit(first.commit_sha!, `pitcrew/fix/${loop}`, 'mul');
    await waitFor('iteration 2 verifying', 90_000, async () =>
      (await tdb.db.selectFrom('executions').select('status').where('failure_id', '=', ci).where('stage', '=', 'verify').where('status', '=', 'running').executeTakeFirst()) ?? false,
    );
    a.child.kill('SIGKILL');
    expect(await a.exited).toBe('SIGKILL');
    const killedAt = Date.now();
    await startWorkerProcess('worker-b', env);
    const second = await waitFor('iteration 2 proposed', 120_000, async () => (await listFixAttempts(tdb.db, loop)).find((f) => f.iteration === 2 && f.status !== 'running'));
    note(`fix loop: iteration 2 finished by another worker ${Date.now() - killedAt} ms after the kill (lock 3 s, stalled check 1 s)`);
    expect(second).toMatchObject({ status: 'proposed', ci_failure_id: ci, head_sha: first.commit_sha });

    // The fix stage ran once (reused after the kill); verify ran again; propose once.
    const executions = await tdb.db.selectFrom('executions').select(['stage', 'attempt', 'status']).where('failure_id', '=', ci).orderBy('id').execute();
    expect(executions.filter((e) => e.stage === 'fix')).toEqual([{ stage: 'fix', attempt: 1, status: 'succeeded' }]);
    expect(executions.filter((e) => e.stage === 'verify' && e.status === 'succeeded')).toHaveLength(1);
    expect(executions.filter((e) => e.stage === 'propose' && e.status === 'succeeded')).toHaveLength(1);
    // One PR for the loop; the branch holds iteration 2 on top of iteration 1.
    expect([...github.pulls.values()].filter((p) => p.repo === REPO)).toHaveLength(1);
    const head = repo.originGit('rev-parse', `pitcrew/fix/${loop}`).trim();
    expect(head).toBe(second.commit_sha);
    expect(repo.originGit('rev-parse', `${head}^`).trim()).toBe(first.commit_sha);
    expect(repo.originGit('show', `${head}:src/mul.js`)).toContain('a * b');
  }, 240_000);
});
