import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';

/**
 * The container images without Docker: for each app Dockerfile, builds what its runtime stage
 * holds (the bundle made by the Dockerfile's own `node scripts/bundle.mjs dist …` step, plus the
 * node_modules packages it copies) in a directory outside the workspace, so nothing resolves from
 * the workspace's node_modules; then runs the image's CMD and HEALTHCHECK and the migration
 * one-shot against the harness's Redis and Postgres, and sends a signed delivery through.
 */
const ROOT = resolve(import.meta.dirname, '../../../..');
const require = createRequire(import.meta.url);
const SECRET = 'bundle-webhook-secret-0123';
const ADMIN_TOKEN = 'bundle-admin-token-0123456789';

interface Image {
  /** Entry points the build stage bundles. */
  entries: string[];
  /** Packages the runtime stage copies from the build stage's node_modules. */
  packages: string[];
  cmd: string[];
  healthcheck: string[];
}

/** What the build and runtime stages of an app Dockerfile put into the image. */
function readDockerfile(path: string): Image {
  const lines = readFileSync(join(ROOT, path), 'utf8')
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  // `npm ci` needs every workspace's package.json next to the lockfile.
  const workspaces = ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(ROOT, group)).filter((name) => existsSync(join(ROOT, group, name, 'package.json'))).map((name) => `${group}/${name}/package.json`),
  );
  for (const ws of workspaces) expect(lines.some((l) => l.startsWith(`COPY ${ws} `)), `${path}: COPY ${ws}`).toBe(true);
  for (const line of lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
    for (const source of line.split(/\s+/).slice(1, -1)) expect(existsSync(join(ROOT, source)), `${path}: COPY ${source}`).toBe(true);
  }
  const bundle = lines.find((l) => l.startsWith('RUN node scripts/bundle.mjs dist '));
  const healthcheck = lines.find((l) => l.startsWith('HEALTHCHECK '));
  const cmd = lines.find((l) => l.startsWith('CMD '));
  if (!bundle || !healthcheck || !cmd) throw new Error(`${path}: no bundle step, HEALTHCHECK or CMD`);
  return {
    entries: bundle.split(/\s+/).slice(4),
    packages: lines.flatMap((l) => /^COPY --from=build \/app\/node_modules\/(\S+) \.\/node_modules\/\1$/.exec(l)?.[1] ?? []),
    cmd: JSON.parse(cmd.slice(4)) as string[],
    healthcheck: JSON.parse(healthcheck.slice(healthcheck.indexOf(' CMD ') + 5)) as string[],
  };
}

/** Runs a command to its end. */
function run(command: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command[0]!, command.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

/** Builds an image's runtime directory: bundles its entries and copies its node_modules packages. */
async function buildRuntime(image: Image): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pitcrew-image-'));
  const bundled = await run([process.execPath, 'scripts/bundle.mjs', dir, ...image.entries], { cwd: ROOT, env: process.env });
  expect(bundled, bundled.output).toMatchObject({ code: 0 });
  for (const pkg of image.packages) cpSync(join(ROOT, 'node_modules', pkg), join(dir, 'node_modules', pkg), { recursive: true, dereference: true });
  return dir;
}

/** Retries a health check command until it exits 0, at most `ms`. */
async function healthy(command: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const result = await run(command, options);
    if (result.code === 0) return result.output;
    if (Date.now() > deadline) throw new Error(`not healthy: ${result.output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePromise(port));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null) resolvePromise(child.exitCode);
    else child.once('exit', (code) => resolvePromise(code));
  });
}

describe('container images (runtime stages built without Docker)', () => {
  const prefix = testPrefix();
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  let tdb: TestDatabase;
  let redis: Redis;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    redis = createTestRedis();
    // Only what compose passes; HOME and PATH as a container has them.
    env = {
      PATH: process.env.PATH,
      HOME: tmpdir(),
      NODE_ENV: 'production',
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: tdb.url,
      PITCREW_QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await tdb.destroy();
  });

  it('worker image: migrate one-shot, workers healthy, ingest image takes a delivery that gets triaged, the console image shows it; all stop on SIGTERM', async () => {
    const worker = readDockerfile('apps/worker/Dockerfile');
    const ingest = readDockerfile('apps/ingest/Dockerfile');
    const consoleImage = readDockerfile('apps/console/Dockerfile');
    const [workerDir, ingestDir, consoleDir] = await Promise.all([buildRuntime(worker), buildRuntime(ingest), buildRuntime(consoleImage)]);
    dirs.push(workerDir, ingestDir, consoleDir);

    // The compose `migrate` service: `node migrate.mjs` exits 0 (the harness's database is already migrated).
    const migrated = await run([process.execPath, 'migrate.mjs'], { cwd: workerDir, env });
    expect(migrated.output).toMatch(/schema up to date|applied:/);
    expect(migrated.code).toBe(0);

    // Not healthy before a worker runs: the health check looks for this host's workers in Redis.
    expect((await run(worker.healthcheck, { cwd: workerDir, env })).code).toBe(1);
    const workerProcess = spawn(worker.cmd[0]!, worker.cmd.slice(1), { cwd: workerDir, env, stdio: 'inherit' });
    children.push(workerProcess);
    expect(await healthy(worker.healthcheck, { cwd: workerDir, env })).toMatch(/worker connection\(s\) of host/);

    const ingestEnv = { ...env, PORT: String(await freePort()), HOST: '127.0.0.1', GITHUB_WEBHOOK_SECRET: SECRET };
    const ingestProcess = spawn(ingest.cmd[0]!, ingest.cmd.slice(1), { cwd: ingestDir, env: ingestEnv, stdio: 'inherit' });
    children.push(ingestProcess);
    await healthy(ingest.healthcheck, { cwd: ingestDir, env: ingestEnv });
    const base = `http://127.0.0.1:${ingestEnv.PORT}`;

    // Ingest's image serves no admin routes.
    expect((await fetch(`${base}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);

    const consoleEnv = { ...env, PITCREW_CONSOLE_PORT: String(await freePort()), PITCREW_CONSOLE_HOST: '127.0.0.1', PITCREW_ADMIN_TOKEN: ADMIN_TOKEN };
    const consoleProcess = spawn(consoleImage.cmd[0]!, consoleImage.cmd.slice(1), { cwd: consoleDir, env: consoleEnv, stdio: 'inherit' });
    children.push(consoleProcess);
    await healthy(consoleImage.healthcheck, { cwd: consoleDir, env: consoleEnv });
    const consoleBase = `http://127.0.0.1:${consoleEnv.PITCREW_CONSOLE_PORT}`;
    // Bull Board works from the copied UI package alone; the pages render from the bundle.
    const board = await fetch(`${consoleBase}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(board.status).toBe(200);
    expect(await board.text()).toMatch(/<title>pitcrew<\/title>/);
    expect(await (await fetch(`${consoleBase}/login`)).text()).toContain('<label for="token">Admin token</label>');
    expect((await (await fetch(`${consoleBase}/api/openapi.json`)).json()) as { openapi: string }).toMatchObject({ openapi: '3.1.0' });

    const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
    const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
    payload.workflow_job.id = Math.floor(Math.random() * 1e12);
    const body = JSON.stringify(payload);
    const response = await fetch(`${base}/webhooks/github`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'workflow_job',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': await sign(SECRET, body),
      },
    });
    expect(response.status).toBe(202);
    const { failureId } = (await response.json()) as { failureId: string };
    const deadline = Date.now() + 15_000;
    let status: string | undefined;
    while (Date.now() < deadline && status !== 'triaged') {
      status = (await tdb.db.selectFrom('failures').select('status').where('id', '=', failureId).executeTakeFirst())?.status;
      if (status !== 'triaged') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('triaged');
    const shown = await fetch(`${consoleBase}/api/failures/${failureId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(((await shown.json()) as { failure: { status: string } }).failure.status).toBe('triaged');

    consoleProcess.kill('SIGTERM');
    expect(await exited(consoleProcess)).toBe(0);
    ingestProcess.kill('SIGTERM');
    workerProcess.kill('SIGTERM');
    expect(await exited(ingestProcess)).toBe(0);
    expect(await exited(workerProcess)).toBe(0);
  }, 60_000);
});
