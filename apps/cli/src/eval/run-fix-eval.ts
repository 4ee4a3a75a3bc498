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
import { createCaseRepository, hostToolchain, linkTools, type HostToolchain } from './fix-case-repo.ts';
import { loadFixCorpus, type FixCase, type FixExpectation } from './fix-corpus.ts';

/** The scripted agent shipped with the eval (not a model; see the file). */
export const SCRIPTED_AGENT = fileURLToPath(new URL('./scripted-agent.mjs', import.meta.url));

/** Which fixers a run measures. */
export type FixEvalFixer = 'rules' | 'agent';

/** One row of `pitcrew eval fix --json` (`runs[]`). */
export interface FixRun {
  case: string;
  kind: string;
  /** `rules`, `scripted-agent` (no model), or `agent:<bin>` for a real coding agent. */
  fixer: string;
  status: FixOutcome['status'];
  guardRule: string | null;
  /** The failed step's command passed on the fixed checkout, in the sandbox. */
  verified: boolean;
  /** `passed`, `failed`, `left-to-ci`, or `null` when nothing was verified. */
  verification: string | null;
  /** Fix iterations (always 1 until the fix loop's part 2). */
  iterations: number;
  ms: number;
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

/** The failure a case stands for, as the webhook would have reported it. */
function failureOf(c: FixCase, sha: string): CiFailure {
  return {
    id: `eval-fix-${c.name}`,
    provider: 'github',
    kind: 'job',
    event: 'workflow_job',
    owner: 'pitcrew-eval',
    repo: c.name,
    repoId: null,
    branch: 'main',
    headSha: sha,
    runId: null,
    runAttempt: 1,
    jobId: null,
    checkSuiteId: null,
    workflowName: 'CI',
    jobName: c.job,
    checkName: c.job,
    appSlug: 'github-actions',
    htmlUrl: null,
    conclusion: 'failure',
    failedSteps: [c.step],
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
 * agent (`mode: 'agent'`: the scripted agent, or `agentCommand`).
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
          const outcome = await attemptFix(context, { mode: which, fixers: { rules: rulesFixer(), agent } });
          const expectations = missing ? (c.withoutToolchain ?? c.expect) : c.expect;
          const run: FixRun = {
            case: c.name,
            kind: c.kind,
            fixer: label,
            status: outcome.status,
            guardRule: outcome.guardRule,
            verified: outcome.verification?.result === 'passed',
            verification: outcome.verification?.result ?? null,
            iterations: 1,
            ms: outcome.ms,
            usd: outcome.costUsd,
            expected: which === 'rules' ? expectations.rules : real ? null : expectations.agent,
            // Without its toolchain a wrapped check (`test -z "$(gofmt -l .)"`) can even pass: not a verdict.
            exitBefore: missing || before.result === 'left-to-ci' ? null : before.exitCode,
            reason: outcome.reason,
          };
          runs.push(run);
          progress(`[${runs.length}/${total}] ${c.name} ${label}: ${run.status}${run.guardRule ? ` (${run.guardRule})` : ''} ${(run.ms / 1000).toFixed(1)} s${missing ? ` (${c.toolchain} missing)` : ''}${matches(run) ? '' : ' UNEXPECTED'}`);
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

/** Whether a run ended as its case expects (always true when nothing is expected: a real agent). */
export function matches(run: FixRun): boolean {
  if (!run.expected) return true;
  return run.status === run.expected.status && (run.expected.guardRule === undefined || run.guardRule === run.expected.guardRule);
}
