import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { listExecutions, listFixAttempts, type FixAttemptRow } from '@pitcrew/core';
import { createTestRepository, type TestRepository } from '@pitcrew/testkit';
import { DEMO_FIX_FILES } from '../../apps/cli/src/demo-fix.ts';
import { rulesFixer } from '../../apps/worker/src/fix/fixer.ts';
import type { FixPolicy } from '../../apps/worker/src/fix/policy.ts';
import { DEFAULT_SANDBOX } from '../../apps/worker/src/sandbox/sandbox.ts';
import type { Workers } from '../../apps/worker/src/worker.ts';
import { fixPolicy, OWNER, useFixSuite } from './harness.ts';

// The fix loop end to end, every part real: a delivery through intake, triage, the fix job on a
// fresh checkout from a bare origin (real git), prettier (the npm package) as the failing check
// and its fix form in real bubblewrap, the guard, the verification, the push to the origin and a
// draft PR on the fake GitHub, and the check run updated with its link. Slow (a minute): it runs
// with the fault suite (`npm run test:faults`, or `npm run test:fix` alone).

const require = createRequire(import.meta.url);
/** pitcrew's own node_modules, bound read-only into the sandbox: the check's toolchain, as the job's `npm ci` would have installed it. */
const TOOLCHAIN = dirname(dirname(require.resolve('prettier/package.json')));
const suite = useFixSuite('fix-e2e');

async function brokenRepository(repo: string): Promise<TestRepository> {
  // The demo's failing commit (`pitcrew start --demo`): prettier --check src fails on src/cart.ts.
  const r = await createTestRepository(suite.root, { ...DEMO_FIX_FILES });
  suite.github.setOrigin(OWNER, repo, r.origin);
  return r;
}

const policy = (overrides: Partial<FixPolicy>): FixPolicy => fixPolicy(suite.root, overrides);

function startWorkers(repo: TestRepository, fix: FixPolicy): Workers {
  return suite.startWorkers({
    policy: fix,
    fixers: { rules: rulesFixer(), agent: null },
    sandbox: { ...DEFAULT_SANDBOX, readOnlyPaths: [TOOLCHAIN] },
    sandboxEnv: { PATH: `${TOOLCHAIN}/.bin:/usr/local/bin:/usr/bin:/bin` },
    cloneUrl: repo.url,
  });
}

/** A failed `lint` job of `repo` at its failing SHA, through intake as ingest would send it. */
function submit(repo: string, sha: string, pullRequests: number[] = []): Promise<string> {
  return suite.submit({
    repo,
    sha,
    branch: 'main',
    job: 'lint',
    step: 'Check formatting',
    pullRequests,
    log: [
      '##[group]Run prettier --check src',
      'prettier --check src',
      'shell: /usr/bin/bash -e {0}',
      '##[endgroup]',
      'Checking formatting...',
      '[warn] src/cart.ts',
      '[warn] Code style issues found in the above file. Run Prettier with --write to fix.',
      '##[error]Process completed with exit code 1.',
    ],
  });
}

async function attemptEnded(failureId: string, timeoutMs = 90_000): Promise<FixAttemptRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [attempt] = await listFixAttempts(suite.tdb.db, failureId);
    if (attempt && attempt.status !== 'running') return attempt;
    if (Date.now() > deadline) throw new Error(`the fix attempt of ${failureId} did not end: ${JSON.stringify(attempt ?? null)}`);
    await sleep(100);
  }
}

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
    const prs = [...suite.github.pulls.values()].filter((p) => p.repo === 'shop');
    expect(prs).toHaveLength(1);
    expect(prs[0]).toMatchObject({ draft: true, head: { ref: branch }, base: { ref: 'main' } });
    expect(prs[0]!.body).toContain('prettier --check src');
    const prUrl = `https://github.com/${OWNER}/shop/pull/${prs[0]!.number}`;
    expect(attempt).toMatchObject({ pr_url: prUrl, pr_number: prs[0]!.number });

    // Every stage left its execution row.
    const stages = (await listExecutions(suite.tdb.db, id)).filter((e) => e.status === 'succeeded').map((e) => e.stage);
    expect(stages).toEqual(expect.arrayContaining(['classify', 'execute', 'summarize', 'fix', 'guard', 'verify', 'propose']));

    // The check run and the PR comment, updated in place, link the PR.
    const deadline = Date.now() + 20_000;
    const linked = () => [...suite.github.checkRuns.values()].some((c) => c.head_sha === repo.sha && (c.output.text ?? '').includes(prUrl)) && [...suite.github.comments.values()].some((c) => c.repo === 'shop' && c.body.includes(prUrl));
    while (!linked() && Date.now() < deadline) await sleep(100);
    expect(linked()).toBe(true);
    expect([...suite.github.checkRuns.values()].filter((c) => c.head_sha === repo.sha)).toHaveLength(1);
    await workers.close(5_000);
  }, 150_000);

  it('a dry run writes the proposal and pushes nothing', async () => {
    const repo = await brokenRepository('dry');
    const dir = join(suite.root, 'proposals');
    const workers = startWorkers(repo, policy({ dryRun: true, dryRunDir: dir }));
    const id = await submit('dry', repo.sha);
    const attempt = await attemptEnded(id);
    expect(attempt).toMatchObject({ status: 'proposed', dry_run: true, pr_url: null, verify_exit_code: 0 });
    const written = join(dir, '.pitcrew', 'proposals', id);
    expect(attempt.proposal_path).toBe(written);
    for (const file of ['fix.patch', 'pull-request.md', 'verification.json', 'proposal.json']) expect(existsSync(join(written, file))).toBe(true);
    expect(await readFile(join(written, 'fix.patch'), 'utf8')).toContain('+export const total = (items: { price: number; qty: number }[]) =>');
    expect(repo.originGit('branch', '--list', 'pitcrew/*').trim()).toBe('');
    expect([...suite.github.pulls.values()].filter((p) => p.repo === 'dry')).toHaveLength(0);
    await workers.close(5_000);
  }, 150_000);
});
