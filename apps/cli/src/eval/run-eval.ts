import { readFileSync } from 'node:fs';
import {
  classifyFailure,
  extractFailureContext,
  planFromRules,
  keywordBaseline,
  splitRawLines,
  tailBaseline,
  type ExcerptBudget,
  type FailureContext,
} from '@pitcrew/core';
import { loadCiDiff, loadLogChunks } from './datasets.ts';
import { diagnosisScore, failureOfCase, loadLogDx, pitcrewCategoryOf, signalScore } from './logdx.ts';
import { chunkRecall, cidiffScore, indexExcerpt, Mean } from './metrics.ts';

/** The extraction methods compared. */
export const METHODS = ['pitcrew', 'keyword', 'tail'] as const;
export type Method = (typeof METHODS)[number];

/** LogChunks results of one method at one budget (fractions in [0, 1]). */
export interface LogChunksResult {
  cases: number;
  hits: number;
  hitRate: number;
  meanRecall: number;
  meanLines: number;
  meanBytes: number;
}

/** CiDiff results of one method at one budget (fractions in [0, 1]). */
export interface CiDiffResult {
  cases: number;
  /** Mean share of `E` lines shown (a repeat of the same text elsewhere counts). */
  recall: number;
  /** Mean share of `E` lines shown at their own line number. */
  lineRecall: number;
  /** Mean share of excerpt lines that are `E` or `C` lines. */
  precision: number;
  meanLines: number;
  meanBytes: number;
}

/**
 * LogDx-CI results of one method at one budget (fractions in [0, 1]; see `logdx.ts`). The
 * diagnosis fields score the rules runner's diagnosis (`planFromRules`) of the method's excerpt,
 * classified by `classifyFailure` from the excerpt and the job's names.
 */
export interface LogDxResult {
  cases: number;
  /** Mean share of required signals preserved (all importances). */
  recall: number;
  criticalRecall: number;
  /** Critical and important signals. */
  importantRecall: number;
  precision: number;
  /** Share of cases whose category matches the ground truth's (through `LOGDX_CATEGORIES`). */
  categoryAccuracy: number;
  /** Mean share of `must_mention` terms in the diagnosis. */
  mustMention: number;
  /** Total `must_not_claim` phrases found in the diagnoses. */
  mustNotClaimViolations: number;
  meanLines: number;
  meanBytes: number;
}

export interface BudgetReport {
  budget: ExcerptBudget;
  logchunks: Record<Method, LogChunksResult> | null;
  cidiff: Record<Method, CiDiffResult> | null;
  logdx: Record<Method, LogDxResult> | null;
}

/** What `pitcrew eval --json` writes: results at the budget, and at twice the budget under `budget2x`. */
export interface EvalReport extends BudgetReport {
  budget2x: BudgetReport;
  datasets: { logchunks: string | null; cidiff: string | null; logdx: string | null };
  /** Cases pitcrew missed at the 1× budget (recall < 0.8), for error analysis. */
  misses: {
    logchunks: { id: string; recall: number }[];
    cidiff: { id: string; recall: number }[];
    logdx: { id: string; recall: number; category: string; expected: string; mustMention: number | null; violations: string[] }[];
  };
  durationMs: number;
}

export interface EvalOptions {
  logchunks?: string | null;
  cidiff?: string | null;
  logdx?: string | null;
  budget: ExcerptBudget;
  /** Progress lines (one per dataset and a counter); default: none. */
  onProgress?: (message: string) => void;
}

type Extractor = (log: string, budget: ExcerptBudget, passLog: string | null) => FailureContext;

const EXTRACTORS: Record<Method, Extractor> = {
  pitcrew: (log, budget, passLog) => extractFailureContext(log, { ...budget, passLog }),
  keyword: (log, budget) => keywordBaseline(log, budget),
  tail: (log, budget) => tailBaseline(log, budget),
};

/** Reads a log as CI wrote it (UTF-8, invalid bytes replaced). */
function readLog(path: string): string {
  return readFileSync(path).toString('utf8');
}

/**
 * Runs every method at the budget and at twice the budget over the given data sets.
 * LogDx: signal recall and precision of each excerpt, and the category and rules diagnosis
 * built from it (see {@link LogDxResult}); no passing log.
 *
 * LogChunks: per log, chunk line recall (see `chunkRecall`), hit = recall ≥ 0.8; no passing log
 * exists, so pitcrew gets none. CiDiff: `E`-line recall and precision against `E` + `C` lines;
 * pitcrew gets `pass.log`, the nearest passing run.
 *
 * @throws Error when a data set directory does not have the expected layout
 */
export function runEval(options: EvalOptions): EvalReport {
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  const budgets: ExcerptBudget[] = [options.budget, { maxLines: options.budget.maxLines * 2, maxBytes: options.budget.maxBytes * 2 }];
  const reports: BudgetReport[] = budgets.map((budget) => ({ budget, logchunks: null, cidiff: null, logdx: null }));
  const misses: EvalReport['misses'] = { logchunks: [], cidiff: [], logdx: [] };

  if (options.logchunks) {
    const cases = loadLogChunks(options.logchunks);
    progress(`logchunks: ${cases.length} logs from ${options.logchunks}`);
    const acc = budgets.map(() => newAccumulators(() => ({ hits: 0, recall: new Mean(), lines: new Mean(), bytes: new Mean() })));
    cases.forEach((c, k) => {
      const log = readLog(c.logPath);
      budgets.forEach((budget, b) => {
        for (const method of METHODS) {
          const context = EXTRACTORS[method](log, budget, null);
          const recall = chunkRecall(c.chunk, indexExcerpt(context.lines));
          const a = acc[b]![method];
          if (recall >= 0.8) a.hits++;
          a.recall.add(recall);
          a.lines.add(context.lines.length);
          a.bytes.add(Buffer.byteLength(context.excerpt));
          if (b === 0 && method === 'pitcrew' && recall < 0.8) misses.logchunks.push({ id: c.id, recall: round(recall) });
        }
      });
      if ((k + 1) % 50 === 0 || k + 1 === cases.length) progress(`logchunks: ${k + 1}/${cases.length}`);
    });
    acc.forEach((a, b) => {
      reports[b]!.logchunks = mapMethods((method) => {
        const m = a[method];
        return {
          cases: cases.length,
          hits: m.hits,
          hitRate: round(cases.length ? m.hits / cases.length : 0),
          meanRecall: round(m.recall.value),
          meanLines: round(m.lines.value, 1),
          meanBytes: Math.round(m.bytes.value),
        };
      });
    });
  }

  if (options.cidiff) {
    const cases = loadCiDiff(options.cidiff);
    progress(`cidiff: ${cases.length} fail/pass pairs from ${options.cidiff}`);
    const acc = budgets.map(() =>
      newAccumulators(() => ({ recall: new Mean(), lineRecall: new Mean(), precision: new Mean(), lines: new Mean(), bytes: new Mean() })),
    );
    cases.forEach((c, k) => {
      const log = readLog(c.failPath);
      const passLog = c.passPath ? readLog(c.passPath) : null;
      const failLines = splitRawLines(log).map((l) => l.raw);
      budgets.forEach((budget, b) => {
        for (const method of METHODS) {
          const context = EXTRACTORS[method](log, budget, passLog);
          const score = cidiffScore(c.groundtruth, failLines, context.lines);
          const a = acc[b]![method];
          a.recall.add(score.recall);
          a.lineRecall.add(score.lineRecall);
          a.precision.add(score.precision);
          a.lines.add(context.lines.length);
          a.bytes.add(Buffer.byteLength(context.excerpt));
          if (b === 0 && method === 'pitcrew' && score.recall < 0.8) misses.cidiff.push({ id: c.id, recall: round(score.recall) });
        }
      });
      if ((k + 1) % 10 === 0 || k + 1 === cases.length) progress(`cidiff: ${k + 1}/${cases.length}`);
    });
    acc.forEach((a, b) => {
      reports[b]!.cidiff = mapMethods((method) => {
        const m = a[method];
        return {
          cases: cases.length,
          recall: round(m.recall.value),
          lineRecall: round(m.lineRecall.value),
          precision: round(m.precision.value),
          meanLines: round(m.lines.value, 1),
          meanBytes: Math.round(m.bytes.value),
        };
      });
    });
  }

  if (options.logdx) {
    const cases = loadLogDx(options.logdx);
    progress(`logdx: ${cases.length} cases from ${options.logdx}`);
    const acc = budgets.map(() =>
      newAccumulators(() => ({
        recall: new Mean(),
        critical: new Mean(),
        important: new Mean(),
        precision: new Mean(),
        category: new Mean(),
        mustMention: new Mean(),
        violations: 0,
        lines: new Mean(),
        bytes: new Mean(),
      })),
    );
    cases.forEach((c, k) => {
      const log = readLog(c.failPath);
      const failLines = splitRawLines(log).map((l) => l.raw);
      budgets.forEach((budget, b) => {
        for (const method of METHODS) {
          const context = EXTRACTORS[method](log, budget, null);
          const score = signalScore(c, failLines, context.lines);
          const failure = failureOfCase(c, context.failedStep);
          const classification = classifyFailure(failure, context.excerpt);
          const diagnosis = diagnosisScore(c, planFromRules(failure, classification, context.excerpt));
          const expected = pitcrewCategoryOf(c.category);
          const a = acc[b]![method];
          if (score.recall !== null) a.recall.add(score.recall);
          if (score.criticalRecall !== null) a.critical.add(score.criticalRecall);
          if (score.importantRecall !== null) a.important.add(score.importantRecall);
          a.precision.add(score.precision);
          a.category.add(classification.category === expected ? 1 : 0);
          if (diagnosis.mustMention !== null) a.mustMention.add(diagnosis.mustMention);
          a.violations += diagnosis.violations.length;
          a.lines.add(context.lines.length);
          a.bytes.add(Buffer.byteLength(context.excerpt));
          const recall = score.recall ?? 1;
          if (b === 0 && method === 'pitcrew' && (recall < 0.8 || classification.category !== expected || diagnosis.violations.length > 0)) {
            misses.logdx.push({
              id: c.id,
              recall: round(recall),
              category: classification.category,
              expected,
              mustMention: diagnosis.mustMention === null ? null : round(diagnosis.mustMention),
              violations: diagnosis.violations,
            });
          }
        }
      });
      progress(`logdx: ${k + 1}/${cases.length}`);
    });
    acc.forEach((a, b) => {
      reports[b]!.logdx = mapMethods((method) => {
        const m = a[method];
        return {
          cases: cases.length,
          recall: round(m.recall.value),
          criticalRecall: round(m.critical.value),
          importantRecall: round(m.important.value),
          precision: round(m.precision.value),
          categoryAccuracy: round(m.category.value),
          mustMention: round(m.mustMention.value),
          mustNotClaimViolations: m.violations,
          meanLines: round(m.lines.value, 1),
          meanBytes: Math.round(m.bytes.value),
        };
      });
    });
  }

  const [single, double] = reports as [BudgetReport, BudgetReport];
  return {
    ...single,
    budget2x: double,
    datasets: { logchunks: options.logchunks ?? null, cidiff: options.cidiff ?? null, logdx: options.logdx ?? null },
    misses,
    durationMs: Math.round(performance.now() - started),
  };
}

function newAccumulators<T>(make: () => T): Record<Method, T> {
  return mapMethods(() => make());
}

function mapMethods<T>(make: (method: Method) => T): Record<Method, T> {
  return Object.fromEntries(METHODS.map((m) => [m, make(m)])) as Record<Method, T>;
}

function round(value: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
