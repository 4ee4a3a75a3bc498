import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../classify.ts';
import type { CiFailure } from '../failure.ts';
import { planFromRules } from '../plan.ts';
import { extractFailureContext } from './extract.ts';
import { findFindings, findingOf, formOf } from './findings.ts';

/** Each tool's shape, in lines written after the tools' documented formats (names invented). */
const SHAPES: [string, string, { kind: string; tool: string; category?: string; file?: string }][] = [
  ['pytest failed', 'FAILED tests/test_cart.py::TestCart::test_total - AssertionError: 3 != 4', { kind: 'failed-test', tool: 'pytest', category: 'test', file: 'tests/test_cart.py' }],
  ['pytest E line', 'E   ValueError: price must be positive', { kind: 'error', tool: 'pytest', category: 'test' }],
  ['pytest total', '==== 2 failed, 120 passed, 3 errors in 12.34s ====', { kind: 'summary', tool: 'pytest', category: 'test' }],
  ['mypy error', 'shop/cart.py:12: error: Incompatible return value type (got "int", expected "str")  [return-value]', { kind: 'error', tool: 'mypy', category: 'typecheck', file: 'shop/cart.py' }],
  ['mypy total', 'Found 37 errors in 12 files (checked 210 source files)', { kind: 'summary', tool: 'mypy', category: 'typecheck' }],
  ['tsc error', "src/cart.ts(3,7): error TS2322: Type 'number' is not assignable to type 'string'.", { kind: 'error', tool: 'tsc', category: 'typecheck', file: 'src/cart.ts' }],
  ['tsc total', 'Found 2 errors in 1 file.', { kind: 'summary', tool: 'tsc', category: 'typecheck' }],
  ['jest block', '  ● Cart › adds a line', { kind: 'failed-test', tool: 'jest', category: 'test' }],
  ['jest total', 'Tests:       1 failed, 41 passed, 42 total', { kind: 'summary', tool: 'jest', category: 'test' }],
  ['vitest file', ' ❯ src/cart.test.ts (3 tests | 1 failed) 12ms', { kind: 'failed-test', tool: 'vitest', category: 'test', file: 'src/cart.test.ts' }],
  ['rustc error', 'error[E0308]: mismatched types', { kind: 'error', tool: 'rustc', category: 'build' }],
  ['rustc location', '  --> src/cart.rs:5:5', { kind: 'location', tool: 'rustc', file: 'src/cart.rs' }],
  ['cargo test', 'test cart::adds_line ... FAILED', { kind: 'failed-test', tool: 'cargo', category: 'test' }],
  ['cargo total', 'test result: FAILED. 3 passed; 1 failed; 0 ignored', { kind: 'summary', tool: 'cargo', category: 'test' }],
  ['go test', '--- FAIL: TestCartTotal (0.00s)', { kind: 'failed-test', tool: 'go', category: 'test' }],
  ['eslint total', '✖ 3 problems (2 errors, 1 warning)', { kind: 'summary', tool: 'eslint', category: 'lint' }],
  ['eslint stylish', '  12:5  error  Unexpected console statement  no-console', { kind: 'error', tool: 'eslint', category: 'lint' }],
  ['prettier', '[warn] src/cart.ts', { kind: 'error', tool: 'prettier', category: 'lint', file: 'src/cart.ts' }],
  ['gradle', 'FAILURE: Build failed with an exception.', { kind: 'summary', tool: 'gradle', category: 'build' }],
  ['maven', '[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.11.0:compile', { kind: 'summary', tool: 'maven', category: 'build' }],
  ['buildkit', 'ERROR: failed to solve: process "/bin/sh -c make" did not complete successfully: exit code: 2', { kind: 'summary', tool: 'docker', category: 'build' }],
  ['pre-commit', 'mypy.....................................................................Failed', { kind: 'hook', tool: 'pre-commit' }],
  ['token', 'Error: Resource not accessible by integration', { kind: 'cause', tool: 'permission', category: 'permission' }],
  ['ownership', "fatal: detected dubious ownership in repository at '/src'", { kind: 'cause', tool: 'permission', category: 'permission' }],
  ['network', 'curl: (22) The requested URL returned error: 502 Bad Gateway', { kind: 'cause', tool: 'network', category: 'infrastructure' }],
  ['oom', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', { kind: 'cause', tool: 'runner', category: 'infrastructure' }],
  ['timeout', '##[error]The job running on runner r-1 has exceeded the maximum execution time of 360 minutes.', { kind: 'cause', tool: 'runner', category: 'timeout' }],
  ['workflow', 'Invalid workflow file: .github/workflows/ci.yml#L12', { kind: 'cause', tool: 'github', category: 'ci-config' }],
  ['exit', '##[error]Process completed with exit code 1.', { kind: 'summary', tool: 'github' }],
];

describe('tool findings', () => {
  it.each(SHAPES)('%s', (_name, line, expected) => {
    expect(findingOf(line, 0)).toMatchObject(expected);
  });

  it('ignores routine lines and passing tests', () => {
    for (const line of ['Downloading numpy-2.0.whl', 'test cart::adds_line ... ok', 'PASS src/cart.test.ts', 'Tests:       42 passed, 42 total']) {
      expect(findingOf(line, 0)).toBeNull();
    }
  });

  it("a formatter's bare file list names the files", () => {
    const found = findFindings(['Code style issues found in 2 files. Run Prettier with --write to fix.', 'src/a.ts', 'src/b.ts', 'Done']);
    expect(found.filter((f) => f.kind === 'error').map((f) => f.file)).toEqual(['src/a.ts', 'src/b.ts']);
  });

  it('one form for the same error about different names', () => {
    expect(formOf('a/b.py:3: error: Module has no attribute "x"  [attr-defined]')).toBe(formOf('c/d.py:97: error: Module has no attribute "yy"  [attr-defined]'));
    expect(formOf('a/b.py:3: error: Module has no attribute "x"')).not.toBe(formOf('a/b.py:3: error: Name "x" is not defined'));
    // pytest node ids and qualified names are particulars too: one form per failure reason.
    expect(formOf('FAILED pkg/tests/test_a.py::TestA::test_x[True] - DeprecationWarning: unit')).toBe(
      formOf('FAILED pkg/other/test_b.py::test_y - DeprecationWarning: unit'),
    );
    expect(formOf('FAILED pkg/tests/test_a.py::test_x - DeprecationWarning: unit')).not.toBe(formOf('FAILED pkg/tests/test_a.py::test_x - AssertionError: 1 != 2'));
  });
});

/** A GitHub Actions job log: set-up noise, then a failed step printing `count` mypy errors of one form. */
function mypyLog(count: number): string {
  const setup = Array.from({ length: 300 }, (_, i) => `2026-01-01T00:00:00.0000000Z Installing package-${i} ok`);
  const errors = Array.from({ length: count }, (_, i) => `pkg/mod${i % 12}.py:${i + 1}: error: Module has no attribute "fn${i}"  [attr-defined]`);
  return [
    ...setup,
    '##[group]Run mypy pkg',
    'mypy pkg',
    '##[endgroup]',
    ...errors,
    `Found ${count} errors in 12 files (checked 80 source files)`,
    '##[error]Process completed with exit code 1.',
    'Post job cleanup.',
  ].join('\n');
}

describe('extraction with tool findings', () => {
  it('shows the first errors of a repeated form whole, counts the rest, and keeps the total', () => {
    const context = extractFailureContext(mypyLog(200));
    const texts = context.lines.map((l) => l.text);
    expect(texts).toContain('pkg/mod0.py:1: error: Module has no attribute "fn0"  [attr-defined]');
    expect(texts).toContain('Found 200 errors in 12 files (checked 80 source files)');
    expect(texts.length).toBeLessThanOrEqual(80);
    expect(context.excerpt).toMatch(/… and \d+ more errors of the same form in 12 files/);
  });

  it('keeps a cause far above the failure report', () => {
    const log = [
      '##[group]Run ./run-tests.sh',
      "fatal: detected dubious ownership in repository at '/work'",
      ...Array.from({ length: 3000 }, (_, i) => `Starting example ${i} retry 0/2 then done`),
      'examples/a.test.tsx failed to pass within 2 retries',
      'No tests found, exiting with code 1',
      '##[error]Process completed with exit code 1.',
    ].join('\n');
    const context = extractFailureContext(log);
    expect(context.lines.map((l) => l.number)).toContain(2);
  });

  it('strips caret-notation colour codes', () => {
    const context = extractFailureContext('^[[31mFAILED^[[0m tests/test_a.py::test_b - AssertionError\n##[error]Process completed with exit code 1.');
    expect(context.lines[0]!.text).toBe('FAILED tests/test_a.py::test_b - AssertionError');
  });
});

describe('classification and the rules diagnosis from findings', () => {
  const failure = {
    id: 'f', provider: 'github', kind: 'job', event: 'workflow_job', owner: 'acme', repo: 'shop', repoId: null, branch: 'main',
    headSha: 'a'.repeat(40), runId: 1, runAttempt: 1, jobId: 2, checkSuiteId: null, workflowName: 'CI', jobName: 'tests',
    checkName: 'tests', appSlug: 'github-actions', htmlUrl: null, conclusion: 'failure', failedSteps: ['Run pytest'],
    outputText: null, pullRequests: [], installationId: null, startedAt: null, completedAt: null,
  } satisfies CiFailure as CiFailure;

  it('a cause decides over the test that failed after it, whatever the job is called', () => {
    const excerpt = ['ERROR: Could not install packages: Max retries exceeded with url: /x.zip', 'FAILED tests/test_net.py::test_install - AssertionError: returned 1'].join('\n');
    expect(classifyFailure({ ...failure }, excerpt).category).toBe('infrastructure');
  });

  it("a compiler's diagnostic decides over a test runner's verdict", () => {
    const excerpt = ['test compile_fail ... FAILED', 'error[E0308]: mismatched types', ' --> tests/fail/a.rs:5:5', 'test result: FAILED. 0 passed; 1 failed'].join('\n');
    expect(classifyFailure({ ...failure }, excerpt).category).toBe('build');
  });

  it('timed_out from GitHub stays first', () => {
    expect(classifyFailure({ ...failure, conclusion: 'timed_out' }, 'FAILED tests/a.py::b - AssertionError').category).toBe('timeout');
  });

  it('the rules diagnosis names the tool, the failing tests, the first errors and the total', () => {
    const excerpt = extractFailureContext(mypyLog(50)).excerpt;
    const plan = planFromRules({ ...failure, failedSteps: ['Run mypy pkg'] }, classifyFailure({ ...failure }, excerpt), excerpt);
    expect(plan).toContain('## Findings');
    expect(plan).toContain('reported by: mypy');
    expect(plan).toContain('pkg/mod0.py:1: error: Module has no attribute');
    expect(plan).toContain('total: `Found 50 errors in 12 files');
    expect(plan).toMatch(/## Summary\n.*type-checking failure.*First reported: .*Total: /);
  });
});
