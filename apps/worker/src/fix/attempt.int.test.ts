import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX, prepareSandboxWorkspace } from '../sandbox/sandbox.ts';
import { attemptRulesFix } from './attempt.ts';

// A real repository with a real formatter failure, prettier (the npm package) as its check, and
// real bubblewrap around the fix and the verification.
const require = createRequire(import.meta.url);
const PRETTIER = dirname(require.resolve('prettier/package.json'));
const limits = { maxFiles: 10, maxLines: 200, category: 'lint' };
let root: string;

async function repository(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(root, 'repo-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });
  git('init', '--quiet');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  await writeFile(join(dir, '.gitignore'), 'node_modules\n');
  git('add', '.');
  git('commit', '--quiet', '-m', 'failing commit');
  // The repository's own dev dependency, as `npm ci` would have installed it.
  await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
  await cp(PRETTIER, join(dir, 'node_modules', 'prettier'), { recursive: true });
  await symlink('../prettier/bin/prettier.cjs', join(dir, 'node_modules', '.bin', 'prettier'));
  await prepareSandboxWorkspace(DEFAULT_SANDBOX, dir);
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pitcrew-fix-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the rules fixer', () => {
  it('fixes a prettier failure in the sandbox, passes the guard and verifies with the step itself', async () => {
    const workspace = await repository({ 'src/cart.ts': 'export const total=(a:number,b:number)=>{return a+b}\n', 'package.json': '{"name":"web","private":true}\n' });
    const result = await attemptRulesFix({
      workspace,
      step: { run: 'node_modules/.bin/prettier --check src', workingDirectory: '.', shell: null, source: 'workflow' },
      sandbox: { ...DEFAULT_SANDBOX, readOnlyPaths: [] },
      limits,
      timeoutMs: 60_000,
    });
    expect(result).toMatchObject({ status: 'verified', files: 1, fix: { command: 'node_modules/.bin/prettier src --write', exitCode: 0 }, verify: { exitCode: 0 } });
    if (result.status !== 'verified') throw new Error('unreachable');
    expect(result.diff).toContain('+export const total = (a: number, b: number) => {');
    expect(await readFile(join(workspace, 'src/cart.ts'), 'utf8')).toContain('return a + b;');
  }, 90_000);

  it('proposes nothing for a step it has no fix form for, or one that runs several commands', async () => {
    const workspace = await repository({ 'src/a.ts': 'export const a = 1;\n' });
    const attempt = (run: string) => attemptRulesFix({ workspace, step: { run, workingDirectory: null, shell: null, source: 'log' }, sandbox: DEFAULT_SANDBOX, limits, timeoutMs: 10_000 });
    expect(await attempt('npm test')).toMatchObject({ status: 'not_applicable' });
    expect(await attempt('npm ci\nnode_modules/.bin/prettier --check .')).toMatchObject({ status: 'not_applicable' });
  });
});
