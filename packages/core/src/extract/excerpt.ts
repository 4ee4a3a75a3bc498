import { redactSecrets } from '../redact.ts';
import type { RawLine } from './lines.ts';

/** Size limits of an excerpt: at most `maxLines` log lines and `maxBytes` UTF-8 bytes of text. */
export interface ExcerptBudget {
  maxLines: number;
  maxBytes: number;
}

/** An excerpt as rendered: text, numbered lines, windows, redaction counts. */
export interface RenderedExcerpt {
  text: string;
  lines: { number: number; text: string }[];
  windows: { start: number; end: number }[];
  redactions: Record<string, number>;
}

/** Longest line kept whole in an excerpt; longer lines are cut and end with `…`. */
export const MAX_LINE_CHARS = 1000;
/** The line that marks a gap between windows. */
export const GAP = '…';

/**
 * `chosen` values: a shown line, a blank line spanned by a window but not shown, and a repeat: a
 * line whose exact text a line at most {@link REPEAT_DISTANCE} above it in the same window already
 * says (a recursive stack's frames, a retried command's output), hidden behind one
 * `… N repeated lines` marker per run.
 */
const SHOWN = 1;
const BLANK = 2;
const REPEAT = 3;
/**
 * How far above a line its repeat is looked for: a recursive stack's cycle (a visitor repeating 6
 * frames over and over). Measured (`npm run eval`): hiding repeats of lines already in the
 * excerpt raised CiDiff recall 92.9% → 94.7% (by-number line recall 82.7% → 79.2%: a hidden
 * repeat is not shown at its own number) and LogChunks hits 85.6% → 85.8%; LogDx unchanged.
 */
const REPEAT_DISTANCE = 12;

/** Lines chosen so far and the budget they use. */
export class Selection {
  private readonly chosen: Uint8Array;
  private readonly display: (string | null)[];
  private lineCount = 0;
  private byteCount = 0;

  constructor(
    private readonly lines: RawLine[],
    private readonly budget: ExcerptBudget,
  ) {
    this.chosen = new Uint8Array(lines.length);
    this.display = new Array(lines.length).fill(null);
  }

  get full(): boolean {
    return this.lineCount >= this.budget.maxLines || this.byteCount >= this.budget.maxBytes - 8;
  }

  has(i: number): boolean {
    return this.chosen[i] !== 0;
  }

  /** Display text of a line: cut to {@link MAX_LINE_CHARS}, secrets redacted. */
  text(i: number): string {
    let text = this.display[i];
    if (text == null) {
      const clean = this.lines[i]!.text;
      text = clean.length > MAX_LINE_CHARS ? `${clean.slice(0, MAX_LINE_CHARS - 1)}…` : clean;
      this.display[i] = text;
    }
    return text;
  }

  /** Bytes a line adds: its text, its newline, and a gap marker if it opens a new run. */
  private cost(i: number): number {
    const opensRun = !(i > 0 && this.chosen[i - 1]) && !(i + 1 < this.lines.length && this.chosen[i + 1]);
    return Buffer.byteLength(this.text(i)) + 1 + (opensRun ? GAP.length * 3 + 1 : 0);
  }

  /**
   * Adds line `i`. With `window`, a line repeating one above it inside the window (see
   * {@link REPEAT}) joins for the bytes of its run's marker only.
   */
  private add(i: number, window?: { start: number; end: number }): boolean {
    if (this.chosen[i] === REPEAT && !window) this.chosen[i] = 0; // shown after all: an anchor, a filled gap
    if (this.chosen[i]) return true;
    if (!this.lines[i]!.text.trim()) {
      // A blank line inside a window carries nothing: it joins the window for free and is not shown.
      this.chosen[i] = BLANK;
      return true;
    }
    if (window && this.repeatsAbove(i, window.start)) {
      const opensRun = !(i > 0 && this.chosen[i - 1] === REPEAT) && !(i + 1 < this.lines.length && this.chosen[i + 1] === REPEAT);
      const cost = opensRun ? REPEAT_MARKER_BYTES : 0;
      if (this.byteCount + cost > this.budget.maxBytes) return false;
      this.chosen[i] = REPEAT;
      this.byteCount += cost;
      return true;
    }
    if (this.lineCount + 1 > this.budget.maxLines) return false;
    const cost = this.cost(i);
    if (this.byteCount + cost > this.budget.maxBytes) return false;
    this.chosen[i] = SHOWN;
    this.lineCount++;
    this.byteCount += cost;
    return true;
  }

  /**
   * Adds a window's lines nearest the anchor first (two after for one before), never leaving a
   * hole: a side stops at its first line that does not fit. Nothing is added when the anchor
   * itself does not fit.
   * @returns whether all, some or none of the window's new lines fitted
   */
  addWindow(anchor: number, window: { start: number; end: number }): 'all' | 'partial' | 'none' {
    if (!this.add(anchor)) return 'none';
    let after = anchor + 1;
    let before = anchor - 1;
    let afterOpen = after <= window.end;
    let beforeOpen = before >= window.start;
    while (afterOpen || beforeOpen) {
      for (let k = 0; k < 2 && afterOpen; k++) {
        if (this.add(after, window)) after++;
        else afterOpen = false;
        if (after > window.end) afterOpen = false;
      }
      if (beforeOpen) {
        if (this.add(before, window)) before--;
        else beforeOpen = false;
        if (before < window.start) beforeOpen = false;
      }
    }
    return after > window.end && before < window.start ? 'all' : 'partial';
  }

  /** Selects unselected runs of at most `max` lines between two selected lines, smallest first. */
  fillGaps(max: number): void {
    const gaps: { start: number; end: number }[] = [];
    let last = -1;
    for (let i = 0; i < this.lines.length; i++) {
      if (!this.chosen[i]) continue;
      if (last >= 0 && i - last - 1 > 0 && i - last - 1 <= max) gaps.push({ start: last + 1, end: i - 1 });
      last = i;
    }
    gaps.sort((a, b) => a.end - a.start - (b.end - b.start));
    for (const gap of gaps) {
      const before = { lines: this.lineCount, bytes: this.byteCount };
      let ok = true;
      for (let i = gap.start; i <= gap.end && ok; i++) ok = this.add(i);
      if (!ok) {
        for (let i = gap.start; i <= gap.end; i++) this.chosen[i] = 0;
        this.lineCount = before.lines;
        this.byteCount = before.bytes;
      }
    }
  }

  /**
   * Whether a line at most {@link REPEAT_DISTANCE} above `i`, not above `from`, has exactly `i`'s
   * text and is already in the excerpt (shown, or a repeat of a shown line): what is hidden is
   * always said above it.
   */
  private repeatsAbove(i: number, from: number): boolean {
    const text = this.lines[i]!.text;
    for (let j = i - 1; j >= Math.max(from, i - REPEAT_DISTANCE); j--) {
      if ((this.chosen[j] === SHOWN || this.chosen[j] === REPEAT) && this.lines[j]!.text === text) return true;
    }
    return false;
  }

  /** Whether shown lines `a` < `b` belong to one run: only window-spanned blank or repeated lines between them. */
  private joined(a: number, b: number): boolean {
    if (a < 0) return false;
    for (let k = a + 1; k < b; k++) if (this.chosen[k] !== BLANK && this.chosen[k] !== REPEAT) return false;
    return true;
  }

  /** Number of repeated lines between shown lines `a` < `b` of one run. */
  private repeatsBetween(a: number, b: number): number {
    let count = 0;
    for (let k = a + 1; k < b; k++) if (this.chosen[k] === REPEAT) count++;
    return count;
  }

  /**
   * The excerpt text, its numbered lines and windows; trims from the ends until it fits the byte budget.
   * @param gapNote the text of the marker between two windows, given the hidden lines (0-based,
   *   inclusive); `null` for the plain {@link GAP}
   */
  render(gapNote: (from: number, to: number) => string | null = () => null): RenderedExcerpt {
    const indices: number[] = [];
    for (let i = 0; i < this.lines.length; i++) if (this.chosen[i] === SHOWN) indices.push(i);
    const secret = privateKeyLines(this.lines);
    for (;;) {
      const redactions: Record<string, number> = {};
      const outLines: { number: number; text: string }[] = [];
      const windows: { start: number; end: number }[] = [];
      const parts: string[] = [];
      let previous = -2;
      for (const i of indices) {
        let text: string;
        if (secret.has(i)) {
          text = '[REDACTED:private-key]';
          redactions['private-key'] = (redactions['private-key'] ?? 0) + 1;
        } else {
          const redacted = redactSecrets(this.text(i));
          text = redacted.text;
          for (const [kind, count] of Object.entries(redacted.redactions)) redactions[kind] = (redactions[kind] ?? 0) + count;
        }
        if (!this.joined(previous, i)) {
          if (outLines.length > 0) parts.push(gapNote(previous + 1, i - 1) ?? GAP);
          windows.push({ start: i + 1, end: i + 1 });
        } else {
          windows[windows.length - 1]!.end = i + 1;
          const repeats = this.repeatsBetween(previous, i);
          if (repeats > 0) parts.push(repeatMarker(repeats));
        }
        parts.push(text);
        outLines.push({ number: i + 1, text });
        previous = i;
      }
      const text = parts.join('\n');
      if (Buffer.byteLength(text) <= this.budget.maxBytes || indices.length === 0) {
        return { text, lines: outLines, windows, redactions };
      }
      // Redaction can lengthen a line; drop the line farthest from the failure (the first) and retry.
      indices.shift();
    }
  }
}

/** The line that stands for a run of hidden repeats inside a window. */
function repeatMarker(count: number): string {
  return `${GAP} ${count} repeated line${count === 1 ? '' : 's'}`;
}
/** Bytes budgeted for a repeat marker: the longest one (`… 9999 repeated lines`) and its newline. */
const REPEAT_MARKER_BYTES = Buffer.byteLength(repeatMarker(9999)) + 1;

/** Lines inside PEM private-key blocks, which `redactSecrets` cannot see line by line. */
function privateKeyLines(lines: RawLine[]): Set<number> {
  const secret = new Set<number>();
  let inside = false;
  lines.forEach((line, i) => {
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(line.text)) inside = true;
    if (inside) secret.add(i);
    if (/-----END [A-Z0-9 ]*PRIVATE KEY-----/.test(line.text)) inside = false;
  });
  return secret;
}


/**
 * The log line number of each line of an excerpt's text, `null` for the markers between and inside
 * windows (`…`, `… 3 repeated lines`, `… and 37 more errors of the same form`): the text's lines
 * in order, matched against the numbered lines {@link Selection.render} returned with it. For the
 * console, which shows the excerpt with line numbers from what classify stored.
 *
 * @param text the excerpt's text (`RenderedExcerpt.text`)
 * @param lines its numbered lines (`RenderedExcerpt.lines`), 1-based numbers
 * @returns one entry per `text.split('\n')` line
 */
export function excerptLineNumbers(text: string, lines: readonly { number: number; text: string }[]): (number | null)[] {
  let k = 0;
  return text.split('\n').map((line) => {
    const next = lines[k];
    if (next && next.text === line) {
      k++;
      return next.number;
    }
    return null;
  });
}
