import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { findFailure, findLoop, jobArgs, JOBS, listFixAttempts, type FixEventJobData, type FixLoopRow } from '@pitcrew/core';
import { createLlmClient, createPriceBook } from '@pitcrew/llm';
import { createTestRepository, type TestRepository } from '@pitcrew/testkit';
import { startFakeTensorZero } from '@pitcrew/testkit/fake-tensorzero';
import { createTensorZeroFeedback } from '../../apps/worker/src/fix/feedback.ts';
import { agentFixer, rulesFixer } from '../../apps/worker/src/fix/fixer.ts';
import type { FixPolicy } from '../../apps/worker/src/fix/policy.ts';
import { createLlmRunner } from '../../apps/worker/src/runners/llm-runner.ts';
import { createRunnerRegistry } from '../../apps/worker/src/runners/registry.ts';
import { DEFAULT_SANDBOX } from '../../apps/worker/src/sandbox/sandbox.ts';
import type { WorkerDeps, Workers } from '../../apps/worker/src/worker.ts';
import { fixPolicy, logger, OWNER, useFixSuite } from './harness.ts';

// Fix loop part 2 end to end, every part real (git, bubblewrap, the fake GitHub): a proposal, CI
// failing on the fix branch, the next iteration working from CI's new excerpt (a scripted agent
// that learns from the CI output it is given), the caps, the escalation, the breaker. Slow: it
// runs with the fault suite (`npm run test:faults`, or `npm run test:fix`).

const AGENT = fileURLToPath(new URL('../../apps/worker/src/fix/fixtures/fix-agent.mjs', import.meta.url));
const suite = useFixSuite('fix-loop');
const { redis, prefix } = suite;

/** Three broken functions; the unit job runs `deno test` (not installed here: verification is left to CI, which the test plays). */
const FILES = {
  '.github/workflows/ci.yml': ['name: CI', 'on: [push]', 'jobs:', '  unit:', '    runs-on: ubuntu-latest', '    steps:', '      - uses: actions/checkout@v4', '      - name: Run tests', '        run: deno test', ''].join('\n'),
  'src/sum.js': 'export const sum = (a, b) => a - b;\n',
  'src/mul.js': 'export const mul = (a, b) => a + b;\n',
  'src/div.js': 'export const div = (a, b) => a * b;\n',
};

const policy = (overrides: Partial<FixPolicy> = {}): FixPolicy => fixPolicy(suite.root, { fixer: 'agent', ...overrides });

function startWorkers(cloneUrl: string, fix: FixPolicy, extra: Partial<WorkerDeps> = {}): Workers {
  return suite.startWorkers(
    {
      policy: fix,
      fixers: { rules: rulesFixer(), agent: agentFixer({ command: `/usr/bin/node ${AGENT} --behaviour learner`, timeoutMs: 30_000, estimateUsd: 0.1 }) },
      sandbox: { ...DEFAULT_SANDBOX, readOnlyPaths: [dirname(AGENT)] },
      cloneUrl,
      agentEstimateUsd: 0.1,
    },
    extra,
  );
}

/** A failed `unit` job at `sha` on `branch` whose log says `FAIL <fn>: expected …`, through intake. */
function submit(repo: string, sha: string, branch: string, fn: string): Promise<string> {
  const log = ['##[group]Run deno test', 'deno test', '##[endgroup]', 'running 3 tests', `FAIL ${fn}: expected 1 to be 5`, 'test result: FAILED. 2 passed; 1 failed', '##[error]Process completed with exit code 1.'];
  return suite.submit({ repo, sha, branch, job: 'unit', step: 'Run tests', log });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Waits for iteration `n` of `loop` to end, and returns it. */
const iterationEnded = (loop: string, n: number) =>
  until(`iteration ${n} of ${loop}`, async () => (await listFixAttempts(suite.tdb.db, loop)).find((a) => a.iteration === n && a.status !== 'running'));

const loopWhere = (loop: string, test: (l: FixLoopRow) => boolean) => until(`loop ${loop}`, async () => {
  const l = await findLoop(suite.tdb.db, loop);
  return l && test(l) ? l : undefined;
});

async function repository(name: string): Promise<TestRepository> {
  const repo = await createTestRepository(suite.root, FILES);
  suite.github.setOrigin(OWNER, name, repo.origin);
  return repo;
}

/** A fix event as ingest enqueues it (a CI success on the fix branch, or its PR closed). */
async function fixEvent(event: Record<string, unknown>): Promise<void> {
  const data = { v: 1, deliveryId: randomUUID(), receivedAt: new Date().toISOString(), owner: OWNER, installationId: 7, ...event } as FixEventJobData;
  const queue = new Queue(JOBS.fixEvents.queue, { connection: redis, prefix });
  await queue.add(...jobArgs(JOBS.fixEvents, data));
  await queue.close();
}

describe('the fix loop iterates on CI', () => {
  it('CI passing on iteration 2 verifies the loop and undrafts its PR; the PR merged is its outcome, sent to TensorZero as feedback on the loop’s inferences', async () => {
    const tz = await startFakeTensorZero();
    try {
      const repo = await repository('ledger');
      const client = createLlmClient({ baseURL: tz.url, model: 'tensorzero::function_name::pitcrew_triage', maxRetries: 0, maxTokens: 512, prices: createPriceBook({ freeModels: ['tensorzero::*'] }) });
      const feedback = createTensorZeroFeedback({ url: tz.gatewayUrl, metrics: { merged: 'pitcrew_fix_merged', iterations: 'pitcrew_fix_iterations' }, logger });
      const workers = startWorkers(repo.url, policy(), {
        runners: createRunnerRegistry({ choice: 'llm', llm: createLlmRunner(client, { maxTokens: 512 }), llmClient: client }),
        onLoopOutcome: async (loop) => {
          if (loop.outcome) await feedback.loopEnded(suite.tdb.db, loop);
        },
      });
      const loop = await submit('ledger', repo.sha, 'main', 'sum');
      const first = await iterationEnded(loop, 1);
      await submit('ledger', first.commit_sha!, `pitcrew/fix/${loop}`, 'mul');
      const second = await iterationEnded(loop, 2);
      expect(second.status).toBe('proposed');

      await fixEvent({ kind: 'ci-success', repo: 'ledger', branch: `pitcrew/fix/${loop}`, headSha: second.commit_sha, event: 'workflow_job', scope: 'job', jobName: 'unit', checkName: null, workflowName: 'CI' });
      const verified = await loopWhere(loop, (l) => l.status === 'verified_by_ci');
      expect(verified).toMatchObject({ iterations: 2, verified_by_ci: true, outcome: null });
      const pr = [...suite.github.pulls.values()].find((p) => p.repo === 'ledger')!;
      await until('the PR out of draft', async () => (pr.draft === false ? true : undefined));

      await fixEvent({ kind: 'pull-request', repo: 'ledger', branch: `pitcrew/fix/${loop}`, headSha: second.commit_sha, action: 'closed', prNumber: pr.number, merged: true, mergedBy: 'octocat', closedAt: new Date().toISOString() });
      const merged = await loopWhere(loop, (l) => l.status === 'merged');
      expect(merged).toMatchObject({ outcome: 'merged', merged_by: 'octocat', iterations: 2 });
      // The loop's model calls (execute of both failures, on one episode) get the outcome.
      const sent = await until('feedback', async () => (tz.feedback.length >= 2 ? tz.feedback : undefined));
      expect(sent.map((f) => [f.metric_name, f.value]).sort()).toEqual([['pitcrew_fix_iterations', 2], ['pitcrew_fix_merged', true]]);
      expect(new Set(sent.map((f) => f.episode_id)).size).toBe(1);
      await workers.close(5_000);
    } finally {
      await tz.stop();
    }
  }, 180_000);

  it("CI failing on the fix branch starts iteration 2 from CI's new excerpt, on top of the first fix, in the same PR; nothing of its own is published", async () => {
    const repo = await repository('calc');
    const workers = startWorkers(repo.url, policy());
    const loop = await submit('calc', repo.sha, 'main', 'sum');
    const first = await iterationEnded(loop, 1);
    expect(first).toMatchObject({ status: 'proposed', fixer: 'agent', head_sha: repo.sha, branch: `pitcrew/fix/${loop}`, verify_exit_code: 127 });
    expect(first.commit_sha).toBe(repo.originGit('rev-parse', `pitcrew/fix/${loop}`).trim());

    const checkRunsBefore = suite.github.checkRuns.size;
    const ci = await submit('calc', first.commit_sha!, `pitcrew/fix/${loop}`, 'mul');
    const second = await iterationEnded(loop, 2);
    expect(second).toMatchObject({ status: 'proposed', ci_failure_id: ci, head_sha: first.commit_sha, branch: `pitcrew/fix/${loop}` });
    expect((await listFixAttempts(suite.tdb.db, loop))[0]).toMatchObject({ ci_verdict: 'failed' });
    // On top of the first fix, with what CI said fixed too.
    const head = repo.originGit('rev-parse', `pitcrew/fix/${loop}`).trim();
    expect(head).toBe(second.commit_sha);
    expect(repo.originGit('rev-parse', `${head}^`).trim()).toBe(first.commit_sha);
    expect(repo.originGit('show', `${head}:src/sum.js`)).toContain('a + b');
    expect(repo.originGit('show', `${head}:src/mul.js`)).toContain('a * b');
    // One PR for the loop; the CI failure got no check run and no incident of its own.
    expect([...suite.github.pulls.values()].filter((p) => p.repo === 'calc')).toHaveLength(1);
    expect([...suite.github.checkRuns.values()].some((c) => c.head_sha === first.commit_sha)).toBe(false);
    expect(suite.github.checkRuns.size).toBeLessThanOrEqual(checkRunsBefore);
    expect((await findFailure(suite.tdb.db, ci))?.incident_id ?? null).toBeNull();
    expect(await loopWhere(loop, (l) => l.iterations === 2)).toMatchObject({ status: 'open', iterations: 2 });
    await workers.close(5_000);
  }, 180_000);

  it('a loop whose CI keeps failing ends escalated after 3 iterations (PITCREW_FIX_MAX_ITERATIONS), with a label and a comment saying what was tried', async () => {
    const repo = await repository('stubborn');
    const workers = startWorkers(repo.url, policy());
    const loop = await submit('stubborn', repo.sha, 'main', 'sum');
    let last = await iterationEnded(loop, 1);
    for (const [n, fn] of [[2, 'mul'], [3, 'div']] as const) {
      await submit('stubborn', last.commit_sha!, `pitcrew/fix/${loop}`, fn);
      last = await iterationEnded(loop, n);
      expect(last.status).toBe('proposed');
    }
    await submit('stubborn', last.commit_sha!, `pitcrew/fix/${loop}`, 'sub');
    const ended = await loopWhere(loop, (l) => l.status === 'escalated');
    expect(ended).toMatchObject({ status: 'escalated', escalation: 'iterations', iterations: 3 });
    const pr = [...suite.github.pulls.values()].find((p) => p.repo === 'stubborn')!;
    await until('the escalation comment', async () => ([...suite.github.comments.values()].some((c) => c.repo === 'stubborn' && c.issue_number === pr.number && c.body.includes('pitcrew stopped fixing')) ? true : undefined));
    expect(pr.labels).toContain('pitcrew:escalated');
    const comment = [...suite.github.comments.values()].find((c) => c.repo === 'stubborn' && c.body.includes('pitcrew stopped fixing'))!;
    expect(comment.body).toContain('after 3 iterations');
    expect(comment.body).toContain('iteration 1 (agent)');
    expect(comment.body).toContain('iteration 3 (agent)');
    // The loop's own check run says it stopped (updated in place).
    await until('the check run to say so', async () => ([...suite.github.checkRuns.values()].some((c) => c.head_sha === repo.sha && (c.output.text ?? '').includes('pitcrew stopped after 3 iterations')) ? true : undefined));
    await workers.close(5_000);
  }, 180_000);

  it('a failure on a pitcrew branch outside a loop starts nothing', async () => {
    const repo = await repository('stray');
    const workers = startWorkers(repo.url, policy());
    const stray = await submit('stray', repo.sha, 'pitcrew/fix/gh-job-1', 'sum');
    await until('its triage', async () => ((await findFailure(suite.tdb.db, stray))?.status === 'triaged' ? true : undefined));
    await sleep(1_000);
    expect(await listFixAttempts(suite.tdb.db, 'gh-job-1')).toEqual([]);
    expect(await listFixAttempts(suite.tdb.db, stray)).toEqual([]);
    expect([...suite.github.pulls.values()].filter((p) => p.repo === 'stray')).toHaveLength(0);
    await workers.close(5_000);
  }, 60_000);

  it("the repository's breaker opens after 3 exhausted loops in a row and closes after its cool-down", async () => {
    const cooldownMs = 4_000;
    const names = ['b1', 'b2', 'b3', 'b4'];
    const repos = new Map<string, TestRepository>();
    // One repository on GitHub's side per branch would be four repositories; the breaker is per
    // repository, so the four loops are four branches of one.
    const repo = await repository('flaky-shop');
    for (const name of names) {
      repo.git('checkout', '--quiet', '-b', name, 'main');
      repo.git('commit', '--quiet', '--allow-empty', '-m', `on ${name}`);
      repo.git('push', '--quiet', 'origin', name);
      repos.set(name, repo);
    }
    const shaOf = (b: string) => repo.git('rev-parse', b).trim();
    const workers = startWorkers(repo.url, policy({ maxIterations: 1, breaker: { threshold: 3, cooldownMs } }));
    for (const name of names.slice(0, 3)) {
      const loop = await submit('flaky-shop', shaOf(name), name, 'sum');
      const first = await iterationEnded(loop, 1);
      await submit('flaky-shop', first.commit_sha!, `pitcrew/fix/${loop}`, 'mul');
      await loopWhere(loop, (l) => l.status === 'escalated');
    }
    const blocked = await submit('flaky-shop', shaOf('b4'), 'b4', 'sum');
    await until('its triage', async () => ((await findFailure(suite.tdb.db, blocked))?.status === 'triaged' ? true : undefined));
    await sleep(1_000);
    expect(await listFixAttempts(suite.tdb.db, blocked)).toEqual([]);
    await sleep(cooldownMs);
    repo.git('checkout', '--quiet', 'b4');
    repo.git('commit', '--quiet', '--allow-empty', '-m', 'again');
    repo.git('push', '--quiet', 'origin', 'b4');
    const after = await submit('flaky-shop', shaOf('b4'), 'b4', 'sum');
    expect(await iterationEnded(after, 1)).toMatchObject({ status: 'proposed' });
    await workers.close(5_000);
  }, 240_000);
});
