import { cleanLine } from '@pitcrew/core';
import type { CiDiffGroundtruth } from './datasets.ts';

/**
 * Text of a line for matching labels: ANSI stripped (including bare `[31m` remnants whose escape
 * byte a label lost), a GitHub timestamp removed, whitespace trimmed.
 */
export function matchText(line: string): string {
  return cleanLine(line).replace(/\[[0-9;]{0,12}m/g, '').trim();
}

/** Excerpt lines prepared for {@link chunkRecall}: exact lines and the lines to search in. */
export interface ExcerptIndex {
  exact: Set<string>;
  lines: string[];
}

export function indexExcerpt(lines: { text: string }[]): ExcerptIndex {
  const texts = lines.map((l) => matchText(l.text)).filter(Boolean);
  return { exact: new Set(texts), lines: texts };
}

/**
 * LogChunks *chunk line recall*: the share of the labelled chunk's non-blank lines (ANSI stripped,
 * trimmed) present in the excerpt. A chunk line is present when an excerpt line equals it or
 * contains it (labels sometimes start or end inside a line). A chunk with no text counts as found.
 */
export function chunkRecall(chunk: string, excerpt: ExcerptIndex): number {
  const wanted = chunk
    .split(/\r\n|\r|\n/)
    // A label that starts inside a two-byte escape (`ESC =` / `ESC >`, keypad modes that ncurses
    // test runners print) keeps its second byte: `=\x1b[?1l…`. Drop that remnant like the others.
    .map((line) => matchText(line.replace(/^[=>](?=\x1b)/, '')))
    .filter(Boolean);
  if (wanted.length === 0) return 1;
  let found = 0;
  for (const line of wanted) {
    if (excerpt.exact.has(line) || excerpt.lines.some((l) => l.includes(line))) found++;
  }
  return found / wanted.length;
}

/** Per-case CiDiff scores. */
export interface CiDiffScore {
  /** Share of non-blank `E` lines shown: by line number, or the same text at another line (a repeat). */
  recall: number;
  /** Share of non-blank `E` lines shown at their own line number. */
  lineRecall: number;
  /** Share of the excerpt's non-blank lines that are `E` or `C` lines (1 for an empty excerpt). */
  precision: number;
}

/**
 * CiDiff scores of an excerpt against the ground truth of `failLines` (the raw fail.log split on
 * `\r\n`, `\n` or `\r`, as the ground truth numbers them).
 */
export function cidiffScore(
  groundtruth: CiDiffGroundtruth,
  failLines: string[],
  excerpt: { number: number; text: string }[],
): CiDiffScore {
  const shownNumbers = new Set(excerpt.map((l) => l.number));
  const shownTexts = new Set(excerpt.map((l) => matchText(l.text)).filter(Boolean));
  const errors = groundtruth.error.filter((n) => matchText(failLines[n - 1] ?? ''));
  let byNumber = 0;
  let byText = 0;
  for (const n of errors) {
    if (shownNumbers.has(n)) {
      byNumber++;
      byText++;
    } else if (shownTexts.has(matchText(failLines[n - 1] ?? ''))) {
      byText++;
    }
  }
  const relevant = new Set([...groundtruth.error, ...groundtruth.context]);
  const nonBlank = excerpt.filter((l) => matchText(l.text));
  const precise = nonBlank.filter((l) => relevant.has(l.number)).length;
  return {
    recall: errors.length ? byText / errors.length : 1,
    lineRecall: errors.length ? byNumber / errors.length : 1,
    precision: nonBlank.length ? precise / nonBlank.length : 1,
  };
}

/** Running means. */
export class Mean {
  private sum = 0;
  private n = 0;
  add(value: number): void {
    this.sum += value;
    this.n++;
  }
  get value(): number {
    return this.n ? this.sum / this.n : 0;
  }
}
