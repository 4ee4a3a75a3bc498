import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { createOutputTail } from './output-tail.ts';

/** True when this process may install Debian packages: running as root on Debian or Ubuntu. */
export function canAptInstall(): boolean {
  return process.getuid?.() === 0 && existsSync('/etc/debian_version');
}

/**
 * Runs `apt-get update` then `apt-get install -y <packages>` non-interactively.
 *
 * @param log receives each output line, prefixed `apt: `
 * @throws {Error} when either command cannot start or exits non-zero (message has its last lines)
 */
export async function aptInstall(packages: string[], log: (line: string) => void): Promise<void> {
  await runApt(['-q', 'update'], log);
  await runApt(['-q', '-y', '-o', 'Dpkg::Use-Pty=0', '--no-install-recommends', 'install', ...packages], log);
}

/**
 * Makes sure the executable `path` (from the Debian package `pkg`) is there: when missing and this
 * process may ({@link canAptInstall}) and `install` is not false, `apt-get install pkg`.
 *
 * @param log progress lines (`apt: ...`)
 * @returns whether `path` is executable afterwards
 * @throws {Error} when apt-get itself fails
 */
export async function ensureDebianTool(path: string, pkg: string, opts: { install?: boolean; log?: (line: string) => void } = {}): Promise<boolean> {
  const present = () => access(path, constants.X_OK).then(() => true, () => false);
  if (await present()) return true;
  if (opts.install === false || !canAptInstall()) return false;
  await aptInstall([pkg], opts.log ?? (() => {}));
  return present();
}

function runApt(args: string[], log: (line: string) => void): Promise<void> {
  const command = `apt-get ${args.join(' ')}`;
  log(`apt: $ ${command}`);
  const tail = createOutputTail(20, (line) => log(`apt: ${line}`));
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8').on('data', tail.push);
    child.stderr.setEncoding('utf8').on('data', tail.push);
    child.once('error', (err) => reject(new Error(`cannot run ${command}`, { cause: err })));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} failed (code ${code}, signal ${signal}):\n${tail.text()}`));
    });
  });
}
