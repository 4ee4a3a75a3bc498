import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { aptInstall, canAptInstall } from './apt-install.ts';
import { hasExited, killOnExit, stopChild, waitForExit } from './child-process.ts';
import { findExecutable, isExecutableFile } from './find-executable.ts';
import { createOutputTail } from './output-tail.ts';
import { findFreePort } from './ports.ts';
import { RedisServerMissingError } from './redis-server-missing-error.ts';

export { RedisServerMissingError } from './redis-server-missing-error.ts';

/** A running redis-server started by {@link startRedisServer}. */
export interface RedisServerHandle {
  /** `redis://host:port`, no password (it listens on loopback only). */
  url: string;
  port: number;
  pid: number;
  /** SIGTERM, SIGKILL after 5 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
  /** Sends `signal` (e.g. SIGKILL, a crash without shutdown) and resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** True once the process has exited, whoever ended it. */
  readonly exited: boolean;
}

/** Options of {@link ensureRedisServer}. */
export interface EnsureRedisServerOptions {
  /** Install with apt-get when missing, if root on Debian/Ubuntu (default true). */
  install?: boolean;
  /** Progress lines (`apt: ...`); dropped by default. */
  log?: (line: string) => void;
}

/** Options of {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** redis-server binary (default: {@link ensureRedisServer} without installing). */
  bin?: string;
  /** TCP port; 0 or undefined picks a free one. */
  port?: number;
  /** Address to bind (default `127.0.0.1`). */
  host?: string;
  /** Working directory for the AOF files; created if missing. */
  dir: string;
  /** Append-only file with fsync every second, for durability (default true). */
  appendonly?: boolean;
  /** Each output line of redis-server, prefixed `redis: `; dropped by default. */
  log?: (line: string) => void;
  /** More `--name value` arguments, after the defaults (e.g. `--cluster-enabled yes`). */
  extraArgs?: string[];
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const READY_LINE = /ready to accept connections/i;
const ADDRESS_IN_USE = /address already in use/i;

/**
 * Finds a redis-server binary: `REDIS_SERVER_BIN` when set (then nothing else is tried), else
 * PATH and the usual install directories. When none is found, `install !== false`, the process
 * runs as root and `/etc/debian_version` exists, runs `apt-get update` and
 * `apt-get install -y redis-server` (lines streamed to `log`) and looks again.
 *
 * @returns the absolute path of redis-server
 * @throws {RedisServerMissingError} when no binary is found or installed (`cause`: apt failure)
 */
export async function ensureRedisServer(opts: EnsureRedisServerOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const fromEnv = process.env.REDIS_SERVER_BIN;
  if (fromEnv) {
    const file = resolvePath(fromEnv);
    if (await isExecutableFile(file)) return file;
    throw new RedisServerMissingError(`REDIS_SERVER_BIN is set to ${fromEnv}, which is not an executable file.`);
  }
  const found = await findExecutable('redis-server');
  if (found) return found;
  if (opts.install === false || !canAptInstall()) throw new RedisServerMissingError();
  log('apt: redis-server not found; installing it with apt-get');
  try {
    await aptInstall(['redis-server'], log);
  } catch (err) {
    throw new RedisServerMissingError('redis-server was not found on PATH and installing it failed.', { cause: err });
  }
  const installed = await findExecutable('redis-server');
  if (installed) return installed;
  throw new RedisServerMissingError('apt-get installed redis-server but it is still not on PATH.');
}

/**
 * Starts redis-server in the foreground as a child process, configured as BullMQ requires
 * (`maxmemory-policy noeviction`), no RDB snapshots, AOF when `appendonly`, loopback only.
 * A free port that another process grabs first is retried (up to 3 ports). The child is
 * SIGTERMed when Node exits normally.
 *
 * @returns once redis-server logged "Ready to accept connections"
 * @throws {RedisServerMissingError} when `bin` is not given and none is found
 * @throws {Error} when it exits early or is not ready within 15 s (message has its last output)
 */
export async function startRedisServer(opts: StartRedisServerOptions): Promise<RedisServerHandle> {
  const log = opts.log ?? (() => {});
  const bin = opts.bin ?? (await ensureRedisServer({ install: false, log }));
  const host = opts.host ?? '127.0.0.1';
  const dir = resolvePath(opts.dir);
  await mkdir(dir, { recursive: true });
  const attempts = opts.port ? 1 : 3;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await findFreePort(host));
    try {
      return await spawnRedis({ bin, host, port, dir, appendonly: opts.appendonly ?? true, log, extraArgs: opts.extraArgs ?? [] });
    } catch (err) {
      const retry = attempt < attempts && err instanceof Error && ADDRESS_IN_USE.test(err.message);
      if (!retry) throw err;
      log(`redis: port ${port} was taken, trying another`);
    }
  }
}

interface SpawnRedisOptions {
  bin: string;
  host: string;
  port: number;
  dir: string;
  appendonly: boolean;
  log: (line: string) => void;
  extraArgs: string[];
}

async function spawnRedis(o: SpawnRedisOptions): Promise<RedisServerHandle> {
  const args = [
    '--port', String(o.port),
    '--bind', o.host,
    '--dir', o.dir,
    '--appendonly', o.appendonly ? 'yes' : 'no',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    '--protected-mode', 'yes',
    ...o.extraArgs,
  ];
  let onReady = (): void => {};
  const tail = createOutputTail(40, (line) => {
    o.log(`redis: ${line}`);
    if (READY_LINE.test(line)) onReady();
  });
  const child = spawn(o.bin, args, { cwd: o.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', tail.push);
  child.stderr.setEncoding('utf8').on('data', tail.push);
  const removeExitHook = killOnExit(child, 'SIGTERM');
  const where = `${o.bin} on ${o.host}:${o.port}, dir ${o.dir}`;

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`redis-server (${where}) was not ready after ${READY_TIMEOUT_MS / 1000} s. Last output:\n${tail.text()}`));
      }, READY_TIMEOUT_MS);
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        if (err) reject(err);
        else resolve();
      };
      const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        settle(new Error(`redis-server (${where}) exited before it was ready (code ${code}, signal ${signal}). Last output:\n${tail.text()}`));
      };
      onReady = () => settle();
      child.on('error', (err) => settle(new Error(`cannot start redis-server (${where})`, { cause: err })));
      child.once('exit', onEarlyExit);
    });
  } catch (err) {
    await stopChild(child, 'SIGKILL', 1_000);
    removeExitHook();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  child.once('exit', (code, signal) => {
    if (!stopping) o.log(`redis: exited unexpectedly (code ${code}, signal ${signal})`);
  });
  return {
    url: `redis://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`,
    port: o.port,
    pid: child.pid ?? -1,
    get exited() {
      return hasExited(child);
    },
    async kill(signal) {
      stopping ??= (async () => {
        if (!hasExited(child)) child.kill(signal);
        await waitForExit(child, 10_000);
        removeExitHook();
      })();
      await stopping;
    },
    stop() {
      stopping ??= (async () => {
        if (!hasExited(child)) await stopChild(child, 'SIGTERM', STOP_GRACE_MS);
        removeExitHook();
      })();
      return stopping;
    },
  };
}
