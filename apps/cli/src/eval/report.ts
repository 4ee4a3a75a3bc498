import { renderTable } from '../table.ts';
import { METHODS, type BudgetReport, type EvalReport } from './run-eval.ts';

/** Column headings of {@link evalTable}. */
export const EVAL_COLUMNS = ['dataset', 'method', 'budget', 'cases', 'hit rate', 'mean recall', 'line recall', 'precision', 'mean lines', 'mean bytes'];

/**
 * The eval table: one row per data set × method × budget. `hit rate` is LogChunks only
 * (recall ≥ 0.8); `line recall` and `precision` are CiDiff only (`E` lines at their own line
 * number; share of excerpt lines that are `E` or `C` lines).
 */
export function evalTable(report: EvalReport): string {
  const rows: (string | number)[][] = [];
  const budgets: [string, BudgetReport][] = [
    ['1x', report],
    ['2x', report.budget2x],
  ];
  for (const dataset of ['logchunks', 'cidiff'] as const) {
    for (const method of METHODS) {
      for (const [label, b] of budgets) {
        const size = `${label} (${b.budget.maxLines} lines / ${Math.round(b.budget.maxBytes / 1024)} KiB)`;
        if (dataset === 'logchunks' && b.logchunks) {
          const r = b.logchunks[method];
          rows.push([dataset, method, size, r.cases, pct(r.hitRate), pct(r.meanRecall), '-', '-', r.meanLines.toFixed(1), r.meanBytes]);
        }
        if (dataset === 'cidiff' && b.cidiff) {
          const r = b.cidiff[method];
          rows.push([dataset, method, size, r.cases, '-', pct(r.recall), pct(r.lineRecall), pct(r.precision), r.meanLines.toFixed(1), r.meanBytes]);
        }
      }
    }
  }
  return renderTable(EVAL_COLUMNS, rows);
}

/** Column headings of {@link logdxTable}. */
export const LOGDX_COLUMNS = ['method', 'budget', 'cases', 'signal recall', 'critical', 'important', 'precision', 'category', 'must-mention', 'must-not-claim', 'mean lines', 'mean bytes'];

/**
 * The LogDx-CI table: one row per method × budget; signal recall (all, critical, critical +
 * important), line precision, and the rules diagnosis of the excerpt (category accuracy,
 * must-mention coverage, must-not-claim violations as a count). `null` without LogDx results.
 */
export function logdxTable(report: EvalReport): string | null {
  if (!report.logdx) return null;
  const rows: (string | number)[][] = [];
  for (const method of METHODS) {
    for (const [label, b] of [['1x', report], ['2x', report.budget2x]] as [string, BudgetReport][]) {
      const r = b.logdx?.[method];
      if (!r) continue;
      rows.push([
        method,
        `${label} (${b.budget.maxLines} lines / ${Math.round(b.budget.maxBytes / 1024)} KiB)`,
        r.cases,
        pct(r.recall),
        pct(r.criticalRecall),
        pct(r.importantRecall),
        pct(r.precision),
        pct(r.categoryAccuracy),
        pct(r.mustMention),
        r.mustNotClaimViolations,
        r.meanLines.toFixed(1),
        r.meanBytes,
      ]);
    }
  }
  return renderTable(LOGDX_COLUMNS, rows);
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
