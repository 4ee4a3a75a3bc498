import { iterationLine, verifyFix, type FixContext, type FixOutcome } from '@pitcrew/worker';
import type { FixCaseCiCheck } from './fix-corpus.ts';

/** One check of a case's CI, as it ran on a fix. */
export interface CiCheckRun {
  job: string;
  step: string;
  command: string;
  /** `null` when it did not end by itself (timed out) or its toolchain is missing (exit 127). */
  exitCode: number | null;
  ms: number;
}

/**
 * CI's verdict on a fix: `passed` when every check passed; `failed` at the first check that
 * failed (later checks do not run, as later steps of a job do not); `left-to-ci` when a check's
 * toolchain is missing here (no verdict).
 */
export type CiVerdict =
  | { result: 'passed'; checks: CiCheckRun[] }
  | { result: 'failed' | 'left-to-ci'; checks: CiCheckRun[]; failed: FixCaseCiCheck; output: string };

/**
 * Runs a case's CI on the fixed checkout: each check's command in the sandbox, in order, the way
 * the fix's verification runs the failed step (`verifyFix`).
 */
export async function runCaseCi(checks: readonly FixCaseCiCheck[], context: Pick<FixContext, 'workspace' | 'sandbox' | 'timeoutMs' | 'env' | 'signal'>): Promise<CiVerdict> {
  const runs: CiCheckRun[] = [];
  for (const check of checks) {
    const verification = await verifyFix({ ...context, step: check.command });
    runs.push({ job: check.job, step: check.step, command: check.command.run, exitCode: verification.result === 'passed' || verification.result === 'failed' ? verification.exitCode : null, ms: Math.round(verification.ms ?? 0) });
    if (verification.result === 'passed') continue;
    return { result: verification.result, checks: runs, failed: check, output: verification.output ?? '' };
  }
  return { result: 'passed', checks: runs };
}

/** Lines of CI's output the next iteration gets as its excerpt, at most (the end of the log, where checks report). */
const TAIL_LINES = 80;

/** The tail of a failing check's output: its last {@link TAIL_LINES} lines. */
export function ciTail(output: string): string {
  return output.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
}

/** One iteration of a run's loop, as `--json` reports it and the next iteration's prompt lists it. */
export interface FixIteration {
  iteration: number;
  fixer: string | null;
  status: FixOutcome['status'];
  guardRule: string | null;
  files: number;
  lines: number;
  /** The verification: the command (the failed step of this iteration) and its exit. */
  verify: { command: string | null; result: string; exitCode: number | null } | null;
  /** CI on this iteration's fix; `null` when it went to no CI (it proposed nothing, or the case has none). */
  ci: { result: CiVerdict['result']; commit: string; failedCheck: string | null; exitCode: number | null } | null;
  reason: string | null;
}

/**
 * What earlier iterations tried, for the next iteration's `FixContext.previous`: one line per
 * iteration as the worker's `loopHistory` writes it (`iterationLine`) (status, files, lines, verification,
 * CI's verdict on the commit), then the CI failure the new iteration works on.
 */
export function previousText(iterations: readonly FixIteration[]): string {
  const lines = iterations.map((i) =>
    iterationLine({
      ...i,
      verify: !i.verify ? null : i.verify.result === 'left-to-ci' ? 'left-to-ci' : { command: i.verify.command, exitCode: i.verify.exitCode },
      ci: i.ci ? { verdict: i.ci.result, commit: i.ci.commit, check: i.ci.failedCheck } : null,
    }),
  );
  const last = iterations.at(-1)?.ci;
  if (last?.failedCheck) lines.push(`- CI on the latest fix failed: ${last.failedCheck} exit ${last.exitCode}`);
  return lines.join('\n');
}
