import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CiFailure } from '@pitcrew/core';
import {
  agentFixer,
  attemptFix,
  checkoutWorkspace,
  DEFAULT_SANDBOX,
  prepareSandboxWorkspace,
  rulesFixer,
  verifyFix,
  type FixContext,
  type Fixer,
  type FixOutcome,
  type SandboxPolicy,
} from '@pitcrew/worker';
import { ciTail, previousText, runCaseCi, type FixIteration } from './fix-case-ci.ts';
import { commitFix, createCaseRepository, hostToolchain, linkTools, type HostToolchain } from './fix-case-repo.ts';
import { loadFixCorpus, type FixCase, type FixCaseCiCheck, type FixExpectation } from './fix-corpus.ts';

/** The scripted agent shipped with the eval (not a model; see the file). */
export const SCRIPTED_AGENT = fileURLToPath(new URL('./scripted-agent.mjs', import.meta.url));

/** Which fixers a run measures. */
export type FixEvalFixer = 'rules' | 'agent';

/** Iterations of one run at most, as `PITCREW_FIX_MAX_ITERATIONS` defaults. */
export const DEFAULT_MAX_ITERATIONS = 3;

/**
 * How a run ended: its last iteration's status, or the loop's own: `verified_by_ci` when every
 * check of the case's CI passed on the fix, `escalated` (with `escalation: 'iterations'`) when CI
 * still failed after the last iteration allowed.
 */
export type FixRunStatus = FixOutcome['status'] | 'verified_by_ci';

/** One row of `pitcrew eval fix --json` (`runs[]`). */
export interface FixRun {
  case: string;
  kind: string;
  /** `rules`, `scripted-agent` (no model), or `agent:<bin>` for a real coding agent. */
  fixer: string;
  status: FixRunStatus;
  /** `iterations` when the loop ran out of iterations with CI still failing; `fixer` when the fixer said ESCALATE; else `null`. */
  escalation: 'fixer' | 'iterations' | null;
  guardRule: string | null;
  /** The last iteration's failed step passed on its fixed checkout, in the sandbox. */
  verified: boolean;
  /** The last iteration's verification: `passed`, `failed`, `left-to-ci`, or `null` when nothing was verified. */
  verification: string | null;
  /** CI's verdict on the last fix (`passed`, `failed`, `left-to-ci`); `null` when none ran (the case declares no `ci`, or the last iteration proposed nothing). */
  ci: string | null;
  /** Fix iterations run: `attemptFix` calls, the first on the failed step, each next on CI's failure of the previous fix. */
  iterations: number;
  /** Each iteration: status, size, verification, CI's verdict. */
  history: FixIteration[];
  /** ms of the whole run: every iteration and every CI run. */
  ms: number;
  /** USD over all iterations. */
  usd: number;
  /** What case.json expects (rules fixer and scripted agent only; `null` for a real agent). */
  expected: FixExpectation | null;
  /** The failed step's exit before the fix (it must fail: else the case is broken); `null` = its toolchain is missing here. */
  exitBefore: number | null;
  /** Why not attempted, failed or escalated, or what the guard refused. */
  reason: string | null;
}

/** What `pitcrew eval fix` measured. */
export interface FixEvalReport {
  runs: FixRun[];
  /** `scripted` or the real agent's command line; `null` when the agent was not run. */
  agent: string | null;
  cases: { name: string; kind: string; for: 'rules' | 'agent'; toolchain: string | null; toolchainFound: boolean | null }[];
  durationMs: number;
}

export interface FixEvalOptions {
  /** Corpus directory (default: the shipped one). */
  corpus?: string;
  /** Only these cases. */
  cases?: readonly string[];
  fixers: readonly FixEvalFixer[];
  /** A real coding-agent CLI (`claude -p …`); unset = the scripted agent. */
  agentCommand?: string | null;
  /** ms an agent or a fix command may run. */
  timeoutMs?: number;
  /** Iterations of a run at most (default {@link DEFAULT_MAX_ITERATIONS}); CI's failure after the last ends it `escalated`. */
  maxIterations?: number;
  /** USD recorded for a real agent that reports no cost. */
  agentEstimateUsd?: number;
  /** Sandbox network: `off` (default) or `host` (a real agent reaching its API). */
  network?: SandboxPolicy['network'];
  /** Extra host paths bound read-only (a real agent's own installation outside /usr). */
  readOnlyPaths?: readonly string[];
  /** Where the repositories and checkouts go (default: a new temp dir, removed afterwards). */
  root?: string;
  onProgress?: (message: string) => void;
}

/** The failure a case stands for (or CI's failure of a check on a fix), as the webhook would have reported it. */
function failureOf(c: FixCase, sha: string, check: Pick<FixCaseCiCheck, 'job' | 'step'> = c, iteration = 1): CiFailure {
  return {
    id: iteration === 1 ? `eval-fix-${c.name}` : `eval-fix-${c.name}-${iteration}`,
    provider: 'github',
    kind: 'job',
    event: 'workflow_job',
    owner: 'pitcrew-eval',
    repo: c.name,
    repoId: null,
    branch: iteration === 1 ? 'main' : `pitcrew/fix/eval-fix-${c.name}`,
    headSha: sha,
    runId: null,
    runAttempt: 1,
    jobId: null,
    checkSuiteId: null,
    workflowName: 'CI',
    jobName: check.job,
    checkName: check.job,
    appSlug: 'github-actions',
    htmlUrl: null,
    conclusion: 'failure',
    failedSteps: [check.step],
    outputText: null,
    pullRequests: [],
    installationId: null,
    startedAt: null,
    completedAt: null,
  };
}

/**
 * Runs the fix pipeline on every case of the corpus: per case a fresh git repository of its
 * files, and per fixer a fresh checkout (`checkoutWorkspace`) with the case's tools linked in,
 * the failed step run once in the sandbox (it must fail; its output is the prompt's log excerpt),
 * then `attemptFix` in dry run (nothing pushed) with the rules fixer (`mode: 'rules'`) and/or an
 * agent (`mode: 'agent'`: the scripted agent, or `agentCommand`). A case with `ci` then iterates
 * as the fix loop does ({@link runIterations}).
 *
 * @throws Error when the corpus does not load or the sandbox cannot start
 */
export async function runFixEval(options: FixEvalOptions): Promise<FixEvalReport> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const corpusDir = options.corpus ?? join(dirname(SCRIPTED_AGENT), 'fix-corpus');
  const cases = loadFixCorpus(corpusDir, options.cases);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const real = options.agentCommand ?? null;
  const agentLabel = real ? `agent:${basename(real.trim().split(/\s+/)[0]!)}` : 'scripted-agent';
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'pitcrew-eval-fix-')));
  const runs: FixRun[] = [];
  const toolchains = new Map<string, HostToolchain>();
  const total = cases.length * options.fixers.length;
  try {
    for (const c of cases) {
      const toolchain = c.toolchain ? hostToolchain(c.toolchain) : null;
      if (toolchain) toolchains.set(c.name, toolchain);
      const missing = toolchain !== null && toolchain.path === null;
      const repo = await createCaseRepository(root, c.filesDir);
      for (const which of options.fixers) {
        const label = which === 'rules' ? 'rules' : agentLabel;
        const workspace = await checkoutWorkspace({ root, name: c.name, url: repo.url, sha: repo.sha });
        try {
          const sandbox: SandboxPolicy = { ...DEFAULT_SANDBOX, network: options.network ?? 'off', readOnlyPaths: [] };
          await prepareSandboxWorkspace(sandbox, workspace.dir);
          const toolDirs = await linkTools(workspace.dir, c.tools);
          // The scripted agent and its plans, the tools, the host toolchain: visible, read-only.
          sandbox.readOnlyPaths = [...new Set([...toolDirs, dirname(SCRIPTED_AGENT), corpusDir, ...(toolchain?.readOnlyPaths ?? []), ...(options.readOnlyPaths ?? [])])];
          const signal = new AbortController().signal;
          const env = toolchain?.env;
          const before = await verifyFix({ workspace: workspace.dir, step: c.stepCommand, sandbox, timeoutMs, signal, ...(env ? { env } : {}) });
          const context: FixContext = {
            workspace: workspace.dir,
            failure: failureOf(c, repo.sha),
            category: c.category,
            diagnosis: c.diagnosis,
            excerpt: before.output,
            step: c.stepCommand,
            sandbox,
            limits: { maxFiles: 10, maxLines: 200 },
            timeoutMs,
            ...(env ? { env } : {}),
            signal,
          };
          const agent: Fixer = real
            ? agentFixer({ command: real, timeoutMs, estimateUsd: options.agentEstimateUsd ?? 0 })
            : agentFixer({ command: `${process.execPath} ${SCRIPTED_AGENT}`, timeoutMs: 30_000, estimateUsd: 0, env: { PITCREW_SCRIPTED_PLAN: c.agentPlan ? c.dir : undefined } });
          const fixers = { rules: rulesFixer(), agent };
          const loop = await runIterations(c, context, (ctx) => attemptFix(ctx, { mode: which, fixers }), options.maxIterations ?? DEFAULT_MAX_ITERATIONS);
          const expectations = missing ? (c.withoutToolchain ?? c.expect) : c.expect;
          const run: FixRun = {
            case: c.name,
            kind: c.kind,
            fixer: label,
            ...loop,
            expected: which === 'rules' ? expectations.rules : real ? null : expectations.agent,
            // Without its toolchain a wrapped check (`test -z "$(gofmt -l .)"`) can even pass: not a verdict.
            exitBefore: missing || before.result === 'left-to-ci' ? null : before.exitCode,
          };
          runs.push(run);
          progress(`[${runs.length}/${total}] ${c.name} ${label}: ${run.status}${run.guardRule ? ` (${run.guardRule})` : ''}, ${run.iterations} iteration${run.iterations === 1 ? '' : 's'} ${(run.ms / 1000).toFixed(1)} s${missing ? ` (${c.toolchain} missing)` : ''}${matches(run) ? '' : ' UNEXPECTED'}`);
        } finally {
          await workspace.dispose();
        }
      }
    }
  } finally {
    if (!options.root) await rm(root, { recursive: true, force: true });
  }
  return {
    runs,
    agent: options.fixers.includes('agent') ? (real ?? 'scripted') : null,
    cases: cases.map((c) => ({ name: c.name, kind: c.kind, for: c.for, toolchain: c.toolchain ?? null, toolchainFound: c.toolchain ? toolchains.get(c.name)!.path !== null : null })),
    durationMs: Math.round(performance.now() - started),
  };
}

/** What {@link runIterations} measured of one run. */
type LoopResult = Pick<FixRun, 'status' | 'escalation' | 'guardRule' | 'verified' | 'verification' | 'ci' | 'iterations' | 'history' | 'ms' | 'usd' | 'reason'>;

/**
 * The fix loop on one checkout, as the worker runs it (`apps/worker/src/fix/loop.ts`,
 * `stages/fix-attempt.ts`), without GitHub: iteration 1 is `attempt` on the case's failure. When
 * the case declares `ci` and the fix verified (or its verification is left to CI), the fix is
 * committed (the loop pushes it to its branch) and CI runs on it (`runCaseCi`: the failed step,
 * then the other checks). All passing ends the run `verified_by_ci`. A failing check is CI's
 * verdict: the next iteration works on the same checkout, on top of the previous fix, with that
 * check as its failed step and command, the tail of its output as the excerpt and `previous`
 * listing what was tried; past `maxIterations` the run ends `escalated`. An iteration that
 * proposes nothing (refused, verify_failed, escalated, …) ends the run with its status.
 */
async function runIterations(c: FixCase, first: FixContext, attempt: (context: FixContext) => Promise<FixOutcome>, maxIterations: number): Promise<LoopResult> {
  const started = performance.now();
  const history: FixIteration[] = [];
  let context = first;
  let usd = 0;
  for (let iteration = 1; ; iteration++) {
    const outcome = await attempt(context);
    usd += outcome.costUsd;
    const v = outcome.verification;
    const entry: FixIteration = {
      iteration,
      fixer: outcome.fixer,
      status: outcome.status,
      guardRule: outcome.guardRule,
      files: outcome.files,
      lines: outcome.lines,
      verify: v ? { command: v.command, result: v.result, exitCode: v.exitCode } : null,
      ci: null,
      reason: outcome.reason,
    };
    history.push(entry);
    const result = (status: FixRunStatus, extra: Partial<LoopResult> = {}): LoopResult => ({
      status,
      escalation: outcome.status === 'escalated' ? 'fixer' : null,
      guardRule: outcome.guardRule,
      verified: v?.result === 'passed',
      verification: v?.result ?? null,
      ci: entry.ci?.result ?? null,
      iterations: iteration,
      history,
      ms: Math.round(performance.now() - started),
      usd,
      reason: outcome.reason,
      ...extra,
    });
    const proposes = outcome.status === 'verified' || outcome.status === 'unverified';
    if (c.ciChecks.length === 0 || !proposes) return result(outcome.status);
    const commit = commitFix(context.workspace, `pitcrew eval: fix iteration ${iteration}`);
    // The commit is the host's: hand the checkout back to the sandbox's user.
    await prepareSandboxWorkspace(context.sandbox, context.workspace);
    const verdict = await runCaseCi(c.ciChecks, context);
    const failedRun = verdict.result === 'passed' ? null : verdict.checks.at(-1)!;
    entry.ci = { result: verdict.result, commit, failedCheck: verdict.result === 'passed' ? null : `${verdict.failed.job} / ${verdict.failed.step}`, exitCode: failedRun?.exitCode ?? null };
    if (verdict.result === 'passed') return result('verified_by_ci', { ci: 'passed', reason: null });
    if (verdict.result === 'left-to-ci') return result(outcome.status, { ci: 'left-to-ci', reason: `CI's ${entry.ci.failedCheck} cannot run here (toolchain missing): no verdict` });
    if (iteration >= maxIterations) {
      return result('escalated', { ci: 'failed', escalation: 'iterations', reason: `CI still fails after ${iteration} iteration${iteration === 1 ? '' : 's'} (--max-iterations ${maxIterations}): ${entry.ci.failedCheck} exit ${entry.ci.exitCode}` });
    }
    const check = verdict.failed;
    context = {
      ...context,
      failure: failureOf(c, commit, check, iteration + 1),
      category: check.category,
      // No triage runs in the eval: the diagnosis says which check failed, the excerpt shows how.
      diagnosis: `CI failed on the fix of iteration ${iteration}: job ${check.job}, step ${check.step} (\`${check.command.run}\` exit ${entry.ci.exitCode}). Its log's tail is the excerpt.`,
      excerpt: ciTail(verdict.output),
      step: check.command,
      previous: previousText(history),
    };
  }
}

/** Whether a run ended as its case expects (always true when nothing is expected: a real agent). */
export function matches(run: FixRun): boolean {
  if (!run.expected) return true;
  return (
    run.status === run.expected.status &&
    (run.expected.guardRule === undefined || run.guardRule === run.expected.guardRule) &&
    (run.expected.iterations === undefined || run.iterations === run.expected.iterations)
  );
}
