import { z } from 'zod';
import { guardDiff, GUARD_RULES, type StepCommand } from '@pitcrew/core';
import { BudgetExceededError } from '../errors.ts';
import { chooseFixer, type FixContext, type Fixer, type FixerName } from '../fix/fixer.ts';
import { verifyFix } from '../fix/pipeline.ts';
import type { FixPolicy } from '../fix/policy.ts';
import { workspaceDiff } from '../fix/workspace.ts';
import type { SandboxPolicy } from '../sandbox/sandbox.ts';
import type { ClassifyOutput } from './classify.ts';
import type { StageDefinition, StageDeps, TriageScope } from './stage.ts';

/** What the fix stages need beyond the triage's stage dependencies (`StageDeps.fix`). */
export interface FixDeps {
  policy: FixPolicy;
  fixers: { rules: Fixer; agent: Fixer | null };
  sandbox: SandboxPolicy;
  /** Environment of every sandboxed fix command on top of a bare `PATH` (the egress proxy's settings). */
  sandboxEnv?: Record<string, string>;
  /** Clone URL template with `{owner}` and `{repo}` (checkout and push). */
  cloneUrl: string;
  /** Where checkouts go; default the OS temp dir. */
  workspaceRoot?: string | undefined;
  /** USD the agent fixer reserves before it runs (agents report their cost at the end). */
  agentEstimateUsd: number;
}

/** The checkout and the derived facts every fix stage of one job works on. */
export interface FixWork {
  workspace: string;
  step: StepCommand | null;
  classify: ClassifyOutput;
  /** pitcrew's diagnosis: the summary, then the execute stage's markdown. */
  diagnosis: string;
  /** What earlier iterations of the loop tried and CI's verdict (iterations after the first). */
  previous: string | null;
  /** The loop a fix is proposed for: its first failure's id (the branch `pitcrew/fix/<id>`) and the branch it goes into. */
  target: { id: string; branch: string | null };
}

const StepCommandOutput = z.object({ run: z.string(), workingDirectory: z.string().nullable(), shell: z.string().nullable(), source: z.enum(['workflow', 'log']) });

/** Output of the fix stage: what the fixer did, and the workspace's `git diff` when it edited. */
export const FixOutput = z.object({
  fixer: z.enum(['rules', 'agent']).nullable(),
  kind: z.enum(['edited', 'escalated', 'failed', 'not_attempted']),
  reason: z.string().nullable(),
  /** The fix form the rules fixer ran. */
  command: z.string().nullable(),
  /** The fixer's own words (agent summary, fix form exit code), redacted. */
  note: z.string().nullable(),
  diff: z.string(),
  step: StepCommandOutput.nullable(),
  /** What the fixer spent: tokens as the agent reported them, USD as reported (or its estimate). */
  usage: z.object({ model: z.string().nullable(), tokensIn: z.number().int(), tokensOut: z.number().int(), costUsd: z.number() }),
});
export type FixOutput = z.infer<typeof FixOutput>;

/** Output of the guard stage (`guardDiff`). */
export const GuardOutput = z.object({
  ok: z.boolean(),
  rule: z.enum(GUARD_RULES).nullable(),
  detail: z.string().nullable(),
  files: z.number().int(),
  lines: z.number().int(),
});
export type GuardOutput = z.infer<typeof GuardOutput>;

/** Output of the verify stage (`verifyFix`); `output` is the redacted tail. */
export const VerifyOutput = z.object({
  result: z.enum(['passed', 'failed', 'left-to-ci']),
  command: z.string().nullable(),
  reason: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  ms: z.number().nullable(),
  output: z.string().nullable(),
});
export type VerifyOutput = z.infer<typeof VerifyOutput>;

function contextOf(scope: TriageScope, work: FixWork, deps: FixDeps): FixContext {
  return {
    workspace: work.workspace,
    failure: scope.failure,
    category: work.classify.category,
    diagnosis: work.diagnosis,
    excerpt: work.classify.logExcerpt,
    step: work.step,
    sandbox: deps.sandbox,
    limits: { maxFiles: deps.policy.maxFiles, maxLines: deps.policy.maxLines },
    timeoutMs: deps.policy.timeoutMs,
    ...(deps.sandboxEnv ? { env: deps.sandboxEnv } : {}),
    previous: work.previous,
    signal: scope.run.signal,
  };
}

function fixDepsOf(deps: StageDeps): FixDeps {
  if (!deps.fix) throw new Error('the fix stages need StageDeps.fix (PITCREW_FIX is off in this worker)');
  return deps.fix;
}

/**
 * fix: the fixer chosen by `PITCREW_FIX_FIXER` (`chooseFixer`) edits the checkout; the output is
 * its result and the workspace's `git diff`. The agent fixer passes the per-fix USD limit (its
 * estimate) and the organisation's budgets first; refused, the attempt ends `not_attempted`.
 */
export const fixStage: StageDefinition<FixOutput, FixWork> = {
  name: 'fix',
  output: FixOutput,
  needs: ['classify', 'summarize'],
  plan(_scope, work, deps) {
    const chosen = chooseFixer(fixDepsOf(deps).policy.fixer, fixDepsOf(deps).fixers, work);
    return { runner: 'fixer' in chosen ? chosen.fixer.name : 'rules', model: null };
  },
  async run(scope, work, deps) {
    const fix = fixDepsOf(deps);
    const step = work.step;
    const free = { model: null, tokensIn: 0, tokensOut: 0, costUsd: 0 };
    const none = (kind: 'not_attempted', reason: string, fixer: FixerName | null = null) => ({ output: { fixer, kind, reason, command: null, note: null, diff: '', step, usage: free } });
    const chosen = chooseFixer(fix.policy.fixer, fix.fixers, work);
    if ('reason' in chosen) return none('not_attempted', chosen.reason);
    const fixer = chosen.fixer;
    let reservation;
    if (fixer.name === 'agent') {
      if (fix.policy.usdPerFix > 0 && fix.agentEstimateUsd > fix.policy.usdPerFix) {
        return none('not_attempted', `the agent's estimate (${fix.agentEstimateUsd} USD) is above PITCREW_FIX_BUDGET_USD (${fix.policy.usdPerFix} USD)`, 'agent');
      }
      try {
        reservation = await deps.guards?.budget?.reserve({ owner: scope.failure.owner, repo: scope.failure.repo, failureId: scope.failureId }, fix.agentEstimateUsd);
      } catch (error) {
        if (error instanceof BudgetExceededError) return none('not_attempted', `budget_skipped: ${error.message}`, 'agent');
        throw error;
      }
    }
    let result;
    try {
      result = await fixer.fix(contextOf(scope, work, fix));
    } catch (error) {
      await reservation?.release();
      throw error;
    }
    await reservation?.settle(result.costUsd);
    const spent = { model: result.model, tokensIn: result.tokensIn, tokensOut: result.tokensOut, costUsd: result.costUsd };
    const usage = { runner: result.fixer, ...spent };
    const base = { fixer: result.fixer, command: null, note: null, diff: '', step, usage: spent };
    if (result.kind === 'escalated') return { ...usage, output: { ...base, kind: 'escalated', reason: result.reason } };
    if (result.kind === 'failed') return { ...usage, output: { ...base, kind: 'failed', reason: result.reason, note: result.run?.output.slice(-1_000) ?? null } };
    return { ...usage, output: { ...base, kind: 'edited', reason: null, command: result.command, note: result.note, diff: await workspaceDiff(work.workspace) } };
  },
};

/** guard: the diff against the guard rules (`guardDiff`), the failure's category and the policy's limits. */
export const guardStage: StageDefinition<GuardOutput, { work: FixWork; fix: FixOutput }> = {
  name: 'guard',
  output: GuardOutput,
  needs: ['fix'],
  plan: () => ({ runner: 'rules', model: null }),
  async run(_scope, { work, fix }, deps) {
    const { policy } = fixDepsOf(deps);
    const verdict = guardDiff(fix.diff, { maxFiles: policy.maxFiles, maxLines: policy.maxLines, category: work.classify.category });
    return { output: verdict.ok ? { ok: true, rule: null, detail: null, files: verdict.files, lines: verdict.lines } : { ok: false, rule: verdict.rule, detail: verdict.detail, files: verdict.files, lines: verdict.lines } };
  },
};

/** verify: the failed step's own command in the sandbox on the fixed checkout (`verifyFix`). */
export const verifyStage: StageDefinition<VerifyOutput, FixWork> = {
  name: 'verify',
  output: VerifyOutput,
  needs: ['guard'],
  plan: () => ({ runner: 'sandbox', model: null }),
  async run(scope, work, deps) {
    const v = await verifyFix(contextOf(scope, work, fixDepsOf(deps)));
    if (v.result === 'left-to-ci') return { output: { result: v.result, command: v.command, reason: v.reason, exitCode: v.exitCode, ms: v.ms, output: v.output } };
    return { output: { result: v.result, command: v.command, reason: v.timedOut ? `ran past ${fixDepsOf(deps).policy.timeoutMs} ms` : null, exitCode: v.exitCode, ms: v.ms, output: v.output } };
  },
};
