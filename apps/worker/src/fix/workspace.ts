import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A directory holding a checkout (or nothing), removed by `dispose`. */
export interface Workspace {
  dir: string;
  dispose(): Promise<void>;
}

/** The checkout of the failing commit could not be made (clone URL, network, credentials, SHA gone). */
export class CheckoutError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckoutError';
  }
}

/**
 * Options every git command pitcrew runs in a workspace gets: the workspace belongs to the
 * sandbox's user (git would refuse it as "dubious ownership"), and nothing the repository or a
 * fixer wrote may run as the worker: no hooks, no fsmonitor, no pager, no external diff or
 * textconv (git docs, `git-config`: `core.hooksPath`, `core.fsmonitor`, `safe.directory`).
 */
export function gitSafety(dir: string): string[] {
  return ['-c', `safe.directory=${dir}`, '-c', 'core.hooksPath=/dev/null', '-c', 'core.fsmonitor=false', '-c', 'core.pager=cat', '-c', 'diff.external=', '-C', dir];
}

/** Runs `git args` in `dir` with {@link gitSafety}. @returns stdout. @throws the git error with its stderr */
export async function git(dir: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const child = run('git', [...gitSafety(dir), ...args], { maxBuffer: 64 * 1024 * 1024, env: { ...gitEnv(), ...options.env } });
  if (options.input !== undefined) {
    child.child.stdin?.end(options.input);
  }
  const { stdout } = await child;
  return stdout;
}

/** git's environment: no terminal prompts (a missing credential fails at once), no system or user config. */
function gitEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: tmpdir(), LANG: 'C' };
}

/**
 * The `http.extraHeader` that authenticates git over HTTPS with a GitHub token (installation
 * tokens authenticate as `x-access-token`, GitHub docs, "Authenticating as a GitHub App
 * installation"), given in git's environment (`GIT_CONFIG_COUNT`, `GIT_CONFIG_KEY_0`,
 * `GIT_CONFIG_VALUE_0`; git-config docs, git ≥ 2.31) rather than as `-c` in its arguments: a
 * process's arguments are readable by every user (`/proc/<pid>/cmdline`), its environment only by
 * its own. Pass to {@link git} as `env`; nothing is written to the checkout's config.
 */
export function tokenEnv(token: string | null | undefined): Record<string, string> {
  if (!token) return {};
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: authorization(token) };
}

function authorization(token: string): string {
  return `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
}

/** The clone URL of a repository from a template with `{owner}` and `{repo}`. */
export function cloneUrlOf(template: string, owner: string, repo: string): string {
  return template.replaceAll('{owner}', owner).replaceAll('{repo}', repo);
}

/**
 * A new empty workspace under `root` (default the OS temp dir), named after the failure.
 */
export async function emptyWorkspace(root: string | undefined, name: string): Promise<Workspace> {
  const dir = await mkdtemp(join(root ?? tmpdir(), `pitcrew-${name}-`));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A checkout of `sha` of `url` in a new workspace: `git init`, a shallow fetch of that commit (50
 * commits deep, so the fixer sees recent history) and a detached checkout. The token, when given,
 * goes in a header of the fetch only.
 *
 * @throws {CheckoutError} when the fetch or checkout fails (the workspace is removed)
 */
export async function checkoutWorkspace(options: { root?: string | undefined; name: string; url: string; sha: string; token?: string | null }): Promise<Workspace> {
  const workspace = await emptyWorkspace(options.root, options.name);
  try {
    await run('git', ['init', '--quiet', workspace.dir], { env: gitEnv() });
    await git(workspace.dir, ['fetch', '--quiet', '--depth', '50', options.url, options.sha], { env: tokenEnv(options.token) });
    await git(workspace.dir, ['checkout', '--quiet', '--detach', 'FETCH_HEAD']);
  } catch (error) {
    await workspace.dispose();
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().slice(-500);
    throw new CheckoutError(`could not check out ${options.sha.slice(0, 12)}: ${stderr}`, { cause: error });
  }
  return workspace;
}

/**
 * The workspace's change against its checkout as a unified diff: `git add --intent-to-add --all`
 * first, so files the fixer created show up (untracked, not ignored), then `git diff HEAD` with
 * no colour and no external diff, binary changes as `Binary files … differ`.
 */
export async function workspaceDiff(dir: string): Promise<string> {
  await git(dir, ['add', '--intent-to-add', '--all']);
  // Against HEAD: `--all` stages deletions, which a worktree-to-index diff would not show.
  return git(dir, ['diff', '--no-color', '--no-ext-diff', '--no-textconv', 'HEAD']);
}

/** Applies a diff made by {@link workspaceDiff} to a fresh checkout (a resumed attempt on another host). @throws the git error */
export async function applyDiff(dir: string, diff: string): Promise<void> {
  if (!diff.trim()) return;
  await git(dir, ['apply', '--whitespace=nowarn', '-'], { input: diff });
}
