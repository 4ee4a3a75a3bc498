import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CiFailure } from '@pitcrew/core';
import { createTestRepository, startGitHttpServer, type TestRepository } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { createGithubApi } from '../github/github-api.ts';
import type { Verification } from './pipeline.ts';
import { PushError, proposeFix, pullRequestBody, writeDryRunProposal, type ProposeOptions } from './propose.ts';
import { checkoutWorkspace, workspaceDiff } from './workspace.ts';

// Real git (a bare origin, fresh checkouts of the failing SHA), the fake GitHub over real HTTP
// reading refs and pull request heads from that origin, Octokit as pitcrew builds it.
const logger = pino({ level: 'silent' });
const OWNER = 'octo-org';
const TOKEN = 'ghs_' + 'PushT0kenNeverInConfig1234567890abcd';
/** A secret planted in a verification's output; it must never reach the pull request. */
const SECRET = 'ghp_' + 'Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8';
const AUTHOR = { name: 'pitcrew[bot]', email: 'pitcrew@example.com' };
const HOOKS = ['pre-commit', 'prepare-commit-msg', 'commit-msg', 'post-commit', 'pre-push', 'reference-transaction', 'post-checkout'];
let github: FakeGithub;
let octokit: ProposeOptions['octokit'];
let root: string;
let marker: string;
let n = 0;

const verification: Verification = { result: 'passed', command: 'npm test', exitCode: 0, ms: 1234, output: `ok 1 cart\nenv NPM_TOKEN=${SECRET}\nall passed`, timedOut: false };

function failureOf(repo: string, overrides: Partial<CiFailure> = {}): CiFailure {
  const jobId = 5000 + n;
  return {
    id: `gh-job-${jobId}`, provider: 'github', kind: 'job', event: 'workflow_job', owner: OWNER, repo, repoId: 1, branch: 'main', headSha: '0'.repeat(40),
    runId: 42, runAttempt: 1, jobId, checkSuiteId: null, workflowName: 'CI', jobName: 'unit', checkName: 'unit', appSlug: 'github-actions',
    htmlUrl: `https://github.com/${OWNER}/${repo}/actions/runs/42/job/${jobId}`, conclusion: 'failure', failedSteps: ['Run npm test'], outputText: null,
    pullRequests: [], installationId: 9, startedAt: null, completedAt: null, ...overrides,
  };
}

/** A repository on the fake GitHub whose failing commit has a bug, and a checkout of it with the fix applied and hooks planted. */
async function setup(options: { branch?: string } = {}): Promise<{ repo: TestRepository; name: string; failure: CiFailure; workspace: string }> {
  n++;
  const name = `propose-${n}`;
  const repo = await createTestRepository(root, { 'src/cart.ts': 'export const total = (a: number, b: number) => a - b;\n', 'README.md': 'cart\n' }, { branch: options.branch ?? 'main' });
  github.setOrigin(OWNER, name, repo.origin);
  const failure = failureOf(name, { headSha: repo.sha, branch: repo.branch });
  return { repo, name, failure, workspace: await fixedCheckout(repo, failure) };
}

async function fixedCheckout(repo: TestRepository, failure: CiFailure): Promise<string> {
  const { dir } = await checkoutWorkspace({ root, name: failure.id, url: repo.url, sha: repo.sha });
  await writeFile(join(dir, 'src/cart.ts'), 'export const total = (a: number, b: number) => a + b;\n');
  await writeFile(join(dir, 'src/cart.test.ts'), "import { total } from './cart';\n");
  // Hooks the repository (or a fixer) may have planted: in .git/hooks and behind core.hooksPath.
  const hooks = await mkdtemp(join(root, 'hooks-'));
  for (const hook of HOOKS) {
    for (const path of [join(dir, '.git', 'hooks', hook), join(hooks, hook)]) {
      await writeFile(path, `#!/bin/sh\necho "${hook}" >> "${marker}"\n`);
      await chmod(path, 0o755);
    }
  }
  execFileSync('git', ['-C', dir, 'config', 'core.hooksPath', hooks]);
  return dir;
}

function options(repo: TestRepository, workspace: string, failure: CiFailure, overrides: Partial<ProposeOptions> = {}): ProposeOptions {
  return { workspace, failure, mode: 'propose', octokit, pushUrl: repo.url, author: AUTHOR, title: 'Fix total in src/cart.ts', body: 'the body', commitLabel: 'pitcrew:commit', ...overrides };
}

const refsOf = (repo: TestRepository) => repo.originGit('for-each-ref', '--format=%(refname) %(objectname)');

beforeAll(async () => {
  github = await startFakeGithub();
  octokit = createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: TOKEN }, logger, retries: 0 }).forInstallation(null)!;
  root = await mkdtemp(join(tmpdir(), 'pitcrew-propose-'));
  marker = join(root, 'hooks-that-ran.txt');
});
afterAll(async () => {
  await github.stop();
  await rm(root, { recursive: true, force: true });
});

describe('proposeFix in propose mode', () => {
  it('pushes pitcrew/fix/<id> with the trailer, author and failing parent, opens a draft PR into the failing branch, and a retry opens none', async () => {
    const { repo, name, failure, workspace } = await setup();
    const result = await proposeFix(options(repo, workspace, failure));
    const branch = `pitcrew/fix/${failure.id}`;
    expect(result).toMatchObject({ kind: 'pull-request', branch, reused: false, prUrl: expect.stringContaining(`/${name}/pull/`) });
    if (result.kind !== 'pull-request') throw new Error('unreachable');

    const [sha, parent, author, committer, trailer] = repo.originGit('log', '-1', '--format=%H%n%P%n%an <%ae>%n%cn <%ce>%n%(trailers:key=Pitcrew-Failure,valueonly)', `refs/heads/${branch}`).split('\n');
    expect(sha).toBe(result.commitSha);
    expect(parent).toBe(repo.sha);
    expect(author).toBe('pitcrew[bot] <pitcrew@example.com>');
    expect(committer).toBe('pitcrew[bot] <pitcrew@example.com>');
    expect(trailer).toBe(failure.id);
    expect(repo.originGit('log', '-1', '--format=%s', branch).trim()).toBe('Fix total in src/cart.ts');
    // All of the change, the new file included.
    expect(repo.originGit('diff', '--name-only', repo.sha, branch).trim().split('\n')).toEqual(['src/cart.test.ts', 'src/cart.ts']);

    const { data: pr } = await octokit.pulls.get({ owner: OWNER, repo: name, pull_number: result.prNumber });
    expect(pr).toMatchObject({ draft: true, state: 'open', title: 'Fix total in src/cart.ts', body: 'the body', base: { ref: 'main' }, head: { ref: branch, sha: result.commitSha } });

    // A retried job, same workspace: no second commit, no second pull request.
    expect(await proposeFix(options(repo, workspace, failure))).toEqual({ ...result, reused: true });
    // A retried job on another host: a fresh checkout with the same fix, the branch is not pushed again.
    const before = refsOf(repo);
    const again = await proposeFix(options(repo, await fixedCheckout(repo, failure), failure));
    expect(again).toEqual({ ...result, reused: true });
    expect(refsOf(repo)).toBe(before);
    expect([...github.pulls.values()].filter((p) => p.repo === name)).toHaveLength(1);
    expect(github.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${OWNER}/${name}/pulls`)).toHaveLength(1);

    // The token went in a header of the push only: not in the checkout's config, nor in any hook's run.
    const config = await readFile(join(workspace, '.git', 'config'), 'utf8');
    expect(config).not.toContain(TOKEN);
    expect(config).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
    expect(config).not.toContain('extraHeader');
    await expect(readFile(marker, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('pushes over HTTP with the token in a header git sends, and fails with PushError when the token is refused', async () => {
    const { repo, name, failure, workspace } = await setup();
    const authorization = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`;
    const server = await startGitHttpServer(dirname(repo.origin), { authorization });
    try {
      const pushUrl = `${server.url}/${basename(repo.origin)}`;
      const result = await proposeFix(options(repo, workspace, failure, { pushUrl }));
      expect(result).toMatchObject({ kind: 'pull-request', reused: false });
      expect(repo.originGit('rev-parse', `pitcrew/fix/${failure.id}`).trim()).toBe((result as { commitSha: string }).commitSha);
      expect(server.authorizations.length).toBeGreaterThan(0);
      expect(server.authorizations.every((a) => a === authorization)).toBe(true);
      expect(await readFile(join(workspace, '.git', 'config'), 'utf8')).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));

      const wrong = createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: 'ghs_not-the-token' }, logger, retries: 0 }).forInstallation(null)!;
      const refused = await proposeFix(options(repo, await fixedCheckout(repo, failure), failure, { pushUrl, octokit: wrong })).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(PushError);
      expect([...github.pulls.values()].filter((p) => p.repo === name)).toHaveLength(1);
    } finally {
      await server.stop();
    }
  });

  it('replaces an earlier pitcrew fix of the same failure on its branch, and leaves a branch with someone else’s commit alone', async () => {
    const { repo, failure, workspace } = await setup();
    const first = await proposeFix(options(repo, workspace, failure));
    // A later attempt with a different fix (a fresh checkout, another change).
    const other = await fixedCheckout(repo, failure);
    await writeFile(join(other, 'src/cart.ts'), 'export const total = (a: number, b: number) => b + a;\n');
    const second = await proposeFix(options(repo, other, failure));
    expect(second).toMatchObject({ kind: 'pull-request', reused: true, prNumber: (first as { prNumber: number }).prNumber });
    expect((second as { commitSha: string }).commitSha).not.toBe((first as { commitSha: string }).commitSha);
    expect(repo.originGit('rev-parse', `pitcrew/fix/${failure.id}`).trim()).toBe((second as { commitSha: string }).commitSha);

    // Someone pushes their own commit there: pitcrew does not overwrite it.
    repo.git('switch', '--quiet', '-c', 'theirs');
    repo.git('commit', '--quiet', '--allow-empty', '-m', 'a human commit');
    repo.git('push', '--quiet', '--force', 'origin', `theirs:pitcrew/fix/${failure.id}`);
    const before = refsOf(repo);
    expect(await proposeFix(options(repo, await fixedCheckout(repo, failure), failure))).toMatchObject({ kind: 'refused', reason: expect.stringContaining('did not make') });
    expect(refsOf(repo)).toBe(before);
  });

  it('does not open again a pull request someone closed, and pushes nothing then', async () => {
    const { repo, name, failure, workspace } = await setup();
    const first = await proposeFix(options(repo, workspace, failure));
    await octokit.pulls.update({ owner: OWNER, repo: name, pull_number: (first as { prNumber: number }).prNumber, state: 'closed' });
    const other = await fixedCheckout(repo, failure);
    await writeFile(join(other, 'src/cart.ts'), 'export const total = (a: number, b: number) => b + a;\n');
    const before = refsOf(repo);
    expect(await proposeFix(options(repo, other, failure))).toMatchObject({ kind: 'refused', reason: expect.stringContaining('was closed') });
    expect(refsOf(repo)).toBe(before);
    expect([...github.pulls.values()].filter((p) => p.repo === name)).toHaveLength(1);
  });

  it('refuses a branch name git would not take, and a failure on no branch', async () => {
    const { repo, failure, workspace } = await setup();
    const before = refsOf(repo);
    expect(await proposeFix(options(repo, workspace, { ...failure, id: 'gh-job-1..2' }))).toMatchObject({ kind: 'refused', reason: expect.stringContaining('not a valid branch name') });
    expect(await proposeFix(options(repo, workspace, { ...failure, branch: null }))).toMatchObject({ kind: 'refused', reason: expect.stringContaining('no branch') });
    expect(refsOf(repo)).toBe(before);
  });
});

describe('proposeFix in commit mode', () => {
  it('refuses without a pull request, without the label, and for a fork, pushing nothing', async () => {
    const { repo, name, failure, workspace } = await setup({ branch: 'feature' });
    const before = refsOf(repo);
    const commit = (f: CiFailure) => proposeFix(options(repo, workspace, f, { mode: 'commit' }));
    expect(await commit(failure)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('no open pull request') });

    const unlabelled = github.seedPullRequest({ owner: OWNER, repo: name, head: { ref: 'feature' }, labels: ['bug'] });
    expect(await commit({ ...failure, pullRequests: [unlabelled.number] })).toMatchObject({ kind: 'refused', reason: expect.stringContaining('does not carry the label "pitcrew:commit"') });

    const fork = github.seedPullRequest({ owner: OWNER, repo: name, head: { owner: 'forker', ref: 'feature', sha: repo.sha }, labels: ['pitcrew:commit'] });
    expect(await commit({ ...failure, pullRequests: [fork.number] })).toMatchObject({ kind: 'refused', reason: expect.stringContaining(`from a fork (forker/${name})`) });
    expect(refsOf(repo)).toBe(before);
    expect(repo.originGit('rev-parse', 'feature').trim()).toBe(repo.sha);
  });

  it('pushes onto the labelled pull request’s head branch (found from the commit when the payload names none), once', async () => {
    const { repo, name, failure, workspace } = await setup({ branch: 'feature' });
    const pull = github.seedPullRequest({ owner: OWNER, repo: name, head: { ref: 'feature' }, labels: ['pitcrew:commit'] });
    const result = await proposeFix(options(repo, workspace, failure, { mode: 'commit' }));
    expect(result).toMatchObject({ kind: 'pushed', branch: 'feature', prNumber: pull.number, prUrl: `https://github.com/${OWNER}/${name}/pull/${pull.number}` });
    const commitSha = (result as { commitSha: string }).commitSha;
    expect(repo.originGit('log', '-1', '--format=%H %P %(trailers:key=Pitcrew-Failure,valueonly)', 'feature').trim()).toBe(`${commitSha} ${repo.sha} ${failure.id}`);
    expect((await octokit.pulls.get({ owner: OWNER, repo: name, pull_number: pull.number })).data.head.sha).toBe(commitSha);
    // A retry: the branch already holds this fix.
    expect(await proposeFix(options(repo, await fixedCheckout(repo, failure), failure, { mode: 'commit' }))).toEqual(result);
    expect(repo.originGit('rev-list', '--count', 'feature').trim()).toBe('2');
    expect(github.requests.filter((r) => r.method === 'POST' && r.path.includes(`/${name}/pulls`))).toHaveLength(0);
  });

  it('never overwrites a commit pushed to the head branch meanwhile (force-with-lease on the failing SHA)', async () => {
    const { repo, name, failure, workspace } = await setup({ branch: 'feature' });
    const pull = github.seedPullRequest({ owner: OWNER, repo: name, head: { ref: 'feature' }, labels: ['pitcrew:commit'] });
    repo.git('commit', '--quiet', '--allow-empty', '-m', 'pushed meanwhile');
    repo.git('push', '--quiet', 'origin', 'feature');
    const moved = repo.git('rev-parse', 'HEAD').trim();
    const result = await proposeFix(options(repo, workspace, { ...failure, pullRequests: [pull.number] }, { mode: 'commit' }));
    expect(result).toMatchObject({ kind: 'refused', reason: expect.stringContaining(`moved since the failing commit ${repo.sha.slice(0, 12)} (now ${moved.slice(0, 12)})`) });
    expect(repo.originGit('rev-parse', 'feature').trim()).toBe(moved);
    await expect(readFile(marker, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the dry run and the pull request body', () => {
  it('writes the four files, twice the same, and leaves the origin as it was', async () => {
    const { repo, failure, workspace } = await setup();
    const before = refsOf(repo);
    const diff = await workspaceDiff(workspace);
    const body = pullRequestBody({ failure, diagnosis: 'total subtracts', diff, verification, fixer: { name: 'rules', model: null }, usage: { tokensIn: 0, tokensOut: 0, costUsd: 0 } });
    const proposal = { failure, mode: 'propose' as const, branch: `pitcrew/fix/${failure.id}`, title: 'Fix total', body, diff, verification, fixer: { name: 'rules', model: null }, usage: { tokensIn: 0, tokensOut: 0, costUsd: 0 } };
    const dir = join(root, 'dry-run');
    const written = await writeDryRunProposal(dir, proposal);
    expect(written.dir).toBe(join(dir, '.pitcrew', 'proposals', failure.id));
    const read = async () => Object.fromEntries(await Promise.all(['fix.patch', 'pull-request.md', 'verification.json', 'proposal.json'].map(async (f) => [f, await readFile(join(written.dir, f), 'utf8')])));
    const files = await read();
    expect(files['fix.patch']).toBe(diff);
    expect(files['pull-request.md']).toBe(`# Fix total\n\n${body}\n`);
    expect(JSON.parse(files['verification.json']!)).toEqual({ result: 'passed', command: 'npm test', exitCode: 0, ms: 1234, timedOut: false, outputTail: expect.stringContaining('[REDACTED:') });
    expect(files['verification.json']).not.toContain(SECRET);
    expect(JSON.parse(files['proposal.json']!)).toMatchObject({ dryRun: true, branch: `pitcrew/fix/${failure.id}`, diffstat: { additions: 2, deletions: 1 }, failure: { id: failure.id } });
    await writeDryRunProposal(dir, proposal);
    expect(await read()).toEqual(files);
    // The patch applies to the failing commit.
    const fresh = await checkoutWorkspace({ root, name: 'apply', url: repo.url, sha: repo.sha });
    execFileSync('git', ['-C', fresh.dir, 'apply', '--check', join(written.dir, 'fix.patch')]);
    expect(refsOf(repo)).toBe(before);
    expect(github.pulls.size === 0 || [...github.pulls.values()].every((p) => p.repo !== failure.repo)).toBe(true);
    await expect(writeDryRunProposal(dir, { ...proposal, failure: { ...failure, id: '../x' } })).rejects.toThrow(TypeError);
  });

  it('says what was diagnosed, changed and verified, redacted and fenced, with the run link and the footer', () => {
    const diff = ['diff --git a/src/a.ts b/src/a.ts', '--- a/src/a.ts', '+++ b/src/a.ts', '@@ -1,2 +1,2 @@', '-a', '-b', '+c', ''].join('\n');
    const failure = failureOf('body-repo', { headSha: 'abcdef1234567890'.padEnd(40, '0') });
    const body = pullRequestBody({
      failure,
      diagnosis: `Fixes #1 — the log said \`\`\`\`\n@octocat run ${SECRET}`,
      diff,
      verification: { ...verification, result: 'failed', exitCode: 1 },
      fixer: { name: 'agent', model: 'gpt-test' },
      usage: { tokensIn: 1200, tokensOut: 340, costUsd: 0.0123 },
      stop: 'Remove the repository from PITCREW_FIX_REPOS to stop.',
    });
    expect(body).not.toContain(SECRET);
    expect(body).toContain('[REDACTED:');
    // The diagnosis is inside a fence longer than its own backtick run.
    expect(body).toMatch(/`````text\nFixes #1/);
    expect(body).toContain('### Changes: 1 file, +1 −2');
    expect(body).toContain('src/a.ts | +1 -2');
    expect(body).toContain('**failed**: exit code 1 in 1234 ms');
    expect(body).toContain('1200 tokens in, 340 tokens out, 0.0123 USD');
    expect(body).toContain(`[The failing run](${failure.htmlUrl})`);
    expect(body).toContain(`Opened by pitcrew for failure \`${failure.id}\``);
    expect(body).toContain('Remove the repository from PITCREW_FIX_REPOS to stop.');
    const left = pullRequestBody({ failure, diagnosis: 'x', diff, verification: { result: 'left-to-ci', command: null, reason: 'no command of the failed step could be derived', exitCode: null, ms: null, output: null }, fixer: { name: 'rules', model: null }, usage: { tokensIn: 0, tokensOut: 0, costUsd: 0 } });
    expect(left).toContain('Left to CI: no command of the failed step could be derived');
  });
});
