import { Selection, type ExcerptBudget } from './excerpt.ts';
import type { FailureContext } from './extract.ts';
import { parseLog, type RawLine } from './lines.ts';
import { detectStructure } from './structure.ts';

/**
 * Severity words for {@link keywordBaseline}. Keyword search is the simplest chunk-extraction
 * technique evaluated on LogChunks (Brandt, Panichella, Zaidman, Beller, "LogChunks: A Data Set
 * for Build Log Analysis", MSR 2020; compared with regular-expression synthesis and text
 * similarity in C. Brandt's thesis, github.com/lacinoire/master-thesis). There the keywords come
 * from labelled examples; here a fixed generic list stands in for them.
 */
export const BASELINE_KEYWORDS = ['error', 'fail', 'failed', 'failure', 'exception', 'fatal'] as const;

const KEYWORD = new RegExp(`\\b(?:${BASELINE_KEYWORDS.join('|')})\\b`, 'i');

/**
 * Baseline: lines containing a {@link BASELINE_KEYWORDS} word (case-insensitive, whole word),
 * each with one line before and two after, taken from the end of the log backwards until the
 * budget is full (like `grep -B1 -A2 | tail`), shown in log order.
 */
export function keywordBaseline(log: string, budget: ExcerptBudget): FailureContext {
  const lines = parseLog(log);
  const selection = new Selection(lines, budget);
  let truncated = false;
  for (let i = lines.length - 1; i >= 0 && !selection.full; i--) {
    if (!KEYWORD.test(lines[i]!.text)) continue;
    const added = selection.addWindow(i, { start: Math.max(0, i - 1), end: Math.min(lines.length - 1, i + 2) });
    if (added !== 'all') truncated = true;
  }
  return contextOf(lines, selection, truncated);
}

/**
 * Baseline: the last lines of the log that fit the budget (what most CI bots paste), trailing
 * blank lines skipped.
 */
export function tailBaseline(log: string, budget: ExcerptBudget): FailureContext {
  const lines = parseLog(log);
  const selection = new Selection(lines, budget);
  let end = lines.length - 1;
  while (end > 0 && !lines[end]!.text.trim()) end--;
  // As far back as the budget allows (blank lines cost nothing, as in every excerpt).
  const added = lines.length > 0 ? selection.addWindow(end, { start: 0, end }) : 'all';
  return contextOf(lines, selection, added !== 'all');
}

function contextOf(lines: RawLine[], selection: Selection, truncated: boolean): FailureContext {
  const rendered = selection.render();
  return {
    excerpt: rendered.text,
    lines: rendered.lines,
    windows: rendered.windows,
    failedStep: detectStructure(lines).failedStep,
    totalLines: lines.length,
    truncated,
    redactions: rendered.redactions,
  };
}
