import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sign } from '@octokit/webhooks-methods';
import type { Kysely } from 'kysely';
import type { Database } from '@pitcrew/core';
import { findFreePort } from '@pitcrew/stack';
import { afterAll, beforeAll, inject } from 'vitest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';

/**
 * Shared pieces of the fault suite (`npm run test:faults`): real `pitcrew ingest` / `pitcrew
 * worker` processes spawned exactly as `pitcrew start` spawns them, signed deliveries over HTTP,
 * and polling helpers. Every process a test starts is registered and killed in `stopAll()`.
 */

const require = createRequire(import.meta.url);
/** The CLI entry `pitcrew start` spawns for each role. */
export const PITCREW_BIN = fileURLToPath(new URL('../../apps/cli/bin/pitcrew.mjs', import.meta.url));
export const SECRET = 'faults-secret-0123456789abcdef';

/** A `pitcrew` child process: `pitcrew ingest`, `pitcrew worker`, or any command ({@link spawnPitcrew}). */
export interface RoleProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Its combined stdout/stderr so far (pino JSON lines). */
  output(): string;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<number | NodeJS.Signals>;
  /** True once it exited. */
  readonly gone: boolean;
  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | NodeJS.Signals>;
}

const running = new Set<RoleProcess>();
const scratchDirs: string[] = [];

/**
 * A temporary directory removed by {@link stopAll}. A server writing into one (Redis, Postgres)
 * must be stopped before stopAll, or the removal races its writes (ENOTEMPTY).
 */
export function scratchDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pitcrew-faults-${label}-`));
  chmodSync(dir, 0o755); // as root, Postgres runs as `postgres`, which must pass through
  scratchDirs.push(dir);
  return dir;
}

/**
 * Spawns `pitcrew <role>` with `env` (on top of PATH/HOME only, so no `.env` or outer variables
 * leak in: the working directory is an empty scratch dir). Output goes to a log file.
 * `wrap` runs it under another command, e.g. `['ip', 'netns', 'exec', 'ns1']`.
 */
export function spawnRole(role: 'ingest' | 'worker', name: string, env: Record<string, string>, wrap: string[] = []): RoleProcess {
  return spawnPitcrew(name, [role], env, wrap);
}

/**
 * Spawns `pitcrew <args>` (e.g. `['start', '--workers', '3']`) the way {@link spawnRole} spawns a
 * role: `env` on top of PATH/HOME only, an empty scratch dir as working directory, output in
 * `<scratch>/<name>.log` and {@link RoleProcess.output}, killed by {@link stopAll}.
 */
export function spawnPitcrew(name: string, args: string[], env: Record<string, string>, wrap: string[] = []): RoleProcess {
  const cwd = scratchDir(name);
  const logFile = join(cwd, `${name}.log`);
  const log: WriteStream = createWriteStream(logFile);
  const argv = [...wrap, process.execPath, PITCREW_BIN, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      log.write(chunk);
    });
  }
  let gone = false;
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    // 'close': the process is gone and its output fully read.
    child.once('close', (code, signal) => {
      gone = true;
      running.delete(handle);
      resolve(signal ?? code ?? 0);
    });
  });
  const handle: RoleProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => Buffer.concat(chunks).toString('utf8'),
    exited,
    get gone() {
      return gone;
    },
    async stop(signal = 'SIGTERM', graceMs = 40_000) {
      if (gone) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  running.add(handle);
  return handle;
}

/** Kills every process still running (SIGKILL) and removes the scratch directories. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL', 5_000)));
  // FAULTS_KEEP=1 keeps the process logs for a look after a failure.
  if (process.env.FAULTS_KEEP) note(`kept: ${scratchDirs.splice(0).join(' ')}`);
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Common environment of a test's processes. */
export function baseEnv(o: { redisUrl: string; databaseUrl: string; prefix: string }): Record<string, string> {
  return {
    REDIS_URL: o.redisUrl,
    DATABASE_URL: o.databaseUrl,
    PITCREW_QUEUE_PREFIX: o.prefix,
    GITHUB_WEBHOOK_SECRET: SECRET,
    PITCREW_DB_POOL_SIZE: '4',
  };
}

/** Starts `pitcrew ingest` on a free port and waits for `/readyz`. */
export async function startIngestProcess(name: string, env: Record<string, string>, wrap: string[] = [], host = '127.0.0.1'): Promise<RoleProcess & { url: string }> {
  const port = await findFreePort();
  const proc = spawnRole('ingest', name, { HOST: host, PORT: String(port), ...env }, wrap);
  const url = `http://${host}:${port}`;
  await waitFor(`${name} ready`, 60_000, async () => {
    if (proc.gone) throw new Error(`${name} exited:\n${proc.output().slice(-3000)}`);
    try {
      return (await fetch(`${url}/readyz`)).ok;
    } catch {
      return false;
    }
  });
  return Object.assign(proc, { url });
}

/** Starts `pitcrew worker` and waits for its "worker started" log line. */
export async function startWorkerProcess(name: string, env: Record<string, string>, wrap: string[] = []): Promise<RoleProcess> {
  const proc = spawnRole('worker', name, env, wrap);
  await waitFor(`${name} started`, 60_000, async () => {
    if (proc.gone) throw new Error(`${name} exited:\n${proc.output().slice(-3000)}`);
    return proc.output().includes('"worker started"');
  });
  return proc;
}

/**
 * Polls `check` every 100 ms until it returns a truthy value.
 * @throws {Error} naming `what` after `timeoutMs`, or the error `check` throws
 */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | false | undefined | null> | T | false | undefined | null, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await check();
    if (value) return value;
    last = value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const jobFailure = sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.action === 'completed' && e.workflow_job.conclusion === 'failure');

/**
 * GitHub's own failed `workflow_job` example with job id and run id made unique by `n`, so
 * `n` gives failure `gh-job-<jobId>`. `tag` keeps runs of different tests apart.
 */
export function failedJobPayload(n: number, tag = 0): { payload: any; failureId: string; jobId: number } {
  const payload = structuredClone(jobFailure);
  const jobId = 7_000_000_000 + tag * 1_000_000 + n;
  payload.workflow_job.id = jobId;
  payload.workflow_job.run_id = 8_000_000_000 + tag * 1_000_000 + n;
  payload.workflow_job.name = `test (shard ${n})`;
  return { payload, failureId: `gh-job-${jobId}`, jobId };
}

/** An answer of ingest. */
export interface Sent {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown> | null;
  /** ms from send to the answer. */
  ms: number;
}

/** Posts one signed delivery, as GitHub does. Network errors answer status 0. */
export async function sendDelivery(ingestUrl: string, event: string, payload: unknown, deliveryId: string = randomUUID(), signal?: AbortSignal): Promise<Sent> {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const started = performance.now();
  try {
    const res = await fetch(`${ingestUrl}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-github-delivery': deliveryId,
        'x-hub-signature-256': await sign(SECRET, body),
      },
      body,
      ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    let json: Record<string, unknown> | null = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: json, ms: performance.now() - started };
  } catch {
    return { status: 0, retryAfter: null, body: null, ms: performance.now() - started };
  }
}

/** Failures by status. */
export async function statusCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db.selectFrom('failures').select(['status']).select((eb) => eb.fn.countAll<string>().as('n')).groupBy('status').execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/**
 * The exactly-once checks on `failureIds`: each one is in `failures` once, final, and has at most
 * one execution row per (stage, attempt) (the primary key guarantees that; counted anyway) and
 * exactly one succeeded row per stage when triaged, and no execution row is left `running`.
 * `exhaustive` (default true) also reports failures that are not in `failureIds`.
 *
 * @returns a list of violations, empty when all hold
 */
export async function exactlyOnceViolations(db: Kysely<Database>, failureIds: string[], options: { exhaustive?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const wanted = new Set(failureIds);
  const all = await db.selectFrom('failures').select(['id', 'status', 'error']).execute();
  const failures = options.exhaustive === false ? all.filter((f) => wanted.has(f.id)) : all;
  const byId = new Map(failures.map((f) => [f.id, f]));
  for (const id of failureIds) {
    const f = byId.get(id);
    if (!f) problems.push(`${id}: missing`);
    else if (f.status !== 'triaged' && f.status !== 'failed') problems.push(`${id}: ${f.status}`);
  }
  const extra = failures.filter((f) => !wanted.has(f.id));
  if (extra.length) problems.push(`unexpected failures: ${extra.map((f) => f.id).join(', ')}`);
  const executions = (await db.selectFrom('executions').select(['failure_id', 'stage', 'attempt', 'status']).execute()).filter(
    (e) => options.exhaustive !== false || wanted.has(e.failure_id),
  );
  const keys = new Map<string, number>();
  const succeeded = new Map<string, number>();
  for (const e of executions) {
    const key = `${e.failure_id}/${e.stage}/${e.attempt}`;
    keys.set(key, (keys.get(key) ?? 0) + 1);
    if (e.status === 'succeeded') succeeded.set(`${e.failure_id}/${e.stage}`, (succeeded.get(`${e.failure_id}/${e.stage}`) ?? 0) + 1);
    if (e.status === 'running') problems.push(`${key}: execution still running`);
  }
  for (const [key, n] of keys) if (n > 1) problems.push(`${key}: ${n} execution rows`);
  for (const f of failures) {
    if (f.status !== 'triaged') continue;
    for (const stage of ['classify', 'execute', 'summarize']) {
      const n = succeeded.get(`${f.id}/${stage}`) ?? 0;
      if (n !== 1) problems.push(`${f.id}/${stage}: ${n} succeeded executions`);
    }
  }
  return problems;
}

/** Test-only note on stdout, visible in the vitest output. */
export function note(line: string): void {
  process.stdout.write(`[faults] ${line}\n`);
}

/**
 * A fault file that runs pitcrew with the llm runner against a fake LLM: registers `beforeAll`
 * (its own database clone and fake LLM) and `afterAll` (stops every process, the fake LLM, drops
 * the database and the Redis keys under `prefix`). `tdb` and `llm` are set once `beforeAll` ran.
 */
export function useModelFaults(): {
  readonly prefix: string;
  readonly tdb: TestDatabase;
  readonly llm: FakeLlm;
  /** Environment of pitcrew processes whose only model is the fake LLM (no retries inside a call, model classification off). */
  modelEnv(): Record<string, string>;
} {
  const prefix = testPrefix();
  let tdb: TestDatabase | undefined;
  let llm: FakeLlm | undefined;
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`useModelFaults: ${name} is set in beforeAll`);
    return value;
  };
  beforeAll(async () => {
    [tdb, llm] = await Promise.all([createTestDatabase(), startFakeLlm({ model: 'fault-model' })]);
  });
  afterAll(async () => {
    await stopAll();
    await llm?.stop();
    await tdb?.destroy();
    const redis = createTestRedis();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });
  return {
    prefix,
    get tdb() {
      return ready(tdb, 'tdb');
    },
    get llm() {
      return ready(llm, 'llm');
    },
    modelEnv() {
      return {
        ...baseEnv({ redisUrl: inject('redisUrl'), databaseUrl: ready(tdb, 'tdb').url, prefix }),
        PITCREW_RUNNER: 'llm',
        LLM_BASE_URL: ready(llm, 'llm').url,
        LLM_MODEL: 'fault-model',
        LLM_MAX_RETRIES: '0',
        PITCREW_LLM_CLASSIFY_BELOW: '0',
      };
    },
  };
}
