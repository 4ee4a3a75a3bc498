import { execFile } from 'node:child_process';
import { posix } from 'node:path';
import { promisify } from 'node:util';
import { quote } from 'shell-quote';
import { fixFormOf, guardDiff, toOutgoing, type GuardLimits, type GuardRule, type StepCommand } from '@pitcrew/core';
import { SANDBOX_WORKSPACE, spawnSandboxed, type SandboxPolicy } from '../sandbox/sandbox.ts';

const run = promisify(execFile);

/** Bytes of a command's output kept for the row (its tail, redacted). */
const OUTPUT_TAIL_BYTES = 4_000;

/** One command run in the sandbox: exit code (`null` when killed), ms, the redacted tail of stdout and stderr together. */
export interface SandboxRun {
  exitCode: number | null;
  ms: number;
  output: string;
  timedOut: boolean;
}

/**
 * Runs `script` with `sh -c` (or the step's own shell, `bash`, when it names one) in the sandbox,
 * in `workingDirectory` of the workspace, killed with its process group after `timeoutMs`.
 */
export function runInSandbox(
  policy: SandboxPolicy,
  workspace: string,
  command: { script: string; workingDirectory: string | null; shell: string | null },
  options: { timeoutMs: number; env?: Record<string, string | undefined> },
): Promise<SandboxRun> {
  const shell = command.shell && /^(?:\/usr\/bin\/)?bash\b/.test(command.shell) ? '/bin/bash' : '/bin/sh';
  const cwd = command.workingDirectory ? posix.join(SANDBOX_WORKSPACE, posix.normalize(command.workingDirectory).replace(/^(\.\.(\/|$))+/, '')) : SANDBOX_WORKSPACE;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawnSandboxed(policy, {
      bin: shell,
      // The working directory comes from the repository's workflow file: quoted, never interpreted.
      args: ['-e', '-c', `cd ${quote([cwd])} && ${command.script}`],
      workspace,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', CI: 'true', ...options.env },
    });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-OUTPUT_TAIL_BYTES * 2);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.stdin.end();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, ms: Math.round(performance.now() - started), output: toOutgoing(output.slice(-OUTPUT_TAIL_BYTES), 'publish').text, timedOut });
    });
  });
}

/** How a rules fix attempt ended. */
export type RulesFixResult =
  | { status: 'not_applicable'; reason: string }
  | { status: 'refused'; rule: GuardRule; detail: string; diff: string; files: number; lines: number }
  | { status: 'verify_failed' | 'verified'; diff: string; files: number; lines: number; fix: SandboxRun & { command: string }; verify: SandboxRun & { command: string } }
  | { status: 'failed'; reason: string; fix?: SandboxRun & { command: string } };

/**
 * The rules fixer on a checkout of the failing SHA: when the failed step runs a known check with a
 * known fix form (`fixFormOf`), runs the fix form in the sandbox, takes `git diff` of the
 * workspace, passes it through the guard (`guardDiff`), and verifies by running the failed step's
 * own command in the sandbox again. Nothing is committed or pushed here.
 *
 * @param step the failed step's command (`stepCommandFromWorkflow` / `stepCommandFromLog`)
 */
export async function attemptRulesFix(options: {
  workspace: string;
  step: StepCommand;
  sandbox: SandboxPolicy;
  limits: GuardLimits;
  timeoutMs: number;
}): Promise<RulesFixResult> {
  const { workspace, step, sandbox } = options;
  const lines = step.run.trim().split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  if (lines.length !== 1) return { status: 'not_applicable', reason: `the failed step runs ${lines.length} commands; the rules fixer knows single checks` };
  const form = fixFormOf(lines[0]!);
  if (!form) return { status: 'not_applicable', reason: `no fix form is known for \`${lines[0]!.trim().slice(0, 120)}\`` };
  const where = { workingDirectory: step.workingDirectory, shell: step.shell };
  const fix = { ...(await runInSandbox(sandbox, workspace, { script: form.command, ...where }, { timeoutMs: options.timeoutMs })), command: form.command };
  if (fix.exitCode !== 0) return { status: 'failed', reason: `the fix form exited ${fix.timedOut ? 'after its timeout' : fix.exitCode}`, fix };
  // The workspace belongs to the sandbox's user: git would refuse it as "dubious ownership".
  const { stdout: diff } = await run('git', ['-c', `safe.directory=${workspace}`, '-C', workspace, 'diff', '--no-color', '--no-ext-diff'], { maxBuffer: 64 * 1024 * 1024 });
  const guard = guardDiff(diff, options.limits);
  if (!guard.ok) return { status: 'refused', rule: guard.rule, detail: guard.detail, diff, files: guard.files, lines: guard.lines };
  const verify = { ...(await runInSandbox(sandbox, workspace, { script: step.run, ...where }, { timeoutMs: options.timeoutMs })), command: step.run };
  return { status: verify.exitCode === 0 ? 'verified' : 'verify_failed', diff, files: guard.files, lines: guard.lines, fix, verify };
}
