import { parse, quote } from 'shell-quote';

/**
 * The rules fixer's mapping from a check that failed to the command that fixes what it reports:
 * each formatter's or linter's own fix mode (their docs: prettier `--write`, eslint `--fix`, ruff
 * `check --fix` and `format`, black without `--check`, gofmt `-w`, `cargo fmt` without `--check`,
 * rustfmt without `--check`, biome `--write`, stylelint `--fix`, markdownlint `--fix`,
 * rubocop `-a`). A command is matched word by word after an optional runner prefix (`npx`,
 * `pnpm exec`, `yarn`, `bunx`, `uv run`, `poetry run`, `python -m`); anything else is no rule.
 */
interface FixForm {
  tool: string;
  /** Whether `words` (after the prefix) run this check. */
  matches(words: string[]): boolean;
  /** The fixing command's words. */
  fix(words: string[]): string[];
}

const without = (words: string[], ...drop: string[]) => words.filter((w) => !drop.includes(w));

const FORMS: FixForm[] = [
  { tool: 'prettier', matches: (w) => w[0] === 'prettier' && (w.includes('--check') || w.includes('-c') || w.includes('--list-different') || w.includes('-l')), fix: (w) => [...without(w, '--check', '-c', '--list-different', '-l'), '--write'] },
  { tool: 'eslint', matches: (w) => w[0] === 'eslint' && !w.includes('--fix'), fix: (w) => [...w, '--fix'] },
  { tool: 'ruff', matches: (w) => w[0] === 'ruff' && w[1] === 'check' && !w.includes('--fix'), fix: (w) => [...w, '--fix'] },
  { tool: 'ruff format', matches: (w) => w[0] === 'ruff' && w[1] === 'format' && w.includes('--check'), fix: (w) => without(w, '--check', '--diff') },
  { tool: 'black', matches: (w) => w[0] === 'black' && w.includes('--check'), fix: (w) => without(w, '--check', '--diff') },
  { tool: 'isort', matches: (w) => w[0] === 'isort' && (w.includes('--check') || w.includes('--check-only') || w.includes('-c')), fix: (w) => without(w, '--check', '--check-only', '-c', '--diff') },
  { tool: 'gofmt', matches: (w) => w[0] === 'gofmt' && w.includes('-l') && !w.includes('-w'), fix: (w) => [w[0]!, '-w', ...without(w.slice(1), '-l', '-d')] },
  { tool: 'cargo fmt', matches: (w) => w[0] === 'cargo' && w[1] === 'fmt' && w.includes('--check'), fix: (w) => without(w, '--check') },
  { tool: 'rustfmt', matches: (w) => w[0] === 'rustfmt' && w.includes('--check'), fix: (w) => without(w, '--check') },
  { tool: 'biome', matches: (w) => w[0] === 'biome' && ['check', 'format', 'lint'].includes(w[1] ?? '') && !w.includes('--write'), fix: (w) => [...w, '--write'] },
  { tool: 'stylelint', matches: (w) => w[0] === 'stylelint' && !w.includes('--fix'), fix: (w) => [...w, '--fix'] },
  { tool: 'markdownlint', matches: (w) => (w[0] === 'markdownlint' || w[0] === 'markdownlint-cli2') && !w.includes('--fix'), fix: (w) => [...w, '--fix'] },
  { tool: 'rubocop', matches: (w) => w[0] === 'rubocop' && !w.includes('-a') && !w.includes('-A'), fix: (w) => [...w, '-a'] },
];

/** `test -z "$(gofmt -l <paths>)"` (or `[ -z … ]`), paths without quotes, substitutions or operators. */
const GOFMT_TEST = /^(?:test|\[)\s+-z\s+"\$\(\s*gofmt\s+-l\s+([^`$()"';&|<>\\]+)\)"(?:\s+\])?$/;

/** Runner prefixes kept in front of the fixing command. */
const PREFIXES = [['npx'], ['pnpm', 'exec'], ['pnpm', 'dlx'], ['yarn'], ['bunx'], ['uv', 'run'], ['poetry', 'run'], ['python', '-m'], ['python3', '-m']];

/**
 * The fix form of a failing check's command line (one simple command, or gofmt's `test -z "$(gofmt -l …)"`; pipelines, `&&` chains and
 * substitutions are no rule).
 *
 * @returns the fixing command line and the tool, or `null` when no rule knows the command
 */
export function fixFormOf(command: string): { tool: string; command: string } | null {
  // `gofmt -l` exits 0 whatever it lists, so workflows wrap it: `test -z "$(gofmt -l .)"`. That
  // one substitution is known; its paths are plain words or nothing is.
  const gofmtTest = GOFMT_TEST.exec(command.trim());
  if (gofmtTest) {
    const paths = parse(gofmtTest[1]!.trim());
    return paths.length > 0 && paths.every((p) => typeof p === 'string') ? { tool: 'gofmt', command: quote(['gofmt', '-w', ...(paths as string[])]) } : null;
  }
  const parsed = parse(command.trim());
  if (parsed.some((p) => typeof p !== 'string')) return null;
  const words = parsed as string[];
  const prefix = PREFIXES.find((p) => p.every((w, i) => words[i] === w)) ?? [];
  let rest = words.slice(prefix.length);
  if (prefix[0] === 'npx') rest = without(rest, '--yes', '-y', '--no-install');
  if (!rest[0]) return null;
  // Matched by the tool's name (`node_modules/.bin/prettier`, `prettier@3`: `prettier`); the fixing
  // command keeps the word as written, so it runs the same binary.
  const written = rest[0];
  const named = [written.replace(/@[^/]+$/, '').replace(/^.*\//, ''), ...rest.slice(1)];
  const form = FORMS.find((f) => f.matches(named));
  if (!form) return null;
  const fixed = form.fix(named);
  return { tool: form.tool, command: quote([...prefix, fixed[0] === named[0] ? written : fixed[0]!, ...fixed.slice(1)]) };
}
