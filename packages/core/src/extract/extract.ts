import { GAP, Selection, type ExcerptBudget } from './excerpt.ts';
import { fileOf, findFindings, formOf, type Finding, type FindingKind } from './findings.ts';
import { cleanLine, normalizeVolatile, parseLog, type RawLine } from './lines.ts';
import { CONTINUATION, scoreLine, type LineRole } from './score.ts';
import { detectStructure, type LogStructure, type Span } from './structure.ts';

/** The bounded, redacted part of a CI log that explains a failure. */
export interface FailureContext {
  /** The text a model reads: the selected windows in log order, gaps marked by a `…` line, secrets redacted. */
  excerpt: string;
  /**
   * The excerpt's lines with their 1-based line numbers in the raw log (split on `\r\n`, `\n` or
   * `\r`). Blank lines inside a window are neither shown nor counted against the budget.
   */
  lines: { number: number; text: string }[];
  /** The selected windows as inclusive 1-based line ranges, in log order. */
  windows: { start: number; end: number }[];
  /** The failed step or command: the caller's, else the one the log reports, else `null`. */
  failedStep: string | null;
  /** Number of lines in the raw log. */
  totalLines: number;
  /** True when the budget left out lines the extractor wanted (more error context than fits, or repeats of a form counted in a gap note). */
  truncated: boolean;
  /** Number of secrets replaced in the excerpt, by kind (see `redactSecrets`). */
  redactions: Record<string, number>;
}

export interface ExtractOptions {
  /** Most log lines in the excerpt (default 80). */
  maxLines?: number;
  /** Most UTF-8 bytes in the excerpt, separators included (default 8192). */
  maxBytes?: number;
  /** The nearest passing run of the same job: lines it also printed are demoted. */
  passLog?: string | null;
  /** The failed step's name when the caller knows it (GitHub's `steps[].name`). */
  failedStep?: string | null;
}

export const DEFAULT_BUDGET: ExcerptBudget = { maxLines: 80, maxBytes: 8192 };

/**
 * Position weight of a line `d` lines before the place a failure was reported:
 * `floor + near·e^(−d/nearScale) + far·e^(−d/farScale)`. Lines right before the report count
 * about 2× a line far away. Fitted on the LogChunks and CiDiff development splits (`npm run eval`):
 * with 14-line windows a stronger pull to the report (near 0.9, nearScale 80) cost 3 points of
 * LogChunks hit rate, since the first error often sits hundreds of lines above where the build
 * gave up; with the block-long windows ({@link MAX_AFTER}) both settings score the same.
 */
const POSITION = { floor: 0.6, near: 0.7, nearScale: 200, far: 0.5, farScale: 800 } as const;
/** Lines scoring at least this start a window. */
const ANCHOR_MIN = 1.2;
/**
 * Anchors below this share of the best anchor's value open no window, so a small log's budget is
 * not filled with other steps' warnings. Measured (`npm run eval`): 0 → 0.2 raised CiDiff
 * precision 38.7% → 43.1% and LogDx precision 26.2% → 27.9% for −0.2 points of LogChunks hits and
 * CiDiff recall; 0.3 cost 3 points of CiDiff recall.
 */
const RELATIVE_MIN = 0.2;

/**
 * Extracts the part of a CI log that explains why it failed, bounded by a line and a byte budget.
 *
 * 1. Split on any line terminator, clean each line (ANSI, timestamps) and score it with
 *    language-agnostic signals ({@link scoreLine}).
 * 2. Weigh by structure: lines of the failed GitHub Actions step or Travis command count more the
 *    closer they are to where the failure was reported; steps that passed and post-failure
 *    housekeeping count less. Without structure, distance to the end of the log is used.
 * 3. With `passLog`, demote lines the passing run also printed once volatile parts (times,
 *    durations, numbers, ids, temp paths) are normalized, and promote lines only the failure
 *    printed: the diff technique of CiDiff (Brandt et al., "CiDiff: Diffing CI logs", 2024) and of
 *    Datadog's CI log comparisons.
 * 2b. Lines in a tool's report shape ({@link findFindings}: pytest, mypy, tsc, jest/vitest,
 *    cargo/rustc, go test, eslint/prettier, Gradle/Maven, BuildKit, pre-commit, `##[error]`, and
 *    permission, network, memory and clock causes) score by kind; a cause keeps its weight however
 *    far above the report it is. Of many lines of one form (same error, other names), the first
 *    anchors with a bonus, the first few open windows and the rest are counted in the gap note
 *    (`… and 37 more errors of the same form in 12 files`).
 * 4. Open a window around each high-scoring line: following lines for an error header (stack
 *    frames, carets, indented detail), preceding lines for a terminal report (`npm ERR!`,
 *    `exited with 1`). Windows fill the budget best first; repeats of an already shown line are
 *    demoted; overlapping windows merge.
 *    In a GitHub Actions log the failed step's command (`Run …` and its first lines) is shown
 *    first, and windows stay inside their step; a line repeating one just above it in its window
 *    (a recursive stack) is hidden behind one `… N repeated lines` marker.
 * 5. Return the windows in log order with `…` between gaps, secrets redacted.
 *
 * Pure: no I/O. Linear in the log's size.
 */
export function extractFailureContext(log: string, options: ExtractOptions = {}): FailureContext {
  const budget: ExcerptBudget = {
    maxLines: Math.max(1, Math.floor(options.maxLines ?? DEFAULT_BUDGET.maxLines)),
    maxBytes: Math.max(64, Math.floor(options.maxBytes ?? DEFAULT_BUDGET.maxBytes)),
  };
  const lines = parseLog(log);
  const structure = detectStructure(lines);
  const scored = scoreLines(lines, structure, options.passLog ?? null);
  const bounds = stepBounds(lines.length, structure);
  const anchors = anchorsOf(lines, scored);
  const selection = new Selection(lines, budget);
  let truncated = false;
  // What the failed step ran (`Run pytest -n 4` and the script's first lines): read first by a human.
  for (const command of failedCommands(structure)) selection.addWindow(command.start, command);

  const heap = new MaxHeap<Anchor>((a, b) => a.value - b.value || a.index - b.index);
  for (const anchor of anchors) heap.push(anchor);
  const shown = new Map<string, number>();
  const added: Anchor[] = [];
  const top = anchors.reduce((m, a) => Math.max(m, a.value), 0);
  const floor = top * RELATIVE_MIN;
  while (heap.size > 0 && !selection.full) {
    const anchor = heap.pop()!;
    if (anchor.value < floor) break;
    const key = normalizeVolatile(lines[anchor.index]!.text);
    const seen = shown.get(key) ?? 0;
    if (seen > anchor.demoted) {
      // The same line is already in the excerpt: show another copy only if nothing better is left.
      anchor.value *= 0.35;
      anchor.demoted = seen;
      if (anchor.value >= ANCHOR_MIN * 0.35) heap.push(anchor);
      continue;
    }
    if (selection.has(anchor.index) && anchor.role === 'context') continue;
    const result = selection.addWindow(anchor.index, windowOf(lines, scored, bounds, anchor, MAX_AFTER));
    if (result === 'partial') truncated = true;
    if (result !== 'none') {
      shown.set(key, seen + 1);
      added.push(anchor);
    }
  }
  if (heap.size > 0) truncated = true;
  // Spare budget: let the best windows run to the end of their blocks, close small gaps, then
  // show the lines just before the failure was reported.
  for (const anchor of added) {
    if (selection.full) break;
    selection.addWindow(anchor.index, windowOf(lines, scored, bounds, anchor, MAX_EXTENDED, true));
  }
  selection.fillGaps(3);
  for (const end of tailEnds(lines, structure)) selection.addWindow(end, { start: Math.max(bounds.lo[end]!, end - 30), end });
  selection.fillGaps(3);

  const { text: excerpt, lines: outLines, windows, redactions } = selection.render(gapNotes(scored));
  // Repeats counted in a gap note rather than shown are lines left out too.
  if (!truncated && scored.some((s, i) => s.collapsed && !selection.has(i))) truncated = true;
  return {
    excerpt,
    lines: outLines,
    windows,
    failedStep: options.failedStep ?? structure.failedStep,
    totalLines: lines.length,
    truncated,
    redactions,
  };
}

interface Scored {
  score: number;
  role: LineRole;
  /** A repeat of a form already shown {@link FORM_KEEP} times: it neither anchors nor extends a window. */
  collapsed?: boolean;
  /** The form of a collapsed line and the file it names, for the gap note. */
  form?: string;
  file?: string | null;
  finding?: Finding;
}

interface Anchor {
  index: number;
  value: number;
  role: LineRole;
  demoted: number;
}

function scoreLines(lines: RawLine[], structure: LogStructure, passLog: string | null): Scored[] {
  const n = lines.length;
  const factor = new Float64Array(n).fill(1);
  const distance = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const afterFactor = structure.flavour === 'github' ? 0.3 : 0.6;
  for (const span of structure.passed) for (let i = span.start; i <= span.end; i++) factor[i] = 0.5;
  if (structure.after) for (let i = structure.after.start; i <= structure.after.end; i++) factor[i] = afterFactor;
  const ends = structure.failed.length > 0 ? structure.failed.map((s) => s.end) : [lastTextLine(lines)];
  // Distance (in lines) to the next place a failure was reported.
  let next = Number.POSITIVE_INFINITY;
  const endSet = new Set(ends);
  for (let i = n - 1; i >= 0; i--) {
    if (endSet.has(i)) next = i;
    distance[i] = next - i;
  }
  for (const span of structure.failed) for (let i = span.start; i <= span.end; i++) factor[i] = Math.max(factor[i]!, 1.2);
  // Before the first failed step: set-up and steps that did not report, usually fine.
  const firstFailed = structure.failed[0]?.start ?? 0;
  for (let i = 0; i < firstFailed; i++) if (factor[i] === 1) factor[i] = 0.6;

  let pass: Set<string> | null = null;
  if (passLog) {
    pass = new Set();
    for (const line of passLog.split(/\r\n|\r|\n/)) pass.add(normalizeVolatile(cleanLine(line)));
  }
  const base = lines.map((line) => scoreLine(line.text));
  const findings = findFindings(lines.map((line) => line.text));
  const findingAt = new Map<number, Finding>();
  for (const finding of findings) {
    findingAt.set(finding.index, finding);
    const weight = FINDING_WEIGHT[finding.kind];
    const b = base[finding.index]!;
    if (weight > b.score) base[finding.index] = { score: weight, role: finding.kind === 'summary' ? 'terminal' : finding.kind === 'location' ? 'context' : 'header' };
  }
  // Many errors of one form: the first few say it, the rest repeat it with other names.
  const forms = lines.map((line, i) => (base[i]!.score >= ANCHOR_MIN ? formOf(line.text) : ''));
  const formCount = new Map<string, number>();
  for (const form of forms) if (form) formCount.set(form, (formCount.get(form) ?? 0) + 1);
  const formSeen = new Map<string, number>();
  const collapsed = new Uint8Array(n);
  const firstOfForm = new Uint8Array(n);
  forms.forEach((form, i) => {
    const count = form ? (formCount.get(form) ?? 0) : 0;
    if (count < FIRST_OF_FORM_MIN) return;
    const seen = (formSeen.get(form) ?? 0) + 1;
    formSeen.set(form, seen);
    if (seen === 1) firstOfForm[i] = 1;
    if (!passLog && count >= FORM_REPEAT && seen > FORM_KEEP) collapsed[i] = 1;
  });
  // Keys (volatile parts normalized) of the lines that matter: scoring lines, or all with a passing log.
  const keys = lines.map((line, i) => (pass || base[i]!.score > 0 ? normalizeVolatile(line.text) : ''));
  const counts = new Map<string, number>();
  for (const key of keys) if (key) counts.set(key, (counts.get(key) ?? 0) + 1);

  // The first of several failures reported the same way is usually the cause; later ones cascade.
  const firstOfTag = new Map<string, number>();
  const tagCount = new Map<string, number>();
  base.forEach(({ score, role }, i) => {
    if (role !== 'header' || score < ANCHOR_MIN) return;
    const tag = REPORT_TAG.exec(lines[i]!.text)?.[1]?.replace(/\d+/g, '#');
    if (!tag) return;
    if (!firstOfTag.has(tag)) firstOfTag.set(tag, i);
    tagCount.set(tag, (tagCount.get(tag) ?? 0) + 1);
  });
  const first = new Set<number>();
  for (const [tag, i] of firstOfTag) if ((tagCount.get(tag) ?? 0) >= 2) first.add(i);

  return lines.map((line, i): Scored => {
    let { score, role } = base[i]!;
    const finding = findingAt.get(i);
    if (collapsed[i]) return { score: score * COLLAPSED_FACTOR, role, collapsed: true, form: forms[i]!, file: fileOf(line.text), ...(finding ? { finding } : {}) };
    if (first.has(i) || firstOfForm[i]) score *= FIRST_REPORT_BONUS;
    const key = keys[i]!;
    if (pass && key.length > 2) {
      if (pass.has(key)) score *= 0.15;
      else {
        score = Math.max(score, 0.9) * 1.5;
        if (role === 'none') role = 'context';
      }
    }
    if (score === 0) return { score, role };
    if (line.overwritten) score *= 0.2;
    const count = counts.get(key) ?? 1;
    if (count > 5) score /= 1 + Math.log2(count / 5) / 3;
    const d = distance[i]!;
    let position = Number.isFinite(d) ? POSITION.floor + POSITION.near * Math.exp(-d / POSITION.nearScale) + POSITION.far * Math.exp(-d / POSITION.farScale) : POSITION.floor;
    // A cause (a permission, the network) explains what fails after it, however far.
    if (finding?.kind === 'cause') position = Math.max(position, CAUSE_POSITION);
    return { score: score * factor[i]! * position, role, ...(finding ? { finding } : {}) };
  });
}

/**
 * Score of a line showing a tool's finding ({@link findFindings}), before structure and position:
 * above a bare `error:` line (3.5) since the shape says which tool reported what. A cause ranks
 * first, then the tool's own total, then a named failing test or hook, then one error.
 */
const FINDING_WEIGHT: Record<FindingKind, number> = { cause: 6, summary: 5, 'failed-test': 4.5, hook: 4.5, error: 4, location: 2 };
/** Position weight a cause keeps however far it is from the failure report (the near-report weight is 1.8). */
const CAUSE_POSITION = 1.5;
/**
 * A form seen this many times is a repeated error; only its first {@link FORM_KEEP} lines anchor
 * windows and the rest are counted in the gap note. Measured on the development splits: 5/3 raised
 * LogDx signal recall to 87.8% but cost LogChunks 1.6 points of hits (its labels often are the
 * whole list); 20/5 kept LogChunks and lost LogDx's repeated `failed to pass` reports; 10/5 kept
 * both. Not applied with a passing log: repeats only the failure printed are what changed (CiDiff
 * labels each of them; collapsing cost 0.6 points of its recall).
 */
const FORM_REPEAT = 10;
const FORM_KEEP = 5;
/**
 * The first line of a form seen this often gets {@link FIRST_REPORT_BONUS}, like the first report of
 * a tag: +1.5 points of LogChunks hits (85.2% → 86.7% before the relative floor).
 */
const FIRST_OF_FORM_MIN = 3;
/** Score factor of the collapsed repeats of a form: below {@link ANCHOR_MIN} unless nothing else scored. */
const COLLAPSED_FACTOR = 0.1;

/**
 * Weight of the first of several failure reports with the same tag: cascades follow a cause
 * (measured: +3 LogChunks hits at 1.6, no CiDiff change; 2.0 cost CiDiff recall).
 */
const FIRST_REPORT_BONUS = 1.6;
/** How a runner tags a failure report: `[-]`, `--- FAIL`, `FAIL`, `not ok`, `1)`, `E   `, `ERROR:`. */
const REPORT_TAG = /^\s*(\[[^\]]{1,20}\]|-{2,3} ?FAIL|FAIL(?:ED|URE)?\b|not ok\b|\d+\)|E {2,}|[\w-]{1,12}[:!])/;

/**
 * The note that replaces a gap's `…` when the gap hides repeats of a form the excerpt shows:
 * `… and 37 more errors of the same form in 12 files`.
 */
function gapNotes(scored: Scored[]): (from: number, to: number) => string | null {
  const collapsed: number[] = [];
  scored.forEach((s, i) => {
    if (s.collapsed) collapsed.push(i);
  });
  if (collapsed.length === 0) return () => null;
  return (from, to) => {
    let k = lowerBound(collapsed, from);
    const files = new Set<string>();
    let count = 0;
    let errors = 0;
    let tests = 0;
    for (; k < collapsed.length && collapsed[k]! <= to; k++) {
      const s = scored[collapsed[k]!]!;
      count++;
      if (s.file) files.add(s.file);
      if (s.finding?.kind === 'failed-test') tests++;
      else if (s.finding?.kind === 'error' || s.role === 'header') errors++;
    }
    if (count < 2) return null;
    const noun = tests * 2 > count ? 'failed tests' : errors * 2 > count ? 'errors' : 'lines';
    return `${GAP} and ${count} more ${noun} of the same form${files.size > 1 ? ` in ${files.size} files` : ''}`;
  };
}

function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lastTextLine(lines: RawLine[]): number {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i]!.text.trim()) return i;
  return Math.max(0, lines.length - 1);
}

/** Where the log says the failure was reported: the failed steps' last lines, else the last line. */
function tailEnds(lines: RawLine[], structure: LogStructure): number[] {
  if (lines.length === 0) return [];
  return structure.failed.length > 0 ? structure.failed.map((s) => s.end).reverse() : [lastTextLine(lines)];
}

function anchorsOf(lines: RawLine[], scored: Scored[]): Anchor[] {
  const anchors: Anchor[] = [];
  scored.forEach(({ score, role }, index) => {
    if (score >= ANCHOR_MIN && lines[index]!.text.trim()) anchors.push({ index, value: score, role, demoted: 0 });
  });
  return anchors;
}

/**
 * Lines after an anchor a window takes at most while its block continues (a whole stack trace or
 * report, not its first lines); spare budget later extends to {@link MAX_EXTENDED}. Measured with
 * `npm run eval`: 14 → 60 raised LogChunks hits from 82.3% to 84.9% and CiDiff recall from 91.1%
 * to 93.7%; beyond 60 nothing changed.
 */
const MAX_AFTER = 60;
const MAX_EXTENDED = 80;
/** Lines before an anchor a window takes at most (10 → 15: +0.3 points of LogChunks recall). */
const MAX_BEFORE = 15;
/** How far back a window looks for the ruler that opens its section. */
const MAX_RULER_DISTANCE = 15;
/** A line of repeated punctuation (`=====`, `____ test_x ____`, `-----`): a section boundary. */
const RULER = /^\s*(?:([-=_*#~+])\1{2,}|\[?[-=_*#~]{3,}.*[-=_*#~]{3,}\]?)\s*$/;

/** Lines too short to carry information (blank, `}`, `^`): they neither count nor break a block. */
function isFiller(text: string): boolean {
  return text.trim().length < 3;
}

/**
 * Per line, the first and last line a window around it may take (0-based, inclusive): in a GitHub
 * Actions log the body of its step (after the step's header group), or the header group itself for
 * a header line, so another step's output or a `shell:`/`env:` block never pads a window. Measured
 * (`npm run eval`) together with {@link failedCommands}: LogDx precision 25.6% → 31.6% at the same
 * recall, CiDiff precision 43.1% → 45.8%, LogChunks (Travis, no steps) unchanged.
 */
interface Bounds {
  lo: Int32Array;
  hi: Int32Array;
}

function stepBounds(n: number, structure: LogStructure): Bounds {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n).fill(n - 1);
  for (const step of structure.steps) {
    const header = step.header;
    const bodyStart = header ? Math.min(header.end + 1, step.end) : step.start;
    for (let i = step.start; i <= step.end; i++) {
      const inHeader = header !== null && i <= header.end;
      lo[i] = inHeader ? header.start : bodyStart;
      hi[i] = inHeader ? header.end : step.end;
    }
  }
  return { lo, hi };
}

/**
 * The commands of the failed steps (at most {@link MAX_FAILED_COMMANDS}), shown before any window:
 * the `##[group]Run …` line and the command's first lines. LogDx labels the failed command as a
 * signal (`yarn prettier-check`); GitHub's own log view opens on it.
 */
function failedCommands(structure: LogStructure): Span[] {
  const commands: Span[] = [];
  for (const failed of structure.failed) {
    const step = structure.steps.find((s) => s.start <= failed.start && failed.start <= s.end);
    if (step?.command && !commands.some((c) => c.start === step.command!.start)) commands.push(step.command);
    if (commands.length >= MAX_FAILED_COMMANDS) break;
  }
  return commands;
}

/** A job stops at its first failed step unless a step sets `continue-on-error`; two cover that case without flooding. */
const MAX_FAILED_COMMANDS = 2;

/** The lines around an anchor worth showing with it (inclusive 0-based indices), inside its {@link Bounds}. */
function windowOf(lines: RawLine[], scored: Scored[], bounds: Bounds, anchor: Anchor, maxAfter: number, throughRepeats = false): { start: number; end: number } {
  const i = anchor.index;
  const n = bounds.hi[i]! + 1;
  const lowest = bounds.lo[i]!;
  const anchorText = lines[i]!.text;
  const indent = indentOf(anchorText);
  const terminal = anchor.role === 'terminal';
  // After: at least a few lines, then while the block continues (stack frames, indented
  // detail, more error lines, the same tag), across single blank lines.
  let end = i;
  let blanks = 0;
  let taken = 0;
  const minAfter = terminal ? 1 : 3;
  for (let j = i + 1; j < n && j - i <= maxAfter; j++) {
    const text = lines[j]!.text;
    if (scored[j]!.collapsed && !throughRepeats) break;
    if (isFiller(text)) {
      if (!text.trim()) blanks++;
      if (blanks >= 2 && taken >= minAfter) break;
      continue;
    }
    const continues =
      taken < minAfter ||
      CONTINUATION.test(text) ||
      indentOf(text) > indent ||
      (scored[j]!.score > 0.5 && scored[j]!.role !== 'terminal') ||
      samePrefix(anchorText, text);
    if (!continues) break;
    blanks = 0;
    taken++;
    end = j;
  }
  // Before: the ruler that opens this section when there is one close above, else a few lines,
  // more for a terminal report (what failed comes before `npm ERR!` or `exited with 1`).
  let start = i;
  if (!RULER.test(anchorText)) {
    blanks = 0;
    for (let j = i - 1; j >= lowest && i - j <= MAX_RULER_DISTANCE; j--) {
      const text = lines[j]!.text;
      if (!text.trim()) {
        if (++blanks >= 2) break;
        continue;
      }
      blanks = 0;
      if (RULER.test(text)) {
        start = j;
        break;
      }
    }
  }
  const minBefore = terminal ? 4 : 2;
  taken = 0;
  for (let j = i - 1; j >= lowest && i - j <= MAX_BEFORE && j < start; j--) {
    const text = lines[j]!.text;
    if (scored[j]!.collapsed && !throughRepeats) break;
    if (isFiller(text)) {
      if (taken < minBefore) start = j;
      continue;
    }
    const belongs =
      taken < minBefore ||
      (terminal
        ? scored[j]!.score > 0 || samePrefix(anchorText, text)
        : (CONTINUATION.test(lines[j + 1]!.text) && indentOf(lines[j + 1]!.text) > indentOf(text)) || samePrefix(anchorText, text));
    if (!belongs) break;
    taken++;
    start = j;
  }
  return { start, end };
}

function indentOf(text: string): number {
  return /^[ \t]*/.exec(text)![0].replace(/\t/g, '    ').length;
}

/** Same leading tag (`npm ERR!`, `[ERROR]`, `E   `, `#`): lines of one report. */
function samePrefix(a: string, b: string): boolean {
  const tag = /^\s*(\[[^\]]{1,20}\]|[\w-]{1,12}(?:!|:)|[#>|E]\s)/;
  const ta = tag.exec(a)?.[1];
  return ta !== undefined && ta === tag.exec(b)?.[1];
}

/** A binary max-heap ordered by `compare` (positive when `a` ranks above `b`). */
class MaxHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i]!, items[parent]!) <= 0) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.compare(items[l]!, items[best]!) > 0) best = l;
        if (r < items.length && this.compare(items[r]!, items[best]!) > 0) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

/** @internal debugging aid */
export function debugAnchors(log: string): { index: number; value: number; role: string; text: string }[] {
  const lines = parseLog(log);
  const scored = scoreLines(lines, detectStructure(lines), null);
  return anchorsOf(lines, scored)
    .sort((a, b) => b.value - a.value)
    .map((a) => ({ ...a, text: lines[a.index]!.text }));
}
