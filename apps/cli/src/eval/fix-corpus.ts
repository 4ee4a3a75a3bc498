import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { stepCommandFromWorkflow, type StepCommand } from '@pitcrew/core';

/** The corpus shipped with the CLI: `fix-corpus/<case>/` beside this file. */
export const FIX_CORPUS_DIR = fileURLToPath(new URL('./fix-corpus/', import.meta.url));

/** Statuses of a fix attempt (`FixStatus` of `@pitcrew/worker`), as a case expects them. */
const Status = z.enum(['not_attempted', 'failed', 'escalated', 'refused', 'verify_failed', 'verified', 'unverified']);

/** What one fixer should end with on a case: a status, and the guard rule when refused. */
export const FixExpectation = z.object({ status: Status, guardRule: z.string().optional() });
export type FixExpectation = z.infer<typeof FixExpectation>;

/** Expectations per fixer; `agent` is the scripted agent's (a real agent is measured, not expected). */
const Expectations = z.object({ rules: FixExpectation, agent: FixExpectation });

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
  expect: Expectations,
  withoutToolchain: Expectations.optional(),
});
export type FixCaseFile = z.infer<typeof FixCaseFile>;

/** One case, loaded: its `case.json`, where its files are, the failed step's command, and its scripted agent's plan. */
export interface FixCase extends FixCaseFile {
  name: string;
  dir: string;
  filesDir: string;
  stepCommand: StepCommand;
  /** `agent.patch` or `agent.mjs` when the case ships one; else the scripted agent escalates. */
  agentPlan: 'agent.patch' | 'agent.mjs' | null;
}

/**
 * Loads the cases of a corpus directory (`<case>/case.json`, `<case>/files/…`), sorted by name,
 * optionally only those named in `only`.
 *
 * @throws Error naming the case when its `case.json` does not parse, or its workflow has no such job and step
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
      const stepCommand = existsSync(workflow) ? stepCommandFromWorkflow(readFileSync(workflow, 'utf8'), parsed.data.job, parsed.data.step) : null;
      if (!stepCommand) throw new Error(`${name}: files/.github/workflows/ci.yml has no run step "${parsed.data.step}" in job "${parsed.data.job}"`);
      const agentPlan = existsSync(join(caseDir, 'agent.patch')) ? 'agent.patch' : existsSync(join(caseDir, 'agent.mjs')) ? 'agent.mjs' : null;
      return { ...parsed.data, name, dir: caseDir, filesDir, stepCommand, agentPlan };
    });
}
