import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CiFailure } from '@pitcrew/core';
import { createTestRepository } from '@pitcrew/testkit';
import { DEFAULT_SANDBOX, prepareSandboxWorkspace } from '../sandbox/sandbox.ts';
import { rulesFixer } from './fixer.ts';
import { attemptFix, type FixOutcome } from './pipeline.ts';
import { checkoutWorkspace } from './workspace.ts';

// A real repository with a real formatter failure, prettier (the npm package) as its check, real
// git (a bare origin, a fresh checkout of the failing SHA) and real bubblewrap around the fix and
// the verification.
const require = createRequire(import.meta.url);
const PRETTIER = dirname(require.resolve('prettier/package.json'));
const failure = { id: 'f1', owner: 'acme', repo: 'web', headSha: 'x', branch: 'main', jobName: 'lint', failedSteps: ['Check formatting'] } as unknown as CiFailure;
let root: string;

async function checkout(files: Record<string, string>): Promise<string> {
  const repo = await createTestRepository(root, { ...files, '.gitignore': 'node_modules\n' });
  const { dir } = await checkoutWorkspace({ root, name: 'f1', url: repo.url, sha: repo.sha });
  // The repository's own dev dependency, as the job's `npm ci` would have installed it.
  await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
  await cp(PRETTIER, join(dir, 'node_modules', 'prettier'), { recursive: true });
  await symlink('../prettier/bin/prettier.cjs', join(dir, 'node_modules', '.bin', 'prettier'));
  await prepareSandboxWorkspace(DEFAULT_SANDBOX, dir);
  return dir;
}

function attempt(workspace: string, run: string): Promise<FixOutcome> {
  return attemptFix(
    { workspace, failure, category: 'lint', diagnosis: 'formatting', excerpt: null, step: { run, workingDirectory: '.', shell: null, source: 'workflow' }, sandbox: DEFAULT_SANDBOX, limits: { maxFiles: 10, maxLines: 200 }, timeoutMs: 60_000, signal: new AbortController().signal },
    { mode: 'rules', fixers: { rules: rulesFixer(), agent: null } },
  );
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pitcrew-fix-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('a fix attempt with the rules fixer', () => {
  it('fixes a prettier failure in the sandbox, passes the guard and verifies with the step itself', async () => {
    const workspace = await checkout({ 'src/cart.ts': 'export const total=(a:number,b:number)=>{return a+b}\n', 'package.json': '{"name":"web","private":true}\n' });
    const result = await attempt(workspace, 'node_modules/.bin/prettier --check src');
    expect(result).toMatchObject({ status: 'verified', fixer: 'rules', files: 1, guardRule: null, fixerResult: { kind: 'edited', command: 'node_modules/.bin/prettier src --write' }, verification: { result: 'passed', exitCode: 0 } });
    expect(result.diff).toContain('+export const total = (a: number, b: number) => {');
    expect(await readFile(join(workspace, 'src/cart.ts'), 'utf8')).toContain('return a + b;');
  }, 90_000);

  it('attempts nothing for a step it has no fix form for, or one that runs several commands', async () => {
    const workspace = await checkout({ 'src/a.ts': 'export const a = 1;\n' });
    expect(await attempt(workspace, 'npm test')).toMatchObject({ status: 'not_attempted', reason: expect.stringContaining('no fix form') });
    expect(await attempt(workspace, 'npm ci\nnode_modules/.bin/prettier --check .')).toMatchObject({ status: 'not_attempted', reason: expect.stringContaining('several commands') });
  });

  it('leaves verification to CI when the check is not installed in the sandbox', async () => {
    const workspace = await checkout({ 'app.rb': 'def total(a,b) a+b end\n' });
    // rubocop is installed nowhere here (gofmt may be: `pitcrew eval fix` has a Go case): the fix
    // form itself is "command not found".
    expect(await attempt(workspace, 'rubocop app.rb')).toMatchObject({ status: 'failed', reason: expect.stringContaining('toolchain missing') });
  });
});
