import { beforeAll, describe, expect, it } from 'vitest';
import { loadFixCorpus } from './fix-corpus.ts';
import { fixSummary, fixTable } from './fix-report.ts';
import { runFixEval, type FixEvalReport, type FixRun } from './run-fix-eval.ts';

// The corpus measured for real: a git repository and a checkout per case, bubblewrap around the
// fixes and the verification, prettier, eslint and tsc from pitcrew's own node_modules, black and
// cargo when the host has them. Each run must end as its case.json expects (`withoutToolchain`
// where the host lacks the case's toolchain). A subset, to stay within a minute and a half;
// `pitcrew eval fix` runs them all. Two cases iterate on CI's verdict: one fixed in two
// iterations, one whose CI keeps failing until the loop is escalated.
const RULES = ['prettier-format', 'eslint-fixable', 'eslint-unused-var', 'ts-type-error', 'node-test-skip', 'npm-lockfile-drift', 'python-black', 'rust-fmt', 'go-gofmt'];
const AGENT = ['ts-type-error', 'node-test-wrong-fix', 'node-test-off-by-one', 'npm-lockfile-drift'];
const LOOP = ['node-test-then-lint', 'node-test-lint-format-conflict'];
let rules: FixEvalReport;
let agent: FixEvalReport;
let loop: FixEvalReport;

beforeAll(async () => {
  rules = await runFixEval({ fixers: ['rules'], cases: RULES });
  agent = await runFixEval({ fixers: ['agent'], cases: AGENT });
  loop = await runFixEval({ fixers: ['agent'], cases: LOOP, maxIterations: 3 });
}, 240_000);

const label = (r: FixRun) => `${r.case} ${r.fixer}: ${r.status}${r.guardRule ? ` (${r.guardRule})` : ''} — ${r.reason ?? ''}`;

describe('pitcrew eval fix on the corpus', () => {
  it('ships at least 12 cases, each with a workflow step that derives a command and an expectation per fixer', () => {
    const cases = loadFixCorpus();
    expect(cases.length).toBeGreaterThanOrEqual(12);
    expect(cases.filter((c) => c.ci?.length).length).toBeGreaterThanOrEqual(4);
    expect(new Set(cases.map((c) => c.kind))).toEqual(new Set(['format', 'lint-fixable', 'lint-human', 'type-error', 'failing-test', 'missing-import', 'lockfile-drift', 'syntax-error']));
    expect(new Set(cases.map((c) => c.category))).toEqual(new Set(['lint', 'typecheck', 'test', 'build', 'dependency']));
  });

  it('the rules fixer ends each case as case.json expects: format and fixable lint verified, the rest untouched', () => {
    expect(rules.runs.map((r) => r.case)).toEqual([...RULES].sort());
    for (const run of rules.runs) {
      expect(run.exitBefore, `${run.case}: the failed step must fail before the fix`).not.toBe(0);
      expect({ status: run.status, guardRule: run.expected?.guardRule ? run.guardRule : undefined }, label(run)).toEqual({ status: run.expected!.status, guardRule: run.expected!.guardRule });
    }
    const byCase = Object.fromEntries(rules.runs.map((r) => [r.case, r]));
    expect(byCase['prettier-format']).toMatchObject({ fixer: 'rules', status: 'verified', verified: true, iterations: 1, usd: 0 });
    expect(byCase['eslint-fixable']).toMatchObject({ status: 'verified', verified: true });
    expect(byCase['ts-type-error']).toMatchObject({ status: 'not_attempted', reason: expect.stringContaining('no fix form') });
  });

  it('the scripted agent (labelled so) goes through the same sandbox, guard and verification', () => {
    for (const run of agent.runs) {
      expect(run.fixer).toBe('scripted-agent');
      expect({ status: run.status, guardRule: run.expected?.guardRule ? run.guardRule : undefined }, label(run)).toEqual({ status: run.expected!.status, guardRule: run.expected!.guardRule });
    }
    const byCase = Object.fromEntries(agent.runs.map((r) => [r.case, r]));
    expect(byCase['ts-type-error']).toMatchObject({ status: 'refused', guardRule: 'disabled-check', verified: false });
    expect(byCase['node-test-wrong-fix']).toMatchObject({ status: 'verify_failed', verification: 'failed' });
    expect(byCase['npm-lockfile-drift']).toMatchObject({ status: 'verified', verified: true });
  });

  it('iterates on CI: the test fix trips the linter, the second iteration fixes what CI reported', () => {
    const run = loop.runs.find((r) => r.case === 'node-test-then-lint')!;
    expect(run, label(run)).toMatchObject({ fixer: 'scripted-agent', status: 'verified_by_ci', ci: 'passed', iterations: 2, verified: true, escalation: null, expected: { status: 'verified_by_ci', iterations: 2 } });
    const [first, second] = run.history;
    // Iteration 1 fixed the failed step and went to CI, which failed in the Lint job on its commit.
    expect(first).toMatchObject({ status: 'verified', verify: { command: 'npm test', result: 'passed' }, ci: { result: 'failed', failedCheck: 'Lint / Lint', exitCode: 1 } });
    // Iteration 2 worked on CI's failure (its command verifies it), on top of the committed fix: its own diff only.
    expect(second).toMatchObject({ status: 'verified', files: 1, lines: 2, verify: { command: 'npx eslint src', result: 'passed' }, ci: { result: 'passed', failedCheck: null } });
    expect(second!.ci!.commit).not.toBe(first!.ci!.commit);
  });

  it('ends escalated when CI still fails after the last iteration allowed', () => {
    const run = loop.runs.find((r) => r.case === 'node-test-lint-format-conflict')!;
    expect(run, label(run)).toMatchObject({ status: 'escalated', escalation: 'iterations', ci: 'failed', iterations: 3, reason: expect.stringContaining('CI still fails after 3 iterations') });
    expect(run.history.map((i) => [i.status, i.verify?.command, i.ci?.failedCheck])).toEqual([
      ['verified', 'npm test', 'Lint / Format'],
      ['verified', 'npx prettier --check src', 'Lint / Lint'],
      ['verified', 'npx eslint src', 'Lint / Format'],
    ]);
    expect(fixSummary(loop).at(-1)).toBe(`as case.json expects: ${LOOP.length} of ${LOOP.length} runs`);
  });

  it('reports a table and a summary per fixer', () => {
    expect(fixTable(rules)).toContain('prettier-format');
    const summary = fixSummary(agent);
    expect(summary[0]).toMatch(/^scripted agent \(no model/);
    expect(summary.at(-1)).toBe(`as case.json expects: ${AGENT.length} of ${AGENT.length} runs`);
  });
});
