import { guardDiff, type GuardRule, type GuardVerdict } from '@pitcrew/core';
import { chooseFixer, type FixContext, type Fixer, type FixerName, type FixerResult } from './fixer.ts';
import { runInSandbox } from './sandbox-run.ts';
import { workspaceDiff } from './workspace.ts';

/**
 * The verification of a fix: the failed step's own command re-run in the sandbox on the fixed
 * checkout. `left-to-ci` when no command could be derived or its toolchain is missing here (exit
 * 127, "command not found", POSIX `sh`): CI's next run decides, and the row says so.
 */
export type Verification =
  | { result: 'passed' | 'failed'; command: string; exitCode: number | null; ms: number; output: string; timedOut: boolean }
  | { result: 'left-to-ci'; command: string | null; reason: string; exitCode: number | null; ms: number | null; output: string | null };

/**
 * Runs the failed step's command on the fixed workspace.
 */
export async function verifyFix(context: Pick<FixContext, 'workspace' | 'step' | 'sandbox' | 'timeoutMs' | 'env' | 'signal'>): Promise<Verification> {
  const { step } = context;
  if (!step) return { result: 'left-to-ci', command: null, reason: 'no command of the failed step could be derived (workflow file or log)', exitCode: null, ms: null, output: null };
  const run = await runInSandbox(context.sandbox, context.workspace, { script: step.run, workingDirectory: step.workingDirectory, shell: step.shell }, { timeoutMs: context.timeoutMs, signal: context.signal, ...(context.env ? { env: context.env } : {}) });
  if (run.exitCode === 127) return { result: 'left-to-ci', command: step.run, reason: 'the toolchain of the failed step is missing in the sandbox (exit 127, command not found)', exitCode: 127, ms: run.ms, output: run.output };
  return { result: run.exitCode === 0 ? 'passed' : 'failed', command: step.run, ...run };
}

/** How one fix attempt ended, as `pitcrew eval fix` and the stages report it. */
export type FixStatus = 'not_attempted' | 'failed' | 'escalated' | 'refused' | 'verify_failed' | 'verified' | 'unverified';

/** One fix attempt without persistence: fixer → diff → guard → verification. */
export interface FixOutcome {
  status: FixStatus;
  fixer: FixerName | null;
  /** Why not attempted, failed or escalated; the guard's detail when refused. */
  reason: string | null;
  guardRule: GuardRule | null;
  diff: string;
  files: number;
  lines: number;
  fixerResult: FixerResult | null;
  verification: Verification | null;
  /** ms of the whole attempt. */
  ms: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
}

/** The status a guard verdict and a verification give a fix that was made. */
export function statusOf(guard: GuardVerdict, verification: Verification | null): FixStatus {
  if (!guard.ok) return 'refused';
  if (!verification) return 'unverified';
  return verification.result === 'passed' ? 'verified' : verification.result === 'failed' ? 'verify_failed' : 'unverified';
}

/**
 * One fix attempt on a checkout, nothing written or pushed: the fixer chosen by `mode`
 * (`chooseFixer`), `git diff` of the workspace, the guard (`guardDiff`, the failure's category and
 * the limits), then the verification (`verifyFix`). The stages do the same steps one by one with
 * an execution row each; `pitcrew eval fix` calls this.
 */
export async function attemptFix(context: FixContext, options: { mode: FixerName | 'auto'; fixers: { rules: Fixer; agent: Fixer | null } }): Promise<FixOutcome> {
  const started = performance.now();
  const base = { guardRule: null, diff: '', files: 0, lines: 0, verification: null, tokensIn: 0, tokensOut: 0, costUsd: 0 };
  const chosen = chooseFixer(options.mode, options.fixers, context);
  if ('reason' in chosen) return { ...base, status: 'not_attempted', fixer: null, reason: chosen.reason, fixerResult: null, ms: Math.round(performance.now() - started) };
  const result = await chosen.fixer.fix(context);
  const usage = { tokensIn: result.tokensIn, tokensOut: result.tokensOut, costUsd: result.costUsd };
  const ms = () => Math.round(performance.now() - started);
  if (result.kind !== 'edited') return { ...base, ...usage, status: result.kind, fixer: result.fixer, reason: result.reason, fixerResult: result, ms: ms() };
  const diff = await workspaceDiff(context.workspace);
  const guard = guardDiff(diff, { ...context.limits, category: context.category });
  const verification = guard.ok ? await verifyFix(context) : null;
  return {
    ...usage,
    status: statusOf(guard, verification),
    fixer: result.fixer,
    reason: guard.ok ? (verification?.result === 'left-to-ci' ? verification.reason : null) : guard.detail,
    guardRule: guard.ok ? null : guard.rule,
    diff,
    files: guard.files,
    lines: guard.lines,
    fixerResult: result,
    verification,
    ms: ms(),
  };
}
