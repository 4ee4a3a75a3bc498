import type { RawLine } from './lines.ts';

/** A span of lines (0-based indices into the parsed lines, inclusive). */
export interface Span {
  start: number;
  end: number;
}

/** What the extractor knows about a log's layout. */
export interface LogStructure {
  flavour: 'github' | 'travis' | 'plain';
  /** Name of the step or command that failed, when the log says so. */
  failedStep: string | null;
  /**
   * Output of the steps or commands that failed, each ending at the line that reported the failure
   * (`##[error]Process completed…`, `The command "…" exited with 1.`). Empty when not detected.
   */
  failed: Span[];
  /** Output of steps or commands the log reports as successful. */
  passed: Span[];
  /** Lines after the last failure report that only do housekeeping (post-job cleanup, caches). */
  after: Span | null;
  /**
   * GitHub Actions steps in log order (empty for other flavours): a step runs from its
   * `##[group]Run …` line to the line before the next step's; windows of the excerpt stay inside one.
   */
  steps: Step[];
}

/** One step of a GitHub Actions job log. */
export interface Step extends Span {
  name: string;
  /** The step's header group: `##[group]Run …` through its `##[endgroup]` (the command, `shell:`, `env:`, `with:`), or `null`. */
  header: Span | null;
  /**
   * What the step ran: the `##[group]Run …` line and the command's first echoed lines, up to
   * {@link COMMAND_LINES} and never the `shell:`/`env:`/`with:` lines after them; `null` when the step has no header.
   */
  command: Span | null;
}

/**
 * Lines of a step's command shown with the failed step (the `Run …` line and two more of the
 * script). Measured (`npm run eval`): 1, 2, 3 and 5 lines give the same LogDx and CiDiff recall and
 * LogDx precision 31.0–31.3%; 3 shows a short script whole.
 */
const COMMAND_LINES = 3;
/** The settings GitHub prints after a step's command inside its header group. */
const HEADER_SETTING = /^(?:shell|env|with|continue-on-error|working-directory|timeout-minutes):/;

const GITHUB_MARKER = /^##\[(group|endgroup|error|warning|notice|debug|section|command)\]/;
const GITHUB_STEP = /^##\[group\](Run .+|Post .+)$/;
const GITHUB_POST = /^(Post job cleanup\.|Cleaning up orphan processes)$/;
const GITHUB_EXIT = /^##\[error\](Process completed with exit code [1-9]\d*|The operation was canceled|The action .* has timed out|The job running on runner .* has exceeded)/;
const TRAVIS_MARKER = /^travis_(fold|time):/;
/** Travis reports every `script` command: `The command "npm test" exited with 1.` / `… failed 3 times.` */

/**
 * Finds steps and commands in GitHub Actions logs (`##[group]Run …` headers and the
 * `##[error]Process completed with exit code N.` line GitHub prints when a step fails) and in
 * Travis CI logs (`$ cmd` echoes closed by `The command "cmd" exited with N.`). Plain logs get no
 * structure; the extractor then measures distances from the end of the log.
 */
export function detectStructure(lines: RawLine[]): LogStructure {
  let github = 0;
  let travis = 0;
  for (const line of lines) {
    if (GITHUB_MARKER.test(line.text)) github++;
    else if (TRAVIS_MARKER.test(line.text) || TRAVIS_RESULT_START.test(line.text)) travis++;
  }
  if (github > 0 && github >= travis) return githubStructure(lines);
  if (travis > 0) return travisStructure(lines);
  return { flavour: 'plain', failedStep: null, failed: [], passed: [], after: null, steps: [] };
}

function githubStructure(lines: RawLine[]): LogStructure {
  const steps: { name: string; start: number; end: number }[] = [];
  let current = { name: 'Set up job', start: 0, end: -1 };
  lines.forEach((line, i) => {
    const match = GITHUB_STEP.exec(line.text);
    if (match?.[1] || GITHUB_POST.test(line.text)) {
      current.end = i - 1;
      steps.push(current);
      current = { name: match?.[1] ?? 'Post job cleanup', start: i, end: -1 };
    }
  });
  current.end = lines.length - 1;
  steps.push(current);
  const withHeaders = steps.map((step): Step => ({ ...step, ...headerOf(lines, step) }));

  const failed: Span[] = [];
  const passed: Span[] = [];
  let failedStep: string | null = null;
  let lastExit = -1;
  for (const step of steps) {
    let exit = -1;
    let anyError = -1;
    for (let i = step.start; i <= step.end; i++) {
      const text = lines[i]!.text;
      if (GITHUB_EXIT.test(text)) exit = i;
      else if (text.startsWith('##[error]')) anyError = i;
    }
    const end = exit >= 0 ? exit : anyError;
    if (end >= 0) {
      failed.push({ start: step.start, end });
      failedStep ??= step.name;
      lastExit = Math.max(lastExit, end);
    } else if (step.end >= step.start) {
      passed.push({ start: step.start, end: step.end });
    }
  }
  // Steps after the last failure only clean up (GitHub skips the rest of the job).
  const after = lastExit >= 0 && lastExit < lines.length - 1 ? { start: lastExit + 1, end: lines.length - 1 } : null;
  return {
    flavour: 'github',
    failedStep,
    failed,
    passed: after ? passed.filter((s) => s.start <= lastExit) : passed,
    after,
    steps: withHeaders,
  };
}

/** A step's header group and the command lines in it (see {@link Step}). */
function headerOf(lines: RawLine[], step: Span): Pick<Step, 'header' | 'command'> {
  if (!lines[step.start]?.text.startsWith('##[group]Run ')) return { header: null, command: null };
  let end = step.start;
  for (let i = step.start + 1; i <= step.end && i - step.start <= 200; i++) {
    if (lines[i]!.text.startsWith('##[endgroup]')) {
      end = i;
      break;
    }
  }
  let commandEnd = step.start;
  for (let i = step.start + 1; i < end && i - step.start < COMMAND_LINES; i++) {
    const text = lines[i]!.text;
    if (HEADER_SETTING.test(text)) break;
    if (text.trim()) commandEnd = i;
  }
  return { header: { start: step.start, end }, command: { start: step.start, end: commandEnd } };
}

/** A Travis command result, possibly closing a command echoed over several lines. */
const TRAVIS_RESULT_START = /^The command "/;
const TRAVIS_RESULT_END = /" (?:exited with (\d+)|failed(?: and exited with (\d+))?(?: during [\w ]+)?(?:[.,]? ?(?:Retrying, \d+ of \d+|\d+ times))?)\.?\s*$/;

function travisStructure(lines: RawLine[]): LogStructure {
  const failed: Span[] = [];
  const passed: Span[] = [];
  let failedStep: string | null = null;
  let lastFailure = -1;
  let previousEnd = -1;
  for (let i = 0; i < lines.length; i++) {
    if (!TRAVIS_RESULT_START.test(lines[i]!.text)) continue;
    // The result line, or the line that closes a multi-line command.
    let end = -1;
    for (let j = i; j < Math.min(lines.length, i + 200); j++) {
      if (TRAVIS_RESULT_END.test(lines[j]!.text)) {
        end = j;
        break;
      }
      if (j > i && TRAVIS_RESULT_START.test(lines[j]!.text)) break;
    }
    if (end < 0) continue;
    const match = TRAVIS_RESULT_END.exec(lines[end]!.text)!;
    const command = lines
      .slice(i, end + 1)
      .map((l) => l.text)
      .join('\n')
      .replace(TRAVIS_RESULT_START, '')
      .replace(TRAVIS_RESULT_END, '');
    const code = match[1] ?? match[2];
    const ok = code !== undefined && Number(code) === 0 && !/" failed/.test(lines[end]!.text);
    // The command's output starts at its `$ cmd` echo, else at the previous command's echo.
    const firstLine = command.split('\n')[0]!;
    let start = -1;
    for (let j = i - 1; j > previousEnd; j--) {
      const text = lines[j]!.text;
      if (text === `$ ${firstLine}`) {
        start = j;
        break;
      }
      if (start < 0 && text.startsWith('$ ')) start = j;
    }
    if (start < 0) start = previousEnd + 1;
    if (ok) {
      passed.push({ start, end });
    } else {
      failed.push({ start, end });
      failedStep ??= firstLine;
      lastFailure = end;
    }
    previousEnd = end;
    i = end;
  }
  const after = lastFailure >= 0 && lastFailure < lines.length - 1 ? { start: lastFailure + 1, end: lines.length - 1 } : null;
  return { flavour: 'travis', failedStep, failed, passed, after, steps: [] };
}
