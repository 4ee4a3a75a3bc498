import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { stepCommandFromWorkflow, type StepCommand } from '@pitcrew/core';

/** The corpus shipped with the CLI: `fix-corpus/<case>/` beside this file. */
export const FIX_CORPUS_DIR = fileURLToPath(new URL('./fix-corpus/', import.meta.url));

/**
 * Statuses of a fix attempt (`FixStatus` of `@pitcrew/worker`), as a case expects them, plus the
 * loop's own: `verified_by_ci` when every check of the case's `ci` passed on the fix.
 */
const Status = z.enum(['not_attempted', 'failed', 'escalated', 'refused', 'verify_failed', 'verified', 'unverified', 'verified_by_ci']);

/** What one fixer should end with on a case: a status, the guard rule when refused, and the iterations it takes (with the default `--max-iterations`). */
export const FixExpectation = z.object({ status: Status, guardRule: z.string().optional(), iterations: z.number().int().min(1).optional() });
export type FixExpectation = z.infer<typeof FixExpectation>;

/** Expectations per fixer; `agent` is the scripted agent's (a real agent is measured, not expected). */
const Expectations = z.object({ rules: FixExpectation, agent: FixExpectation });

/** A check of the case's workflow that CI runs after the failed step: job and step as GitHub shows them, and the category triage would give its failure. */
export const FixCaseCheck = z.object({
  job: z.string().min(1),
  step: z.string().min(1),
  category: z.enum(['lint', 'typecheck', 'test', 'build', 'dependency']),
});
export type FixCaseCheck = z.infer<typeof FixCaseCheck>;

/** `case.json` of one corpus case. */
export const FixCaseFile = z.object({
  /** What is broken: `format`, `lint-fixable`, `lint-human`, `type-error`, `failing-test`, … */
  kind: z.string().min(1),
  /** The failure category triage would give it (the guard's lockfile rule reads it). */
  category: z.enum(['lint', 'typecheck', 'test', 'build', 'dependency']),
  /** The failed job and step as GitHub shows them; the command comes from `files/.github/workflows/ci.yml`. */
  job: z.string().min(1),
  step: z.string().min(1),
  /** The fixer this kind of failure is for: the rules fixer (a check's own fix mode) or an agent. */
  for: z.enum(['rules', 'agent']),
  /** Packages of pitcrew's own node_modules linked into the case's node_modules, as `npm ci` would install them. */
  tools: z.array(z.string()),
  /** A host command the step needs (`black`, `cargo`, `gofmt`); when it is missing, `withoutToolchain` is expected. */
  toolchain: z.string().optional(),
  description: z.string(),
  /** What triage found, given to the fix prompt. */
  diagnosis: z.string(),
  /**
   * CI beyond the failed step: the other checks of its workflow, in the order CI reaches them (a
   * later check runs only when the earlier ones pass). When set, a fix that verifies goes to CI
   * (the failed step, then these), and CI's first failing check starts the next iteration.
   */
  ci: z.array(FixCaseCheck).optional(),
  expect: Expectations,
  withoutToolchain: Expectations.optional(),
});
export type FixCaseFile = z.infer<typeof FixCaseFile>;

/** A CI check with its command, from the case's workflow. */
export interface FixCaseCiCheck extends FixCaseCheck {
  command: StepCommand;
}

/** One case, loaded: its `case.json`, where its files are, the failed step's command, CI's checks, and its scripted agent's plan. */
export interface FixCase extends FixCaseFile {
  name: string;
  dir: string;
  filesDir: string;
  stepCommand: StepCommand;
  /** CI as the eval runs it: the failed step first, then `ci`; empty when the case declares no `ci`. */
  ciChecks: FixCaseCiCheck[];
  /** `agent.patch` or `agent.mjs` when the case ships one; else the scripted agent escalates. */
  agentPlan: 'agent.patch' | 'agent.mjs' | null;
}

/**
 * Loads the cases of a corpus directory (`<case>/case.json`, `<case>/files/…`), sorted by name,
 * optionally only those named in `only`.
 *
 * @throws Error naming the case when its `case.json` does not parse, or its workflow has no such job and step (failed or `ci`)
 */
export function loadFixCorpus(dir: string = FIX_CORPUS_DIR, only?: readonly string[]): FixCase[] {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'case.json')))
    .map((e) => e.name)
    .sort();
  const unknown = only?.filter((n) => !names.includes(n)) ?? [];
  if (unknown.length) throw new Error(`no such case in ${dir}: ${unknown.join(', ')}`);
  return names
    .filter((n) => !only || only.includes(n))
    .map((name) => {
      const caseDir = join(dir, name);
      const parsed = FixCaseFile.safeParse(JSON.parse(readFileSync(join(caseDir, 'case.json'), 'utf8')));
      if (!parsed.success) throw new Error(`${name}/case.json: ${z.prettifyError(parsed.error)}`);
      const filesDir = join(caseDir, 'files');
      const workflow = join(filesDir, '.github/workflows/ci.yml');
      const text = existsSync(workflow) ? readFileSync(workflow, 'utf8') : null;
      const commandOf = (job: string, step: string): StepCommand => {
        const command = text === null ? null : stepCommandFromWorkflow(text, job, step);
        if (!command) throw new Error(`${name}: files/.github/workflows/ci.yml has no run step "${step}" in job "${job}"`);
        return command;
      };
      const stepCommand = commandOf(parsed.data.job, parsed.data.step);
      const ci = parsed.data.ci ?? [];
      const ciChecks = ci.length === 0 ? [] : [{ job: parsed.data.job, step: parsed.data.step, category: parsed.data.category, command: stepCommand }, ...ci.map((check) => ({ ...check, command: commandOf(check.job, check.step) }))];
      const agentPlan = existsSync(join(caseDir, 'agent.patch')) ? 'agent.patch' : existsSync(join(caseDir, 'agent.mjs')) ? 'agent.mjs' : null;
      return { ...parsed.data, name, dir: caseDir, filesDir, stepCommand, ciChecks, agentPlan };
    });
}
