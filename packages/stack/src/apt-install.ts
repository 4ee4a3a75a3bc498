import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
