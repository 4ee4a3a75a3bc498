import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A real git repository made for a test, with a bare repository as its `origin`. */
export interface TestRepository {
  /** The working clone (the developer's side). */
  dir: string;
  /** The bare origin: what pitcrew fetches from and pushes to (`file://` URL in {@link TestRepository.url}). */
  origin: string;
  url: string;
  /** The commit made from the files (the failing SHA). */
  sha: string;
  /** Branch the commit is on. */
  branch: string;
  /** Runs git in the working clone. @returns stdout */
  git(...args: string[]): string;
  /** Runs git in the origin. @returns stdout */
  originGit(...args: string[]): string;
}

/**
 * Makes a repository under `root` from `files` (path → text), commits them on `branch` (default
 * `main`) and pushes to a bare origin next to it. Real git, no network.
 */
export async function createTestRepository(root: string, files: Record<string, string>, options: { branch?: string; message?: string } = {}): Promise<TestRepository> {
  const base = await mkdtemp(join(root, 'repo-'));
  const dir = join(base, 'work');
  const origin = join(base, 'origin.git');
  const branch = options.branch ?? 'main';
  const run = (cwd: string, args: string[]) => execFileSync('git', ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' });
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', origin]);
  // GitHub serves any reachable commit by SHA; a bare repository does so when told.
  execFileSync('git', ['config', 'uploadpack.allowReachableSHA1InWant', 'true'], { cwd: origin });
  await mkdir(dir, { recursive: true });
  run(dir, ['init', '--quiet', `--initial-branch=${branch}`]);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  run(dir, ['add', '--all']);
  run(dir, ['commit', '--quiet', '-m', options.message ?? 'the failing commit']);
  run(dir, ['remote', 'add', 'origin', origin]);
  run(dir, ['push', '--quiet', 'origin', branch]);
  const sha = run(dir, ['rev-parse', 'HEAD']).trim();
  return { dir, origin, url: `file://${origin}`, sha, branch, git: (...args) => run(dir, args), originGit: (...args) => run(origin, args) };
}
