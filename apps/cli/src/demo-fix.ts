import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DemoDelivery } from './demo-deliveries.ts';

/** The demo's fixable failure: a real local repository whose formatting check fails. */
export interface DemoFixRepository {
  owner: string;
  repo: string;
  /** The failing commit. */
  sha: string;
  /** `PITCREW_FIX_CLONE_URL` for it (`file://…/{owner}/{repo}.git`). */
  cloneUrl: string;
  /** pitcrew's own `node_modules`, which holds prettier: bound read-only into the sandbox as the job's toolchain. */
  toolchain: string | null;
}

const OWNER = 'pitcrew-demo';
const REPO = 'shop';

/** The repository's workflow: what verification runs again, found by the job's and step's names. */
const WORKFLOW = [
  'name: CI',
  'on: [push, pull_request]',
  'jobs:',
  '  lint:',
  '    runs-on: ubuntu-latest',
  '    steps:',
  '      - uses: actions/checkout@v4',
  '      - run: npm ci',
  '      - name: Check formatting',
  '        run: prettier --check src',
  '',
].join('\n');

/**
 * The files of the demo's failing commit: `src/cart.ts` is not formatted, so the workflow's
 * `Check formatting` step (`prettier --check src`) fails; `prettier --write` fixes it.
 */
export const DEMO_FIX_FILES: Readonly<Record<string, string>> = {
  '.github/workflows/ci.yml': WORKFLOW,
  'package.json': '{"name":"shop","private":true,"devDependencies":{"prettier":"^3"}}\n',
  'src/cart.ts': 'export const total=(items:{price:number,qty:number}[])=>items.reduce((sum,i)=>sum+i.price*i.qty,0)\n',
  'src/money.ts': "export const format = (usd: number): string => `$${usd.toFixed(2)}`;\n",
};

/**
 * Makes (again, each run) a git repository under `<dir>/pitcrew-demo/shop.git` whose one commit
 * fails `prettier --check src`, a bare origin as GitHub would hold it. Real git, no network.
 */
export async function prepareDemoFixRepository(dir: string): Promise<DemoFixRepository> {
  const base = join(dir, 'demo-fix');
  await rm(base, { recursive: true, force: true });
  const work = join(base, 'work');
  const origin = join(base, OWNER, `${REPO}.git`);
  for (const [path, text] of Object.entries(DEMO_FIX_FILES)) {
    await mkdir(dirname(join(work, path)), { recursive: true });
    await writeFile(join(work, path), text);
  }
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Demo Developer', '-c', 'user.email=dev@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' }).trim();
  await mkdir(origin, { recursive: true });
  git(origin, 'init', '--quiet', '--bare');
  git(origin, 'config', 'uploadpack.allowReachableSHA1InWant', 'true');
  git(work, 'init', '--quiet');
  git(work, 'add', '--all');
  git(work, 'commit', '--quiet', '-m', 'Add the cart total');
  git(work, 'push', '--quiet', origin, 'HEAD:refs/heads/main');
  const sha = git(work, 'rev-parse', 'HEAD');
  let toolchain: string | null = null;
  try {
    const prettier = dirname(createRequire(import.meta.url).resolve('prettier/package.json'));
    if (existsSync(join(dirname(prettier), '.bin', 'prettier'))) toolchain = dirname(prettier);
  } catch {
    // Installed without dev dependencies: the fix is attempted and says the toolchain is missing.
  }
  return { owner: OWNER, repo: REPO, sha, cloneUrl: `file://${base}/{owner}/{repo}.git`, toolchain };
}

/**
 * The worker environment of the demo's fix: propose in dry run (nothing is pushed anywhere; the
 * proposal is written under `.pitcrew/proposals/` of the working directory), the rules fixer, only the demo
 * repository in scope, prettier from pitcrew's own `node_modules` on the sandbox's PATH.
 * Variables already set win.
 */
export function demoFixEnv(repo: DemoFixRepository, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const extraRo = repo.toolchain ? [repo.toolchain] : [];
  const ro = [...(env.PITCREW_SANDBOX_RO_PATHS ?? '').split(',').filter(Boolean), ...extraRo].join(',');
  return {
    PITCREW_FIX: env.PITCREW_FIX ?? 'propose',
    PITCREW_FIX_DRY_RUN: env.PITCREW_FIX_DRY_RUN ?? 'true',
    PITCREW_FIX_REPOS: env.PITCREW_FIX_REPOS ?? `${repo.owner}/*`,
    PITCREW_FIX_CLONE_URL: env.PITCREW_FIX_CLONE_URL ?? repo.cloneUrl,
    PITCREW_SANDBOX_RO_PATHS: ro,
    ...(repo.toolchain ? { PITCREW_FIX_PATH: [env.PITCREW_FIX_PATH, `${repo.toolchain}/.bin`].filter(Boolean).join(',') } : {}),
  };
}

/**
 * The delivery of the demo's fixable failure: GitHub's example `workflow_job` failure, moved to
 * the demo repository and its failing commit, job `lint`, step `Check formatting`.
 */
export function demoFixDelivery(repo: DemoFixRepository, example: DemoDelivery): DemoDelivery {
  const payload = structuredClone(example.payload) as Record<string, any>;
  const id = 4_200_000_000 + Math.floor(Math.random() * 1_000_000);
  Object.assign(payload.workflow_job, {
    id,
    run_id: id + 1,
    run_attempt: 1,
    head_sha: repo.sha,
    head_branch: 'main',
    name: 'lint',
    workflow_name: 'CI',
    steps: [
      { name: 'Set up job', status: 'completed', conclusion: 'success', number: 1 },
      { name: 'Check formatting', status: 'completed', conclusion: 'failure', number: 3 },
    ],
  });
  payload.repository = { ...payload.repository, name: REPO, full_name: `${OWNER}/${REPO}`, owner: { ...payload.repository.owner, login: OWNER } };
  return { label: 'workflow_job failure (fixable)', event: 'workflow_job', deliveryId: randomUUID(), payload, origin: 'example, on a local repository whose prettier check fails' };
}
