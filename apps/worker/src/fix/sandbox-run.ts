import { posix } from 'node:path';
import { quote } from 'shell-quote';
import { toOutgoing } from '@pitcrew/core';
import { SANDBOX_WORKSPACE, spawnSandboxed, type SandboxPolicy } from '../sandbox/sandbox.ts';

/** Bytes of a command's output kept for the row (its tail, redacted). */
export const OUTPUT_TAIL_BYTES = 4_000;

/** One command run in the sandbox: exit code (`null` when killed), ms, the redacted tail of stdout and stderr together. */
export interface SandboxRun {
  exitCode: number | null;
  ms: number;
  output: string;
  timedOut: boolean;
}

/**
 * Runs `script` with `sh -e -c` (or `bash` when the step names it as its shell) in the sandbox, in
 * `workingDirectory` of the workspace (kept inside it), killed with its process group after
 * `timeoutMs` or on `signal`. The output tail is redacted before it is returned: it is published
 * in the PR body and stored on the fix attempt.
 */
export function runInSandbox(
  policy: SandboxPolicy,
  workspace: string,
  command: { script: string; workingDirectory: string | null; shell: string | null },
  options: { timeoutMs: number; env?: Record<string, string | undefined>; signal?: AbortSignal },
): Promise<SandboxRun> {
  const shell = command.shell && /^(?:\/usr\/bin\/)?bash\b/.test(command.shell) ? '/bin/bash' : '/bin/sh';
  const inside = command.workingDirectory ? posix.join(SANDBOX_WORKSPACE, posix.normalize(`/${command.workingDirectory}`)) : SANDBOX_WORKSPACE;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawnSandboxed(policy, {
      bin: shell,
      // The working directory comes from the repository's workflow file: quoted, never interpreted.
      args: ['-e', '-c', `cd ${quote([policy.kind === 'none' ? posix.join(workspace, posix.relative(SANDBOX_WORKSPACE, inside)) : inside])} && ${command.script}`],
      workspace,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', CI: 'true', ...options.env },
    });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-OUTPUT_TAIL_BYTES * 2);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.stdin.on('error', () => {});
    child.stdin.end();
    let timedOut = false;
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    child.on('close', (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      resolve({ exitCode: code, ms: Math.round(performance.now() - started), output: toOutgoing(output.slice(-OUTPUT_TAIL_BYTES), 'publish').text, timedOut });
    });
  });
}
