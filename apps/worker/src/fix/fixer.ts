import { parse } from 'shell-quote';
import { buildFixPrompt, fixFormOf, toOutgoing, type CiFailure, type StepCommand } from '@pitcrew/core';
import { AgentError, parseAgentOutput, runAgentProcess } from '../runners/agent-runner.ts';
import type { SandboxPolicy } from '../sandbox/sandbox.ts';
import { runInSandbox, type SandboxRun } from './sandbox-run.ts';

/** The fixers (`PITCREW_FIX_FIXER`): `rules` runs a check's own fix form, `agent` the coding-agent CLI. */
export type FixerName = 'rules' | 'agent';

/** What a fixer is given: a checkout of the failing SHA and what triage found. */
export interface FixContext {
  /** The checkout (host path), writable by the sandbox's user. */
  workspace: string;
  failure: CiFailure;
  category: string;
  /** pitcrew's diagnosis (summary and plan, markdown). */
  diagnosis: string;
  excerpt: string | null;
  /** The failed step's command, when one could be derived. */
  step: StepCommand | null;
  sandbox: SandboxPolicy;
  limits: { maxFiles: number; maxLines: number };
  /** ms a fix command or the agent may run. */
  timeoutMs: number;
  /** Environment the sandboxed commands get on top of a bare `PATH` (proxy settings). */
  env?: Record<string, string | undefined>;
  /** What earlier iterations tried (fix loop part 2). */
  previous?: string | null;
  signal: AbortSignal;
}

/** How a fixer ended. Tokens as reported by the agent, USD as reported (or the estimate). */
export type FixerResult = { fixer: FixerName; model: string | null; tokensIn: number; tokensOut: number; costUsd: number } & (
  | { kind: 'edited'; command: string | null; run: SandboxRun | null; note: string }
  | { kind: 'escalated'; reason: string }
  | { kind: 'failed'; reason: string; run?: SandboxRun | null }
);

/** A way of editing a checkout so the failed check passes. */
export interface Fixer {
  readonly name: FixerName;
  /** `null` when it can try this failure, else why not (shown as "not attempted"). */
  refusal(context: Pick<FixContext, 'step'>): string | null;
  fix(context: FixContext): Promise<FixerResult>;
}

const free = { model: null, tokensIn: 0, tokensOut: 0, costUsd: 0 };

/** The single check a step runs, when it runs one (comments and blank lines aside). */
function singleCommand(step: StepCommand): string | null {
  const lines = step.run.trim().split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  return lines.length === 1 ? lines[0]!.trim() : null;
}

/**
 * The rules fixer: no model. When the failed step runs one known check with a known fix form
 * (`fixFormOf`: `prettier --check` → `--write`, `eslint` → `--fix`, …), runs the fix form in the
 * sandbox, in the step's working directory.
 */
export function rulesFixer(): Fixer {
  return {
    name: 'rules',
    refusal({ step }) {
      if (!step) return 'no command of the failed step could be derived (workflow file or log)';
      const command = singleCommand(step);
      if (!command) return 'the failed step runs several commands; the rules fixer knows single checks';
      if (!fixFormOf(command)) return `no fix form is known for \`${command.slice(0, 120)}\``;
      return null;
    },
    async fix(context) {
      const form = fixFormOf(singleCommand(context.step!)!)!;
      const run = await runInSandbox(context.sandbox, context.workspace, { script: form.command, workingDirectory: context.step!.workingDirectory, shell: context.step!.shell }, { timeoutMs: context.timeoutMs, signal: context.signal, ...(context.env ? { env: context.env } : {}) });
      // Formatters exit 0 once they have written; linters with `--fix` exit 1 when problems remain
      // that they cannot fix: the diff still counts, verification decides.
      if (run.timedOut || run.exitCode === null) return { fixer: 'rules', ...free, kind: 'failed', reason: `\`${form.command}\` ran past ${context.timeoutMs} ms`, run };
      if (run.exitCode === 127) return { fixer: 'rules', ...free, kind: 'failed', reason: `\`${form.command}\`: command not found in the sandbox (toolchain missing)`, run };
      return { fixer: 'rules', ...free, kind: 'edited', command: form.command, run, note: `ran \`${form.command}\` (${form.tool}'s fix mode), exit ${run.exitCode}` };
    },
  };
}

/** `ESCALATE: <reason>` on a line of its own, as the fix prompt asks. */
const ESCALATE = /^\s*ESCALATE:\s*(.+?)\s*$/m;

/**
 * The agent fixer: the configured coding-agent CLI (`PITCREW_AGENT_COMMAND`) in the sandbox, in
 * the checkout, with the fix prompt (`buildFixPrompt`) on stdin: the diagnosis, the failing
 * command, the guard rules. A line `ESCALATE: <reason>` in its output ends the attempt
 * escalated, whatever it edited.
 *
 * @param options.estimateUsd USD recorded when the agent reports no cost
 */
export function agentFixer(options: { command: string; timeoutMs: number; estimateUsd: number; env?: Record<string, string | undefined> }): Fixer {
  const [bin, ...args] = parse(options.command).filter((p): p is string => typeof p === 'string');
  if (!bin) throw new Error('PITCREW_AGENT_COMMAND is empty');
  return {
    name: 'agent',
    refusal: () => null,
    async fix(context) {
      const prompt = buildFixPrompt({
        failure: context.failure,
        category: context.category,
        diagnosis: context.diagnosis,
        command: context.step?.run ?? null,
        logExcerpt: context.excerpt,
        limits: context.limits,
        previous: context.previous ?? null,
      })
        .map((m) => m.content)
        .join('\n\n');
      let stdout: string;
      try {
        ({ stdout } = await runAgentProcess({ bin, args, prompt, workspace: context.workspace, timeoutMs: Math.min(options.timeoutMs, context.timeoutMs), sandbox: context.sandbox, env: { ...options.env, ...context.env }, signal: context.signal }));
      } catch (error) {
        if (error instanceof AgentError && error.reason === 'aborted') throw error;
        return { fixer: 'agent', ...free, costUsd: options.estimateUsd, kind: 'failed', reason: toOutgoing((error as Error).message, 'publish').text };
      }
      const report = parseAgentOutput(stdout);
      const usage = { model: report.model, tokensIn: report.tokensIn, tokensOut: report.tokensOut, costUsd: report.usageReported || report.costUsd > 0 ? report.costUsd : options.estimateUsd };
      // The agent's words are untrusted: redacted before they are stored or published.
      const text = toOutgoing(report.text, 'publish').text;
      const escalate = ESCALATE.exec(text) ?? ESCALATE.exec(toOutgoing(stdout, 'publish').text);
      if (escalate) return { fixer: 'agent', ...usage, kind: 'escalated', reason: escalate[1]!.slice(0, 500) };
      return { fixer: 'agent', ...usage, kind: 'edited', command: null, run: null, note: text.slice(-2_000) };
    },
  };
}

/**
 * The fixer for a failure under `PITCREW_FIX_FIXER`: `auto` takes rules when it applies, else
 * the agent when one is configured.
 *
 * @returns the fixer, or why none can try
 */
export function chooseFixer(mode: FixerName | 'auto', fixers: { rules: Fixer; agent: Fixer | null }, context: Pick<FixContext, 'step'>): { fixer: Fixer } | { reason: string } {
  const rules = fixers.rules.refusal(context);
  if (mode === 'rules') return rules === null ? { fixer: fixers.rules } : { reason: rules };
  if (mode === 'auto' && rules === null) return { fixer: fixers.rules };
  if (!fixers.agent) return { reason: mode === 'agent' ? 'PITCREW_FIX_FIXER=agent but no PITCREW_AGENT_COMMAND is configured' : `${rules}; and no coding agent is configured (PITCREW_AGENT_COMMAND)` };
  return { fixer: fixers.agent };
}
