/**
 * Language-agnostic line signals: how strongly one log line, on its own, looks like part of a
 * failure explanation. The extractor combines this with the log's structure, the line's position
 * and the passing run.
 *
 * The signals are general shapes shared by many tools, not strings from any one project:
 * severity words at word boundaries, `file:line[:col]: error` diagnostics (GCC/Clang, tsc, rustc,
 * javac, Go vet, ESLint's unix format), exception and traceback headers (Java, Python, Ruby,
 * Node, .NET, Elixir), test-runner verdicts (JUnit/Surefire, TAP `not ok`, Go `--- FAIL`, pytest
 * `E   `, RSpec/Mocha numbered failures, `✖`/`✗`), and process exits (`exit code N`, make's
 * `*** … Error N`, CI "exited with N" lines).
 */

/** Why a line scored: `header` lines start an explanation (context follows), `terminal` lines end one (context precedes). */
export type LineRole = 'header' | 'terminal' | 'context' | 'none';

export interface LineScore {
  score: number;
  role: LineRole;
}

interface Signal {
  pattern: RegExp;
  weight: number;
  role: Exclude<LineRole, 'none'>;
  /** Signals of one family say the same thing; only the strongest of a family counts. */
  family: string;
}

/** Diagnostics with a location: `src/a.c:12:5: error: …`, `Foo.java:[3,4] error:`, `a.ts(3,4): error TS2322`. */
const LOCATED_ERROR = /[\w./\\-]+\.\w+(?::\[?\d+(?:[:,]\d+)?\]?|\(\d+(?:,\d+)?\)):?\s*(?:-\s*)?(?:fatal error|error|Error|ERROR)\b/;
/** Any `file.ext:line:col: message` or `file.ext(line,col): message` diagnostic (compilers, linters). */
const LOCATED_MESSAGE = /(?:^|\s)[\w./\\@+-]*\w\.\w{1,10}(?::\d+:\d+|\(\d+,\d+\)):?\s+\S/;

const SIGNALS: Signal[] = [
  { pattern: LOCATED_ERROR, weight: 5, role: 'header', family: 'located' },
  { pattern: LOCATED_MESSAGE, weight: 2.5, role: 'header', family: 'located' },
  { pattern: /^##\[error\]/, weight: 4, role: 'header', family: 'annotation' },
  { pattern: /\b(?:error|Error|ERROR)\s*(?:\[[\w-]+\]|[A-Z]{1,4}\d{2,5})?\s*[:!]|^\s*\[?(?:error|ERROR|Error)\]?\b/, weight: 3.5, role: 'header', family: 'error' },
  { pattern: /(?<![\w.])(?:error|errors|errored)(?!\.?\w)/i, weight: 2, role: 'header', family: 'error' },
  { pattern: /\b(?:fatal|FATAL|Fatal|panic|PANIC)\b|^panic:/, weight: 3.5, role: 'header', family: 'fatal' },
  { pattern: /Traceback \(most recent call last\)|\b(?:Error|ERROR) (?:at|in) [\w./\\-]+:\d+|^\s*Caused by:|^\s*\*\* \(\w+\)|^\s*(?:Uncaught|Unhandled)\b/, weight: 4, role: 'header', family: 'exception' },
  { pattern: /(?:^|[\s.:(\[])[A-Z]\w*(?:Error|Exception|Failure|Fault)\b(?::|$|\s+(?:at|in|was|is|:))|\bexception\b/i, weight: 3, role: 'header', family: 'exception' },
  { pattern: /^\s*(?:FAIL|FAILED|FAILURE|FAILING|ERRORED|BROKEN)\b|--- FAIL\b|<<< (?:FAILURE|ERROR)!|\bFAILED\b|\bFAIL\b/, weight: 3.5, role: 'header', family: 'fail' },
  { pattern: /^\s*not ok\b|^\s*[✖✗✘×❌]|[✖✗✘❌]\s|^\s*E {2,}\S|^\s*\[-\]\s/, weight: 3, role: 'header', family: 'fail' },
  { pattern: /(?<![\w.])(?:fail|fails|failed|failure|failures|failing)(?!\.?\w)/i, weight: 2.5, role: 'header', family: 'fail' },
  { pattern: /\bassert(?:ion|ions)?\b|\bexpected\b.{1,120}\b(?:but|got|to (?:be|equal|have|match|contain)|received|actual|instead)\b|^\s*(?:expected|actual|received|but was|got)\s*[:<]/i, weight: 2.5, role: 'header', family: 'assert' },
  {
    pattern:
      /\b(?:cannot|can't|could not|couldn't|unable to|not found|no such file|undefined (?:reference|method|symbol|variable|index|local)|is not defined|never defined|not defined|does ?n[o']t exist|unexpected|invalid|missing|denied|refused|unresolved|mismatch|incompatible|unsupported|timed? ?out|killed|aborted|aborting|segmentation fault|core dumped|out of memory|no space left|syntax error|stack overflow|unreachable|illegal|violat(?:ion|ed)|rejected|conflict|broken|not supported|too (?:many|few|long)|exceeded|permission)\b/i,
    weight: 2,
    role: 'header',
    family: 'problem',
  },
  { pattern: /\bwarning\b|\bwarn\b|\bdeprecat/i, weight: 0.8, role: 'header', family: 'warning' },
  {
    pattern:
      /exited with (?:code |status )?[1-9]\d*|exit (?:code|status|value)[: ]+[1-9]\d*|returned (?:a )?non-?zero|\bError [1-9]\d*\s*$|\*\*\* \[|^make(?:\[\d+\])?: \*\*\*|failed with exit code|Process completed with exit code [1-9]|marked build as failure|BUILD (?:FAILED|FAILURE)|Build failed|Tests? (?:run )?failed|tests? failed|command failed|Command failed|\d+ (?:tests? )?(?:failed|failing|failures?|errors?)\b|(?:Failures|Errors|Failed|failed|errors): [1-9]/,
    weight: 2.5,
    role: 'terminal',
    family: 'exit',
  },
  { pattern: /^\s*npm ERR!|^\s*yarn error|^error Command failed|ERR!/, weight: 1.5, role: 'terminal', family: 'exit' },
];

/** Lines describing routine progress (downloads, installs, compiling one unit): noise unless a strong signal says otherwise. */
const ROUTINE = /^\s*(?:\[[^\]]{1,20}\]\s*)?(?:Downloading|Downloaded|Download|Collecting|Installing|Installed|Fetching|Resolving|Requirement already|Get:\d+|Hit:\d+|Ign:\d+|Err:\d+|Unpacking|Setting up|Selecting previously|Preparing to unpack|Processing triggers|Receiving objects|Resolving deltas|Counting objects|Compressing objects|remote:|Compiling|Building|Linking|Running|Checking|Using|Creating|Copying|Adding|Removing|Updating|Updated|Extracting|Generating|Writing|Reading|Loading|Loaded|Saving|Restoring|Storing|Cache|\[INFO\]|INFO\b|DEBUG\b|\[debug\]|\[\s*\d+%\]|\d+%)/;
/** Lines reporting success. */
const SUCCESS = /\b(?:PASS|PASSED|Passed|passed|OK|ok|SUCCESS|Success|success(?:ful(?:ly)?)?|succeeded|done|Done|SKIP|SKIPPED|Skipped|skipped|XFAIL|xfail|XFAILED|pending|Pending|ignored|IGNORED)\b|[✓✔]/;
/**
 * A test reported as passed, whatever its name says (`[ RUN ] … fails with error: 5 ms OK`,
 * `ok 12 - rejects bad input`, `✓ throws on error`, `[+] errors out`, `PASS src/error.test.ts`).
 */
const PASSED_TEST = /(?:\bOK|\bPASS(?:ED)?|\bpassed|[✓✔])\s*(?:\(?\d[\d.,]*\s*m?s\)?)?\s*$|^\s*(?:ok \d+\b|\[\s*(?:OK|PASS(?:ED)?)\s*\]|\[\+\]|[✓✔]|PASS\b)/;
/** Application log records below warning level (`DEBUG`, `[info]`, `level=debug`): what a program said while it ran. */
const LOW_LEVEL = /^.{0,60}?(?:\b(?:DEBUG|INFO|TRACE|VERBOSE|NOTICE|FINE|FINER)\b|\[(?:debug|info|trace|verbose)\]|\blevel=(?:debug|info|trace)\b)/;
/** What is left of a line without paths and severity words: a bare `FAIL` or `[ERROR]` says little on its own. */
const BARE_WORDS = /\b(?:error|errors|err|fail|failed|failure|failures|fatal|warning|warn|exception|npm|yarn|info|debug)\b/gi;
/** Counts of zero say nothing failed: `0 errors`, `Failures: 0`, `no errors`. */
const ZERO_COUNTS = /\b(?:0|no|zero) (?:errors?|failures?|failed|failing|warnings?|problems?|issues?)\b|\b(?:Failures|Errors|Failed|failed|errors|failures|Skipped|warnings|Warnings): 0\b|\bwithout errors?\b|\berrors?=0\b/gi;
/** Paths and URLs, whose words (`error.js`, `/fail/`) are not severity words. */
const PATH_TOKEN = /(?:[a-z][a-z0-9+.-]*:\/\/|[\w.-]*[/\\])[^\s'"`]*|\b[\w-]+\.(?:js|ts|mjs|cjs|jsx|tsx|py|rb|go|rs|java|kt|scala|c|h|cc|cpp|hpp|cs|php|pl|pm|ex|exs|hs|lua|swift|m|sh|css|scss|sass|less|html|json|yml|yaml|xml|md|txt|log|vim|clj|cljs|coffee)\b/gi;
/** Echoed commands (shell traces, Travis `$ cmd`, npm `> script`): their words are intentions, not outcomes. */
const COMMAND_ECHO = /^\s*(?:\$ |\+ |> |\[command\]|##\[group\]Run |##\[command\])/;
/** Stack frames (JVM, Python, Ruby, Node, ASan/gdb `#N 0x… in`, CMake call stacks) and source excerpts that continue an explanation. */
export const CONTINUATION = /^\s*at\s+\S|^\s+File "|^\s+from |^\s+in |^\s*\.\.\. \d+ more|^\s*[|│┃╷╵^~]|^\s*\d+\s*[|│]|^\s+\S+\.\w+:\d+|^\s*(?:expected|actual|received|got|but was|diff|[-+] )|^\s*\(\w+\) \S+:\d+|^\W{0,2}\s*#\d+\s+0x[0-9a-f]+ in |^\s*Call Stack \(most recent call first\)/i;

/** Cheap test that a line may match any signal; most lines do not, and skip the full list. */
const MAYBE = /err|fail|fatal|panic|exception|traceback|caused by|\*\* \(|uncaught|unhandled|fault|broken|not ok|[✖✗✘×❌]|^\s*E {2}|assert|expect|actual|received|but was|got|can(?:no|')t|could|unable|not |no such|undefined|defined|exist|invalid|missing|denied|refused|unresolved|mismatch|incompatible|support|time|killed|abort|core dumped|memory|space|overflow|unreachable|illegal|violat|reject|conflict|too |exceed|permission|warn|deprecat|exit|returned|\*\*\*|##\[/i;

/**
 * Scores one cleaned line (no ANSI, no timestamp) on its own: the largest matching signal weight,
 * plus 0.5 per extra distinct signal, damped for routine progress, success reports and echoed
 * commands.
 */
export function scoreLine(text: string): LineScore {
  const trimmed = text.trim();
  if (trimmed.length < 2 || trimmed.length > 2000) return { score: 0, role: 'none' };
  if (!MAYBE.test(trimmed)) return CONTINUATION.test(text) ? { score: 0.3, role: 'context' } : { score: 0, role: 'none' };
  const words = trimmed.replace(ZERO_COUNTS, ' ').replace(PATH_TOKEN, ' path ');
  let best = 0;
  let role: LineRole = 'none';
  let bestFamily = '';
  const families = new Set<string>();
  for (const signal of SIGNALS) {
    const target = signal.family === 'located' ? trimmed : words;
    if (!signal.pattern.test(target)) continue;
    families.add(signal.family);
    if (signal.weight > best) {
      best = signal.weight;
      role = signal.role;
      bestFamily = signal.family;
    }
  }
  if (best === 0) return CONTINUATION.test(text) ? { score: 0.3, role: 'context' } : { score: 0, role: 'none' };
  let score = best + 0.5 * Math.min(families.size - 1, 2);
  if (COMMAND_ECHO.test(text)) score *= 0.4;
  else if (best < 4 && ROUTINE.test(trimmed)) score *= 0.4;
  if (best < 4 && SUCCESS.test(words) && !/\b(?:fail|failed|failure|error|errors)\b/i.test(words)) score *= 0.3;
  else if (PASSED_TEST.test(trimmed)) score *= 0.25;
  if (bestFamily !== 'exit' && best < 4 && LOW_LEVEL.test(trimmed)) score *= 0.35;
  if (!/[A-Za-z]{2,}/.test(words.replace(BARE_WORDS, ' '))) score *= 0.4;
  return { score, role };
}
