import { describe, expect, it } from 'vitest';
import { fixFormOf } from './fix-forms.ts';
import { guardDiff } from './guard.ts';
import { stepCommandFromLog, stepCommandFromWorkflow } from './step-command.ts';

/** A unified diff of one file as `git diff` prints it. */
function diffOf(path: string, removed: string[], added: string[], options: { deleted?: boolean } = {}): string {
  const head = options.deleted
    ? [`diff --git a/${path} b/${path}`, 'deleted file mode 100644', 'index 1111111..0000000', `--- a/${path}`, '+++ /dev/null']
    : [`diff --git a/${path} b/${path}`, 'index 1111111..2222222 100644', `--- a/${path}`, `+++ b/${path}`];
  return [...head, `@@ -1,${removed.length + 1} +1,${added.length + 1} @@`, ' context', ...removed.map((l) => `-${l}`), ...added.map((l) => `+${l}`), ''].join('\n');
}
const limits = { maxFiles: 5, maxLines: 40, category: 'test' };

describe('guardDiff', () => {
  it('passes a real fix and reports its size', () => {
    expect(guardDiff(diffOf('src/cart.ts', ['  return total * 0.9;'], ['  return total * 0.81;']), limits)).toEqual({ ok: true, files: 1, lines: 2 });
  });

  it.each([
    ['skipped-test', diffOf('src/cart.test.ts', ["  it('applies the discount', () => {"], ["  it.skip('applies the discount', () => {"])],
    ['skipped-test', diffOf('tests/test_cart.py', [], ['@pytest.mark.skip(reason="flaky")'])],
    ['skipped-test', diffOf('cart_test.go', [], ['\tt.Skip("later")'])],
    ['removed-test', diffOf('src/cart.test.ts', ["  it('applies the discount', () => {", '    expect(total()).toBe(81);', '  });'], [])],
    ['removed-test', diffOf('tests/test_cart.py', ['def test_discount():', '    assert total() == 81'], [], { deleted: true })],
    ['disabled-check', diffOf('src/cart.ts', [], ['  // @ts-ignore'])],
    ['disabled-check', diffOf('src/cart.ts', [], ['  // eslint-disable-next-line no-unused-vars'])],
    ['disabled-check', diffOf('cart.py', ['import os'], ['import os  # noqa: F401'])],
    ['disabled-check', diffOf('cart.py', ['x = f()'], ['x = f()  # type: ignore'])],
    ['workflow-edit', diffOf('.github/workflows/ci.yml', ['      - run: npm test'], ['      - run: npm test || true'])],
    ['secret', diffOf('src/config.ts', [], ["const token = 'ghp_" + 'Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8' + "';"])],
  ])('refuses %s', (rule, diff) => {
    expect(guardDiff(diff, limits)).toMatchObject({ ok: false, rule });
  });

  it('refuses size past the limits, binary files, empty fixes, and lockfile-only changes outside dependency failures', () => {
    const many = Array.from({ length: 6 }, (_, i) => diffOf(`src/f${i}.ts`, ['a'], ['b'])).join('');
    expect(guardDiff(many, limits)).toMatchObject({ ok: false, rule: 'too-many-files', files: 6 });
    const long = diffOf('src/a.ts', [], Array.from({ length: 41 }, (_, i) => `line ${i}`));
    expect(guardDiff(long, limits)).toMatchObject({ ok: false, rule: 'too-many-lines', lines: 41 });
    const binary = ['diff --git a/logo.png b/logo.png', 'index 1111111..2222222 100644', 'Binary files a/logo.png and b/logo.png differ', ''].join('\n');
    expect(guardDiff(binary, limits)).toMatchObject({ ok: false, rule: 'binary-file' });
    expect(guardDiff('', limits)).toMatchObject({ ok: false, rule: 'empty' });
    const lock = diffOf('package-lock.json', ['"version": "1.0.0"'], ['"version": "1.0.1"']);
    expect(guardDiff(lock, limits)).toMatchObject({ ok: false, rule: 'lockfile-only' });
    expect(guardDiff(lock, { ...limits, category: 'dependency' })).toMatchObject({ ok: true });
  });

  it('keeps a test that was only moved or reformatted', () => {
    const moved = diffOf('src/cart.test.ts', ["  it('applies the discount', () => {"], ["  it('applies the discount', () => {", '    // reformatted']);
    expect(guardDiff(moved, limits)).toMatchObject({ ok: true });
  });
});

describe('fixFormOf', () => {
  it.each([
    ['prettier --check .', 'prettier', 'prettier . --write'],
    ['npx prettier --check "src/**/*.ts"', 'prettier', 'npx prettier src/\\*\\*/\\*.ts --write'],
    ['npx --yes prettier@3.3.3 --check .', 'prettier', 'npx prettier\\@3.3.3 . --write'],
    ['node_modules/.bin/prettier --check src', 'prettier', 'node_modules/.bin/prettier src --write'],
    ['eslint . --max-warnings 0', 'eslint', 'eslint . --max-warnings 0 --fix'],
    ['pnpm exec eslint src', 'eslint', 'pnpm exec eslint src --fix'],
    ['ruff check .', 'ruff', 'ruff check . --fix'],
    ['ruff format --check .', 'ruff format', 'ruff format .'],
    ['black --check src tests', 'black', 'black src tests'],
    ['python -m black --check .', 'black', 'python -m black .'],
    ['gofmt -l .', 'gofmt', 'gofmt -w .'],
    ['test -z "$(gofmt -l .)"', 'gofmt', 'gofmt -w .'],
    ['[ -z "$(gofmt -l cmd internal)" ]', 'gofmt', 'gofmt -w cmd internal'],
    ['cargo fmt --all -- --check', 'cargo fmt', 'cargo fmt --all --'],
    ['rustfmt --check src/main.rs', 'rustfmt', 'rustfmt src/main.rs'],
  ])('%s → %s fix', (command, tool, fix) => {
    expect(fixFormOf(command)).toEqual({ tool, command: fix });
  });

  it('knows no fix for tests, builds, chains and substitutions', () => {
    for (const command of ['npm test', 'cargo build', 'tsc --noEmit', 'prettier --check . && eslint .', 'eslint $(git diff --name-only)', 'test -z "$(gofmt -l $(go list -f {{.Dir}} ./...))"', 'test -z "$(gofmt -l .; rm -rf /)"', 'pytest -x']) {
      expect(fixFormOf(command)).toBeNull();
    }
  });
});

describe('the failed step command', () => {
  const workflow = `
name: CI
on: [push]
defaults:
  run:
    shell: bash
jobs:
  lint:
    name: Lint
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: web
    steps:
      - uses: actions/checkout@v4
      - name: Check formatting
        run: npx prettier --check .
      - run: |
          npm ci
          npm run lint
  test:
    strategy:
      matrix: { node: [18, 20] }
    name: test (\${{ matrix.node }})
    runs-on: ubuntu-latest
    steps:
      - run: npm test
        working-directory: packages/app
`;

  it('comes from the workflow file: job and step by display name, defaults inherited', () => {
    expect(stepCommandFromWorkflow(workflow, 'Lint', 'Check formatting')).toEqual({ run: 'npx prettier --check .', workingDirectory: 'web', shell: 'bash', source: 'workflow' });
    expect(stepCommandFromWorkflow(workflow, 'Lint', 'Run npm ci')).toMatchObject({ run: 'npm ci\nnpm run lint\n' });
    expect(stepCommandFromWorkflow(workflow, 'test (20)', 'Run npm test')).toMatchObject({ run: 'npm test', workingDirectory: 'packages/app' });
    expect(stepCommandFromWorkflow(workflow, 'Lint', 'Run actions/checkout@v4')).toBeNull(); // a `uses` step runs no command
    expect(stepCommandFromWorkflow('jobs: [', 'Lint', 'x')).toBeNull();
  });

  it("else from the log's ##[group]Run header", () => {
    const log = [
      '2024-05-01T10:00:00.0000000Z ##[group]Run actions/checkout@v4',
      '2024-05-01T10:00:01.0000000Z ##[endgroup]',
      '2024-05-01T10:00:02.0000000Z ##[group]Run npm ci',
      '2024-05-01T10:00:02.0000000Z npm ci',
      '2024-05-01T10:00:02.0000000Z npm run lint',
      '2024-05-01T10:00:02.0000000Z shell: /usr/bin/bash -e {0}',
      '2024-05-01T10:00:02.0000000Z ##[endgroup]',
      '2024-05-01T10:00:09.0000000Z src/a.ts: error',
      '2024-05-01T10:00:09.0000000Z ##[error]Process completed with exit code 1.',
    ].join('\n');
    expect(stepCommandFromLog(log, 'Run npm ci')).toEqual({ run: 'npm ci\nnpm run lint', workingDirectory: null, shell: '/usr/bin/bash -e {0}', source: 'log' });
    expect(stepCommandFromLog(log, null)).toMatchObject({ run: 'npm ci\nnpm run lint' });
    expect(stepCommandFromLog(log, 'Run make')).toBeNull();
  });
});
