import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFailure, type CiFailure } from '@pitcrew/core';
import { DEFAULT_SANDBOX } from '../sandbox/sandbox.ts';
import { AgentError, createAgentRunner, parseAgentOutput, WITHHELD_FROM_AGENT } from './agent-runner.ts';

const FAKE = fileURLToPath(new URL('./fixtures/fake-agent.mjs', import.meta.url));
/** The real sandbox (bubblewrap), with the fake agent's directory bound read-only as an installed agent's would be. */
const SANDBOX = { ...DEFAULT_SANDBOX, readOnlyPaths: [dirname(FAKE)] };
let root: string;
let origin: string;
let sha: string;

const failure = (): CiFailure => ({
  id: 'gh-job-1', provider: 'github', kind: 'job', event: 'workflow_job', owner: 'octo-org', repo: 'octo-repo', repoId: 1,
  branch: 'main', headSha: sha, runId: 1, runAttempt: 1, jobId: 1, checkSuiteId: null, workflowName: 'CI', jobName: 'test',
  checkName: 'test', appSlug: 'github-actions', htmlUrl: null, conclusion: 'failure', failedSteps: ['Run npm test'], outputText: null,
  pullRequests: [], installationId: null, startedAt: null, completedAt: null,
});
const input = (signal = new AbortController().signal) => {
  const f = failure();
  return { failure: f, classification: classifyFailure(f), logExcerpt: 'FAIL src/a.test.ts', model: null, signal };
};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pitcrew-agent-'));
  // A local repository standing in for the clone URL.
  origin = join(root, 'octo-org', 'octo-repo.git');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: origin, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
  execFileSync('mkdir', ['-p', origin]);
  git('init', '--quiet');
  await writeFile(join(origin, 'package.json'), '{}');
  git('add', '.');
  git('commit', '--quiet', '-m', 'failing commit');
  sha = git('rev-parse', 'HEAD');
  git('config', 'uploadpack.allowReachableSHA1InWant', 'true');
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('agent runner', () => {
  it('sends the prompt on stdin in a checkout of the failing SHA and reads tokens and cost from stream-json', async () => {
    const workspaceRoot = join(root, 'work');
    execFileSync('mkdir', ['-p', workspaceRoot]);
    const runner = createAgentRunner({
      sandbox: SANDBOX,
      command: `${process.execPath} ${FAKE} --output-format stream-json`,
      timeoutMs: 10_000,
      estimateUsd: 0.5,
      workspaceRoot,
      cloneUrl: `file://${root}/{owner}/{repo}.git`,
      env: { FAKE_AGENT_MODE: 'stream-json' },
    });
    const out = await runner.execute(input());
    expect(out).toMatchObject({ model: 'claude-fake-1', tokensIn: 1500, tokensOut: 250, costUsd: 0.0421, usageReported: true });
    expect(out.markdown).toContain('## Summary');
    expect(out.markdown).toMatch(/workspace with \[\.git,package\.json\]/); // ran inside the checkout
    expect(await readdir(workspaceRoot)).toEqual([]); // disposed afterwards
  });

  it('takes plain output as the diagnosis, without usage', async () => {
    const runner = createAgentRunner({ sandbox: SANDBOX, command: `${process.execPath} ${FAKE}`, timeoutMs: 10_000, estimateUsd: 0, env: { FAKE_AGENT_MODE: 'plain' } });
    expect(await runner.execute(input())).toMatchObject({ usageReported: false, tokensIn: 0, costUsd: 0, model: null });
  });

  it("never hands pitcrew's own credentials to the agent, but passes its API key", async () => {
    const saved = { DATABASE_URL: process.env.DATABASE_URL, GITHUB_TOKEN: process.env.GITHUB_TOKEN };
    process.env.DATABASE_URL = 'postgres://secret@db/pitcrew';
    process.env.GITHUB_TOKEN = 'ghp_notforagents';
    try {
      const runner = createAgentRunner({
      sandbox: SANDBOX,
        command: `${process.execPath} ${FAKE}`,
        timeoutMs: 10_000,
        estimateUsd: 0,
        env: { FAKE_AGENT_MODE: 'env', ANTHROPIC_API_KEY: 'sk-agent' },
      });
      const result = await runner.execute(input());
      const names = /env: (.*)/.exec(result.markdown)![1]!.split(" ");
      expect(names).toContain('ANTHROPIC_API_KEY');
      expect(names).toContain('PATH');
      for (const withheld of WITHHELD_FROM_AGENT) expect(names).not.toContain(withheld);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

    it('fails with the agent stderr when it exits non-zero', async () => {
    const runner = createAgentRunner({ sandbox: SANDBOX, command: `${process.execPath} ${FAKE}`, timeoutMs: 10_000, estimateUsd: 0, env: { FAKE_AGENT_MODE: 'fail' } });
    await expect(runner.execute(input())).rejects.toThrow(/agent exited 3: agent: authentication failed/);
  });

  it('kills the whole process group on timeout, and on cancel', async () => {
    for (const how of ['timeout', 'aborted'] as const) {
      // The sandbox has its own PID namespace: the agent and its child are found by a marker in their command lines.
      const marker = `--marker=${how}-${Date.now()}`;
      const runner = createAgentRunner({ sandbox: SANDBOX, command: `${process.execPath} ${FAKE} ${marker}`, timeoutMs: how === 'timeout' ? 800 : 60_000, estimateUsd: 0, env: { FAKE_AGENT_MODE: 'hang' } });
      const controller = new AbortController();
      const running = runner.execute(input(controller.signal));
      await new Promise((r) => setTimeout(r, 500));
      expect((await processesWith(marker)).length).toBeGreaterThanOrEqual(2); // bubblewrap, the agent, its child
      if (how === 'aborted') controller.abort();
      const error = await running.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AgentError);
      expect((error as AgentError).reason).toBe(how);
      await new Promise((r) => setTimeout(r, 200));
      expect(await processesWith(marker)).toEqual([]); // agent and its child are gone
    }
  });
});

/** Live (not zombie) processes whose command line contains `marker`. */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.split('\0').includes(marker)) continue;
      if (!/^State:\s+Z/m.test(await readFile(`/proc/${entry}/status`, 'utf8'))) found.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

describe('parseAgentOutput', () => {
  it('reads the result event of Claude-style JSON output', () => {
    const out = parseAgentOutput('{"type":"result","result":"done","total_cost_usd":0.5,"usage":{"input_tokens":3,"output_tokens":4}}');
    expect(out).toEqual({ text: 'done', model: null, tokensIn: 3, tokensOut: 4, costUsd: 0.5, usageReported: true });
  });
});
