import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CiFailure } from '@pitcrew/core';
import { createTestRepository } from '@pitcrew/testkit';
import { DEFAULT_SANDBOX, prepareSandboxWorkspace } from '../sandbox/sandbox.ts';
import { agentFixer, rulesFixer } from './fixer.ts';
import { attemptFix, type FixOutcome } from './pipeline.ts';
import { checkoutWorkspace } from './workspace.ts';

// The agent fixer with scripted agents (fixtures/fix-agent.mjs) in real bubblewrap, on a real
// checkout of a repository whose unit test fails, verified with the step's own `node --test`.
const AGENT = fileURLToPath(new URL('./fixtures/fix-agent.mjs', import.meta.url));
const SANDBOX = { ...DEFAULT_SANDBOX, readOnlyPaths: [dirname(AGENT)] };
const STEP = { run: 'node --test test/', workingDirectory: null, shell: null, source: 'workflow' as const };
const failure = { id: 'gh-job-9', owner: 'acme', repo: 'calc', headSha: 'x', branch: 'main', workflowName: 'CI', jobName: 'test', failedSteps: ['Run tests'] } as unknown as CiFailure;
/** A credential planted in the worker's environment and on its disk. */
const TOKEN = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3h2';
let root: string;
let url: string;
let sha: string;
let listener: Server;
let port: number;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pitcrew-agent-fix-'));
  const repo = await createTestRepository(root, {
    'package.json': '{"name":"calc","type":"module","private":true}\n',
    'src/sum.js': 'export const sum = (a, b) => a - b;\n',
    'test/sum.test.js': "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { sum } from '../src/sum.js';\n\ntest('adds', () => assert.equal(sum(2, 3), 5));\n",
  });
  ({ url, sha } = repo);
  listener = createServer((_req, res) => res.end('reached')).listen(0, '127.0.0.1');
  await new Promise((resolve) => listener.once('listening', resolve));
  port = (listener.address() as AddressInfo).port;
  await writeFile(join(root, 'worker.env'), `GITHUB_TOKEN=${TOKEN}\n`);
});
afterAll(async () => {
  listener.close();
  await rm(root, { recursive: true, force: true });
});

async function attempt(behaviour: string, options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<FixOutcome> {
  const { dir } = await checkoutWorkspace({ root, name: behaviour, url, sha });
  await prepareSandboxWorkspace(SANDBOX, dir);
  const agent = agentFixer({ command: `/usr/bin/node ${AGENT} --behaviour ${behaviour}`, timeoutMs: options.timeoutMs ?? 30_000, estimateUsd: 0.25, ...(options.env ? { env: options.env } : {}) });
  return attemptFix(
    { workspace: dir, failure, category: 'test', diagnosis: 'sum subtracts', excerpt: 'not ok 1 - adds', step: STEP, sandbox: SANDBOX, limits: { maxFiles: 5, maxLines: 50 }, timeoutMs: options.timeoutMs ?? 30_000, signal: new AbortController().signal },
    { mode: 'auto', fixers: { rules: rulesFixer(), agent } },
  );
}

describe('the agent fixer', () => {
  it('takes an agent fix that passes the failing step (auto: rules has no fix form for `node --test`)', async () => {
    const result = await attempt('fixes');
    expect(result).toMatchObject({ status: 'verified', fixer: 'agent', files: 1, lines: 2, verification: { result: 'passed', exitCode: 0 }, costUsd: 0.25 });
    expect(result.diff).toContain('+export const sum = (a, b) => a + b;');
  });

  it('does not propose a fix the failing step still rejects', async () => {
    expect(await attempt('breaks')).toMatchObject({ status: 'verify_failed', verification: { result: 'failed', exitCode: 1 } });
  });

  it('refuses an agent that deletes the failing test, or silences the checker', async () => {
    expect(await attempt('deletes-test')).toMatchObject({ status: 'refused', guardRule: 'removed-test', verification: null });
    expect(await attempt('ts-ignore')).toMatchObject({ status: 'refused', guardRule: 'disabled-check' });
  });

  it('kills an agent that never exits, with its process group, at the timeout', async () => {
    const started = Date.now();
    const result = await attempt('hangs', { timeoutMs: 1_500 });
    expect(result).toMatchObject({ status: 'failed', reason: expect.stringContaining('killed') });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('ends the attempt escalated, with the reason, when the agent prints ESCALATE:', async () => {
    expect(await attempt('escalates')).toMatchObject({ status: 'escalated', reason: 'the expected total depends on a pricing decision only the product owner can make', diff: '' });
  });

  it("contains an agent that looks for pitcrew's credentials and the network", async () => {
    const saved = process.env.GITHUB_TOKEN;
    process.env.GITHUB_TOKEN = TOKEN;
    try {
      const result = await attempt('snoops', { env: { SNOOP_PATHS: [join(root, 'worker.env'), '/root/.bash_history', '/etc/shadow'].join(','), SNOOP_PORT: String(port) } });
      expect(result.fixerResult).toMatchObject({ kind: 'edited', note: 'found nothing' });
      // It changed nothing, so nothing is proposed either.
      expect(result).toMatchObject({ status: 'refused', guardRule: 'empty' });
    } finally {
      if (saved === undefined) delete process.env.GITHUB_TOKEN;
      else process.env.GITHUB_TOKEN = saved;
    }
  });
});
