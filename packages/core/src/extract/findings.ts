import type { Category } from '../classify.ts';

/**
 * What a line of a CI log says in the shape of the tool that printed it: a failing test, an error
 * with its location, the tool's own failure total, or a cause outside the code (a permission, the
 * network, memory, the clock).
 *
 * - `error`: one reported problem (`file:line: error: …`, `error[E0308]: …`, `● Suite › test`).
 * - `failed-test`: a test the runner reports as failed, with its name.
 * - `summary`: the tool's own total (`Found 279 errors in 9 files`, `Tests: 1 failed`), or the
 *   step's exit (`##[error]Process completed with exit code 1.`).
 * - `cause`: an environment problem that explains whatever failed after it (`fatal: detected
 *   dubious ownership`, `502 Bad Gateway`, `Killed`, `Resource not accessible by integration`).
 * - `location`: where the preceding error points (`--> src/a.rs:5:5`, `at f (src/a.ts:3:7)`).
 * - `hook`: a named check the step runs that reports its own verdict (pre-commit `name....Failed`).
 */
export type FindingKind = 'error' | 'failed-test' | 'summary' | 'cause' | 'location' | 'hook';

/** One finding: the line it is on (0-based index into the parsed lines) and what it names. */
export interface Finding {
  kind: FindingKind;
  /** The tool whose shape matched (`pytest`, `mypy`, `tsc`, `jest`, `cargo`, `go`, `eslint`, …). */
  tool: string;
  index: number;
  /** What is worth quoting: the message, the test name or the total (cleaned, at most 300 characters). */
  text: string;
  file?: string;
  /** The failure category this shape is evidence of, when it says (a mypy error is `typecheck`). */
  category?: Category;
}

interface Shape {
  kind: FindingKind;
  tool: string;
  pattern: RegExp;
  category?: Category;
  /** Capture group holding the file, if any. */
  file?: number;
  /** Capture group holding the quotable text; default the whole (trimmed) line. */
  text?: number;
}

/**
 * The shapes, most specific first; a line takes the first that matches. Each is the tool's
 * documented or long-stable output format, not text from any one project:
 * pytest's `-rfE` short summary and `E   ` assertion lines, mypy's and tsc's `file:line` error
 * lists and `Found N errors` totals, jest's and vitest's `●`/`FAIL`/`Tests:` report, cargo's and
 * rustc's `error[E…]` / `-->` / `test … FAILED` / `test result:` lines (and nextest's `FAIL [` and
 * `N tests run`), go test's `--- FAIL:` and `FAIL pkg`, eslint's stylish and unix formats,
 * prettier's `[warn]`/`Code style issues`, Gradle's `FAILURE:`/`> Task … FAILED` and Maven's
 * `[ERROR]` summaries, BuildKit's `ERROR: failed to solve` and `#N [stage] RUN` steps,
 * pre-commit's `hook....Failed`, GitHub's `##[error]` annotations, and the environment's errors.
 */
const SHAPES: Shape[] = [
  // Causes outside the code: checked first, they explain everything after them.
  {
    kind: 'cause',
    tool: 'permission',
    category: 'permission',
    pattern:
      /Resource not accessible by integration|Bad credentials|detected dubious ownership|Input required and not supplied: \w+|Permission to \S+ denied to|\bRequires authentication\b|\b(?:HTTP|status(?: code)?|returned)\W{0,3}40[13]\b.{0,80}\b(?:token|auth|credential|permission|forbidden|unauthori[sz]ed)|\b40[13] (?:Forbidden|Unauthorized)\b.{0,80}(?:token|auth|push|registry|api)|secret\S* (?:is )?(?:not set|missing|empty|not found)|Error: (?:The )?(?:token|secret)\b.{0,40}(?:not|missing|invalid)/i,
  },
  {
    kind: 'cause',
    tool: 'network',
    category: 'infrastructure',
    pattern:
      /\b50[234] (?:Bad Gateway|Service Unavailable|Gateway Time-?out)\b|too many 5\d\d error responses|Max retries exceeded with url|\b(?:ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|ECONNREFUSED)\b|Could not resolve host|Temporary failure in name resolution|TLS handshake timeout|connection reset by peer|\bserver returned error: HTTP\/[\d.]+ 5\d\d|rate limit exceeded|toomanyrequests/i,
  },
  {
    kind: 'cause',
    tool: 'runner',
    category: 'timeout',
    pattern: /has exceeded the maximum execution time|The operation was canceled|The action .* has timed out|\btimed out after \d/i,
  },
  {
    kind: 'cause',
    tool: 'runner',
    category: 'infrastructure',
    pattern: /No space left on device|JavaScript heap out of memory|\bOOMKilled\b|Cannot allocate memory|\bout of memory\b|exit code 137\b|\bKilled\s*$|received a shutdown signal|lost communication with the server/i,
  },
  {
    kind: 'cause',
    tool: 'github',
    category: 'ci-config',
    pattern: /Invalid workflow file|The workflow is not valid|Unrecognized named-value|Unable to resolve action|Can't find 'action\.ya?ml'|Unexpected value '[^']+'|is not defined in the referenced workflow/i,
  },
  // Tool totals.
  { kind: 'summary', tool: 'mypy', category: 'typecheck', pattern: /^Found \d+ errors? in \d+ files? \(checked \d+/ },
  { kind: 'summary', tool: 'tsc', category: 'typecheck', pattern: /^Found \d+ errors?(?: in \d+ files?)?\.\s*(?:Watching|$)/ },
  { kind: 'summary', tool: 'pytest', category: 'test', pattern: /^=+ .*\b\d+ (?:failed|errors?)\b.* in [\d.]+s\b.*=+$/ },
  { kind: 'summary', tool: 'jest', category: 'test', pattern: /^\s*Tests?:\s+\d+ failed|^\s*Test (?:Suites|Files):?\s+\d+ failed|^No tests found, exiting with code \d+/ },
  { kind: 'summary', tool: 'cargo', category: 'test', pattern: /^\s*test result: FAILED\b|\b\d+ tests? run: .*\b[1-9]\d* failed|^\s*\d+ of \d+ tests failed/ },
  { kind: 'summary', tool: 'cargo', category: 'build', pattern: /^error: could not compile `[^`]+`|^error: aborting due to \d+ previous errors?/ },
  { kind: 'summary', tool: 'go', category: 'test', pattern: /^FAIL\s+\S+\s+[\d.]+s$|^FAIL$/ },
  { kind: 'summary', tool: 'eslint', category: 'lint', pattern: /^\s*✖ \d+ problems? \(\d+ errors?/ },
  { kind: 'summary', tool: 'prettier', category: 'lint', pattern: /Code style issues (?:found|were found) in (?:\d+ files|the above file)|Run Prettier with --write|uses prettier to format/i },
  { kind: 'summary', tool: 'gradle', category: 'build', pattern: /^FAILURE: Build failed with an exception|^BUILD FAILED in\b|^> Task \S+ FAILED$/ },
  { kind: 'summary', tool: 'maven', category: 'build', pattern: /^\[ERROR\] Failed to execute goal\b|^\[INFO\] BUILD FAILURE$|^\[ERROR\] Tests run: \d+, Failures: \d+, Errors: \d+/ },
  { kind: 'summary', tool: 'docker', category: 'build', pattern: /^(?:#\d+ )?ERROR: failed to solve\b|^ERROR: failed to build\b|did not complete successfully: exit code: \d+/ },
  { kind: 'summary', tool: 'github', pattern: /^##\[error\]Process completed with exit code [1-9]\d*\.?$/ },
  // One failing test.
  { kind: 'failed-test', tool: 'pytest', category: 'test', pattern: /^(?:FAILED|ERROR) (\S+::\S+|\S+\.py)(?: - (.*))?$/, file: 1 },
  { kind: 'failed-test', tool: 'jest', category: 'test', pattern: /^\s*● (?!Console\b)(.+ › .+|.*\S)$/, text: 1 },
  { kind: 'failed-test', tool: 'jest', category: 'test', pattern: /^\s*FAIL\s+(\S+\.(?:test|spec)\.[cm]?[jt]sx?|\S+\/__tests__\/\S+)\b/, file: 1 },
  { kind: 'failed-test', tool: 'vitest', category: 'test', pattern: /^\s*(?:×|✗|❯)\s+(\S+\.(?:test|spec)\.[cm]?[jt]sx?)\b/, file: 1 },
  { kind: 'failed-test', tool: 'cargo', category: 'test', pattern: /^\s*test (\S+) \.\.\. (?:FAILED|mismatch)$/, text: 1 },
  { kind: 'failed-test', tool: 'cargo', category: 'test', pattern: /^\s*FAIL \[\s*[\d.]+m?s\] (?:\(\s*\d+\/\d+\) )?(\S+ \S+|\S+::\S+)/, text: 1 },
  { kind: 'failed-test', tool: 'go', category: 'test', pattern: /^\s*--- FAIL: (\S+)/, text: 1 },
  { kind: 'failed-test', tool: 'junit', category: 'test', pattern: /^\[ERROR\] (\S+)\s+(?:Time elapsed: .*)?<<< (?:FAILURE|ERROR)!|^\s*(\S+) > (.+) FAILED$/, text: 1 },
  { kind: 'failed-test', tool: 'test', category: 'test', pattern: /^(\S+) failed to pass within \d+ retr/, file: 1 },
  // One error.
  { kind: 'error', tool: 'mypy', category: 'typecheck', pattern: /^(\S+\.pyi?):\d+(?::\d+)?: error: (.*)$/, file: 1 },
  { kind: 'error', tool: 'tsc', category: 'typecheck', pattern: /^(\S+\.[cm]?tsx?)(?:\(\d+,\d+\):?|:\d+:\d+) ?-? ?error (TS\d+: .*)$/, file: 1 },
  { kind: 'error', tool: 'rustc', category: 'build', pattern: /^\s*error(?:\[E\d{4}\])?: (?!test run failed|could not compile|aborting)(.*)$/ },
  { kind: 'error', tool: 'pytest', category: 'test', pattern: /^E {2,}(\w+(?:Error|Exception|Warning|Exit)\b.*)$/, text: 1 },
  { kind: 'error', tool: 'pytest', category: 'test', pattern: /^(\S+\.py):\d+: (?:in \S+|\w+(?:Error|Exception|Warning))$/, file: 1 },
  { kind: 'error', tool: 'eslint', category: 'lint', pattern: /^\s+\d+:\d+\s+error\s+(.+?)\s{2,}[\w@/-]+$/, text: 1 },
  { kind: 'error', tool: 'eslint', category: 'lint', pattern: /^(\S+\.\w+): line \d+, col \d+, Error - (.*)$/, file: 1 },
  { kind: 'error', tool: 'prettier', category: 'lint', pattern: /^\[(?:warn|error)\] (\S+\.\w{1,6})$/, file: 1 },
  { kind: 'error', tool: 'docker', category: 'build', pattern: /^#\d+ \d+(?:\.\d+)? (.*\b(?:error|ERROR|failed|not found)\b.*)$/, text: 1 },
  { kind: 'error', tool: 'docker', category: 'build', pattern: /^#\d+ \[[^\]]+\] RUN (.*)$/ },
  { kind: 'error', tool: 'gradle', category: 'build', pattern: /^\* What went wrong:$/ },
  { kind: 'error', tool: 'compiler', category: 'build', pattern: /^(\S+\.(?:c|cc|cpp|h|hpp|go|swift|java|kt|scala|cs|m|zig)):\d+(?::\d+)?: (?:fatal )?error: (.*)$/, file: 1 },
  { kind: 'error', tool: 'git', pattern: /^(?:fatal|error): (.*)$/, text: 1 },
  { kind: 'error', tool: 'github', pattern: /^##\[error\](.*)$/, text: 1 },
  { kind: 'error', tool: 'node', pattern: /^(?:Uncaught |Unhandled )?(?:[A-Z]\w*)?(?:Error|Exception): .{4,}$/ },
  // Where an error points.
  { kind: 'location', tool: 'rustc', pattern: /^\s*--> (\S+):\d+:\d+$/, file: 1 },
  { kind: 'location', tool: 'docker', pattern: /^(Dockerfile[\w.-]*):\d+$/, file: 1 },
  { kind: 'hook', tool: 'pre-commit', pattern: /^(.+?)\.{3,}(?:\(no files to check\))?Failed$/, text: 1 },
];

/** Cheap test that a line may match a shape: most lines of a log match none. */
const MAYBE =
  /rror|RROR|FAIL|[Ff]ail|Found|Tests?:|test|●|✖|×|✗|❯|warn|denied|ownership|credential|supplied|40[13]|50[234]|5\d\d error|retries|ECONN|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|resolve|handshake|reset|rate limit|toomany|exceeded|cancel|timed out|space left|memory|OOM|137|Killed|shutdown|lost comm|workflow|named-value|action|Unexpected value|-->|Dockerfile|#\d+ |prettier|Code style|secret|token|What went wrong|Exception|\.\.\.$/;

const MAX_TEXT = 300;

/**
 * The finding a cleaned log line shows on its own, or `null` (shapes that depend on the lines
 * around them, such as a formatter's file list, are found by {@link findFindings}).
 */
export function findingOf(text: string, index: number): Finding | null {
  if (text.length < 4 || text.length > 4000 || !MAYBE.test(text)) return null;
  for (const shape of SHAPES) {
    const match = shape.pattern.exec(text);
    if (!match) continue;
    const quoted = (shape.text !== undefined ? match[shape.text] : undefined) ?? text.trim();
    const finding: Finding = { kind: shape.kind, tool: shape.tool, index, text: quoted.trim().slice(0, MAX_TEXT) };
    const file = shape.file !== undefined ? match[shape.file] : undefined;
    if (file) finding.file = file.replace(/::.*$/, '');
    if (shape.category) finding.category = shape.category;
    return finding;
  }
  return null;
}

/**
 * The findings of a log's cleaned lines, in log order. A formatter's list of files (bare paths
 * right after a `prettier`/`black`/`gofmt` complaint) becomes `error` findings naming each file.
 * Linear in the number of lines.
 */
export function findFindings(texts: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  let formatterUntil = -1;
  texts.forEach((text, index) => {
    const finding = findingOf(text, index);
    if (finding) {
      findings.push(finding);
      if (finding.tool === 'prettier' && finding.kind === 'summary') formatterUntil = index + 40;
      return;
    }
    if (index <= formatterUntil && BARE_PATH.test(text)) {
      findings.push({ kind: 'error', tool: 'prettier', index, text: text.trim(), file: text.trim(), category: 'lint' });
    }
  });
  return findings;
}

/** A line that is only a relative source path (`packages/a/src/b.test.js`). */
const BARE_PATH = /^\s*(?:[\w@.-]+\/)*[\w@.-]+\.[A-Za-z]{1,6}\s*$/;

/**
 * The shape of a line with its particulars removed (quoted names, qualified names and pytest node
 * ids such as `a.py::TestA::test_x[1]`, paths, line numbers, numbers): lines of one form are the
 * same error about different things (`a.py:3: error: Module has no attribute "x"` and `b.py:9:
 * error: Module has no attribute "y"`). Folding `::` names (measured, `npm run eval`): LogDx signal
 * recall 87.8% → 92.0%, critical 89.8% → 94.8% (pandas' 45 `FAILED … - DeprecationWarning` lines
 * are one form, so the ERRORS section and the totals fit).
 */
export function formOf(text: string): string {
  return text
    .replace(/"[^"]*"|'[^']*'|`[^`]*`|“[^”]*”/g, '<q>')
    .replace(/\S+::\S+/g, '<id>')
    .replace(/(?:[\w@.+-]*[/\\])+[\w@.+-]+|\b[\w-]+\.(?:py|pyi|js|ts|tsx|jsx|mjs|cjs|rs|go|java|kt|rb|c|h|cc|cpp|cs|php|swift|scala)\b/g, '<path>')
    .replace(/\d+/g, '0')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The file a line names (`a/b.py:3: …`, `--> a/b.rs:5:5`), for counting the files of a repeated form. */
export function fileOf(text: string): string | null {
  return /(?:^|\s|\()((?:[\w@.+-]+\/)*[\w@.+-]+\.[A-Za-z]{1,6}):\d+/.exec(text)?.[1] ?? null;
}
