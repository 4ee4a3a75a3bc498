import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/**
 * A real git repository holding a case's files as one commit (the failing commit), made the way
 * a developer would: `git init`, `git add --all`, `git commit`. No user or system git config is
 * read, and no hooks run.
 *
 * @returns its `file://` URL and the commit's SHA, for `checkoutWorkspace`
 */
export async function createCaseRepository(root: string, filesDir: string): Promise<{ dir: string; url: string; sha: string }> {
  const dir = await mkdtemp(join(root, 'repo-'));
  await cp(filesDir, dir, { recursive: true });
  const git = gitIn(dir, ['init.defaultBranch=main']);
  git('init', '--quiet');
  git('add', '--all');
  git('commit', '--quiet', '-m', 'the failing commit');
  return { dir, url: `file://${dir}`, sha: git('rev-parse', 'HEAD').trim() };
}

/** git in `dir` as the eval's author: no system or user config, no hooks, no signing; `config` on top. */
function gitIn(dir: string, config: string[]): (...args: string[]) => string {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), GIT_CONFIG_NOSYSTEM: '1', LANG: 'C' };
  const settings = ['user.name=pitcrew eval', 'user.email=eval@pitcrew.invalid', 'commit.gpgsign=false', 'core.hooksPath=/dev/null', ...config];
  return (...args) => execFileSync('git', [...settings.flatMap((c) => ['-c', c]), ...args], { cwd: dir, env, encoding: 'utf8' });
}

const require = createRequire(import.meta.url);

/** The directory of an installed package, looked up the way Node resolves it from the CLI. */
function packageDir(name: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    if (existsSync(join(base, name, 'package.json'))) return join(base, name);
  }
  throw new Error(`${name} is not installed in pitcrew's node_modules (npm install from the repository root)`);
}

/**
 * Links pitcrew's own installation of each tool into `workspace/node_modules`, with its bins in
 * `node_modules/.bin`, as the job's `npm ci` would have installed them. Call it after
 * `prepareSandboxWorkspace`: the links stay the host's, read-only to the sandbox.
 *
 * @returns the `node_modules` directories the links point into, to bind read-only in the sandbox
 * @throws Error when a tool is not installed
 */
export async function linkTools(workspace: string, tools: readonly string[]): Promise<string[]> {
  const exposed = new Set<string>();
  if (tools.length === 0) return [];
  const bin = join(workspace, 'node_modules', '.bin');
  await mkdir(bin, { recursive: true });
  for (const tool of tools) {
    const dir = packageDir(tool);
    // Its dependencies resolve from its real path: the whole node_modules it sits in is exposed.
    exposed.add(dirname(dir));
    await symlink(dir, join(workspace, 'node_modules', tool));
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
    const bins = typeof manifest.bin === 'string' ? { [tool]: manifest.bin } : (manifest.bin ?? {});
    for (const [name, path] of Object.entries(bins)) await symlink(join('..', tool, path), join(bin, name));
  }
  return [...exposed];
}

/** A host command a case needs, as the sandbox will see it. */
export interface HostToolchain {
  bin: string;
  /** Where it was found on the host's PATH; `null` = missing. */
  path: string | null;
  /** Directories to bind read-only so the sandbox sees it (none when it lives under `/usr`). */
  readOnlyPaths: string[];
  /** Environment the sandboxed commands need for it (`PATH`, rustup's homes). */
  env: Record<string, string>;
}

/** The sandbox's own `PATH` (`runInSandbox`). */
const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Finds `bin` on the host's `PATH`. Under `/usr` the sandbox sees it as is; elsewhere its
 * directory's parent is exposed read-only and put first on `PATH`, and for rustup's proxies
 * (`~/.cargo/bin`) `CARGO_HOME` and `RUSTUP_HOME` too.
 */
export function hostToolchain(bin: string, pathVariable = process.env.PATH ?? ''): HostToolchain {
  const dir = pathVariable.split(delimiter).find((d) => d && existsSync(join(d, bin)));
  if (!dir) return { bin, path: null, readOnlyPaths: [], env: {} };
  const path = join(dir, bin);
  if (dir.startsWith('/usr/') || dir === '/bin') return { bin, path, readOnlyPaths: [], env: {} };
  const home = dirname(dir);
  const env: Record<string, string> = { PATH: `${dir}:${SANDBOX_PATH}` };
  const readOnlyPaths = [home];
  if (home.endsWith('/.cargo')) {
    const rustup = process.env.RUSTUP_HOME ?? join(homedir(), '.rustup');
    Object.assign(env, { CARGO_HOME: home, RUSTUP_HOME: rustup });
    if (existsSync(rustup)) readOnlyPaths.push(rustup);
  }
  return { bin, path, readOnlyPaths, env };
}

/**
 * Commits the fix in a checkout, as the fix loop pushes each iteration's fix onto its branch: the
 * next iteration works on top of it and its diff is its own. git as `checkoutWorkspace` runs it
 * (`gitSafety` of `@pitcrew/worker`: the checkout belongs to the sandbox's user, no hooks).
 *
 * @returns the new commit's SHA
 * @throws the git error (nothing to commit included)
 */
export function commitFix(dir: string, message: string): string {
  const git = gitIn(dir, [`safe.directory=${dir}`, 'core.fsmonitor=false']);
  git('add', '--all');
  git('commit', '--quiet', '-m', message);
  return git('rev-parse', 'HEAD').trim();
}
