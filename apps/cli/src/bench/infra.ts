import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDb, migrateToLatest } from '@pitcrew/core';
import { ensureRedisServer, startEmbeddedPostgres, startRedisServer, stopChild } from '@pitcrew/stack';
import { waitForHttp as waitForHttpOk } from '../wait-http.ts';

/** The `pitcrew` launcher (tsx over the TypeScript sources), as `pitcrew start` spawns it. */
export const PITCREW_BIN = fileURLToPath(new URL('../../bin/pitcrew.mjs', import.meta.url));

/** Progress line on stderr, so stdout keeps only the tables. */
export function progress(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

/** Redis and Postgres for one bench run, in a temporary directory removed by `stop`. */
export interface BenchStack {
  redisUrl: string;
  databaseUrl: string;
  /** Directory for child-process logs (inside the temporary directory). */
  dir: string;
  /** Process ids of the servers this bench started (absent when given by URL). */
  pids: { redis?: number; postgres?: number };
  stop(): Promise<void>;
}

/**
 * Starts a redis-server (AOF, fsync every second, as `pitcrew start` runs it) and an embedded
 * Postgres (durable, as in production) in a fresh temporary directory and migrates it, unless
 * `REDIS_URL` / `DATABASE_URL` are set. Children log to files there, never through this process,
 * so the load generator's CPU is not spent relaying logs.
 */
export async function startBenchStack(): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), 'pitcrew-bench-'));
  // Postgres runs as the `postgres` user when we are root; it must be able to pass through.
  chmodSync(dir, 0o711);
  const cleanups: (() => Promise<void>)[] = [];
  const pids: BenchStack['pids'] = {};
  try {
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const bin = await ensureRedisServer({ install: true, log: progress });
      const redis = await startRedisServer({ bin, dir: join(dir, 'redis'), appendonly: true });
      cleanups.push(() => redis.stop());
      redisUrl = redis.url;
      pids.redis = redis.pid;
      progress(`redis ${redisUrl}`);
    }
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: join(dir, 'postgres'), persistent: false });
      cleanups.push(() => pg.stop());
      databaseUrl = pg.url;
      pids.postgres = pg.pid;
      progress(`postgres 127.0.0.1:${pg.port}`);
    }
    const db = createDb(databaseUrl, 1);
    await migrateToLatest(db);
    await db.destroy();
    return {
      redisUrl,
      databaseUrl,
      dir,
      pids,
      async stop() {
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A child process of the bench. */
export interface BenchChild {
  name: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Spawns `node [--import tsx] <args>` with stdout/stderr going straight to `<logDir>/<name>.log`.
 * `.ts` scripts get the tsx loader, as `bin/pitcrew.mjs` does.
 */
export function spawnChild(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): BenchChild {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const loader = args[0]?.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  const child = spawn(process.execPath, [...loader, ...args], { env, stdio: ['ignore', fd, fd] });
  return {
    name,
    child,
    logFile,
    stop: () => stopChild(child, 'SIGTERM', 10_000),
  };
}


/**
 * Polls `url` until it answers 2xx ({@link waitForHttpOk}), giving up at once when `child` exits.
 * @throws {Error} after `timeoutMs`, or when `child` exits first (its log file is named)
 */
export async function waitForHttp(url: string, timeoutMs: number, child?: BenchChild): Promise<void> {
  const exited = () => (child && child.child.exitCode !== null ? `${child.name} exited with ${child.child.exitCode}; see ${child.logFile}` : undefined);
  try {
    await waitForHttpOk(url, timeoutMs, exited);
  } catch (error) {
    if (child && !exited()) throw new Error(`${(error as Error).message}; see ${child.logFile}`, { cause: error });
    throw error;
  }
}

/** Percentile (0..100) of a sample by nearest rank; NaN for an empty sample. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Facts about the machine a bench ran on, for the JSON and the README. */
export function machineInfo(): { nproc: number; cpu: string; node: string; date: string } {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    date: new Date().toISOString(),
  };
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux (getconf CLK_TCK); /proc/<pid>/stat counts in it

/**
 * User + system CPU ms of the processes and of their children already reaped (a postmaster's
 * ended backends), from /proc; 0 for processes gone or without /proc. Live children are not
 * included: pass them too (see {@link childrenOf}).
 */
export function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the command name start at field 3 (state): utime 14, stime 15, cutime 16, cstime 17.
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // The process ended between listing and reading.
    }
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Pids descending from `pid` (the postmaster's backends, through a `runuser` wrapper as root), from /proc. */
export function childrenOf(pid: number): number[] {
  const parents = new Map<number, number[]>();
  try {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
      } catch {
        // gone
      }
    }
  } catch {
    return [];
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}
