import parseDiff from 'parse-diff';
import { redactSecrets } from '../redact.ts';

/**
 * The guard of a proposed fix: a diff (`git diff` of the workspace) is refused, naming the rule,
 * when it fixes CI by weakening it or reaches past what a fix may touch. The rules are the ways a
 * fixer (a coding agent above all) makes a red check green without fixing anything, as seen in
 * the field: skipping or deleting the failing test, silencing the checker, editing the workflow,
 * rewriting a lockfile, and one more that is about leaking, a secret in an added line.
 */

/** The rules, as named in `fix_attempts.guard_rule`, the admin API and metrics. */
export const GUARD_RULES = [
  'too-many-files',
  'too-many-lines',
  'skipped-test',
  'removed-test',
  'disabled-check',
  'workflow-edit',
  'lockfile-only',
  'binary-file',
  'secret',
  'empty',
] as const;
export type GuardRule = (typeof GUARD_RULES)[number];

/** Limits of one fix. */
export interface GuardLimits {
  /** Files changed at most. */
  maxFiles: number;
  /** Lines added plus deleted at most. */
  maxLines: number;
  /** The failure's category: a lockfile-only change is a fix only for `dependency`. */
  category: string;
}

/** What the guard decided; `files` and `lines` are the diff's size either way. */
export type GuardVerdict =
  | { ok: true; files: number; lines: number }
  | { ok: false; rule: GuardRule; detail: string; files: number; lines: number };

/** Added lines that skip a test: jest/vitest/mocha (`it.skip`, `describe.skip`, `xit`, `test.todo`), pytest, go, JUnit, Rust. */
const SKIP = /\b(?:it|test|describe|context|suite)\.(?:skip|todo)\s*\(|\bx(?:it|describe|test)\s*\(|@pytest\.mark\.(?:skip|xfail)\b|\bpytest\.skip\s*\(|\bt\.Skip(?:Now|f)?\s*\(|@(?:Disabled|Ignore)\b|#\[ignore\]|\bunittest\.skip\b/;

/** Added lines that silence a checker: eslint, flake8/ruff, TypeScript, mypy, golangci-lint, rubocop, clippy, pylint. */
const DISABLE = /eslint-disable|#\s*noqa\b|@ts-(?:ignore|expect-error|nocheck)\b|#\s*type:\s*ignore\b|\/\/\s*nolint\b|rubocop:disable|#\[allow\(|#!\[allow\(|pylint:\s*disable|prettier-ignore|biome-ignore/;

/** Test function or case definitions, whose removal (a deleted line with no added counterpart) removes a test. */
const TEST_DEFINITION = /^\s*(?:(?:it|test)\s*\(\s*['"`]|def test_\w+\s*\(|func Test\w+\s*\(|@Test\b|#\[test\])/;

/** Lockfiles of the common package managers. */
const LOCKFILE = /(?:^|\/)(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|bun\.lockb?|poetry\.lock|Pipfile\.lock|uv\.lock|Cargo\.lock|go\.sum|Gemfile\.lock|composer\.lock|gradle\.lockfile)$/;

/**
 * Checks a unified diff (`git diff`, parsed with `parse-diff`) against the rules, in the order of
 * {@link GUARD_RULES} after the size limits: the first rule broken is the verdict.
 */
export function guardDiff(diff: string, limits: GuardLimits): GuardVerdict {
  const files = parseDiff(diff);
  const lines = files.reduce((n, f) => n + f.additions + f.deletions, 0);
  const size = { files: files.length, lines };
  const refuse = (rule: GuardRule, detail: string): GuardVerdict => ({ ok: false, rule, detail, ...size });
  if (files.length === 0) return refuse('empty', 'the fixer changed nothing');
  if (files.length > limits.maxFiles) return refuse('too-many-files', `${files.length} files changed, at most ${limits.maxFiles}`);
  if (lines > limits.maxLines) return refuse('too-many-lines', `${lines} lines changed, at most ${limits.maxLines}`);
  const binary = /^Binary files (?:a\/)?(.+?) and (?:b\/)?(.+?) differ$|^GIT binary patch$/m.exec(diff);
  if (binary) return refuse('binary-file', `a binary file changed${binary[2] ? `: ${binary[2]}` : ''}`);
  for (const file of files) {
    const path = file.to && file.to !== '/dev/null' ? file.to : (file.from ?? '');
    if (/^\.github\/workflows\//.test(path)) return refuse('workflow-edit', `${path}: a fix does not edit CI's own workflow`);
    const added = file.chunks.flatMap((c) => c.changes.filter((ch) => ch.type === 'add').map((ch) => ch.content.slice(1)));
    const deleted = file.chunks.flatMap((c) => c.changes.filter((ch) => ch.type === 'del').map((ch) => ch.content.slice(1)));
    const skip = added.find((l) => SKIP.test(l));
    if (skip) return refuse('skipped-test', `${path}: ${skip.trim().slice(0, 120)}`);
    const removedTests = deleted.filter((l) => TEST_DEFINITION.test(l) && !added.some((a) => a.trim() === l.trim()));
    if (file.deleted && /(?:^|\/)(?:test|tests|__tests__|spec)\/|\.(?:test|spec)\.[cm]?[jt]sx?$|_test\.(?:go|py)$|(?:^|\/)test_\w+\.py$/.test(path)) {
      return refuse('removed-test', `${path}: a test file was deleted`);
    }
    if (removedTests.length > 0) return refuse('removed-test', `${path}: ${removedTests[0]!.trim().slice(0, 120)}`);
    const disable = added.find((l) => DISABLE.test(l));
    if (disable) return refuse('disabled-check', `${path}: ${disable.trim().slice(0, 120)}`);
    for (const line of added) {
      const { redactions } = redactSecrets(line);
      const rule = Object.keys(redactions)[0];
      if (rule) return refuse('secret', `${path}: an added line holds a secret (${rule})`);
    }
  }
  if (limits.category !== 'dependency' && files.every((f) => LOCKFILE.test(f.to && f.to !== '/dev/null' ? f.to : (f.from ?? '')))) {
    return refuse('lockfile-only', `only lockfiles changed, for a ${limits.category} failure`);
  }
  return { ok: true, ...size };
}
