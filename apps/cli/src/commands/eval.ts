import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalTable } from '../eval/report.ts';
import { runEval, type EvalReport } from '../eval/run-eval.ts';

/** Options of `pitcrew eval`. */
export interface EvalCommandOptions {
  logchunks?: string;
  cidiff?: string;
  json?: string;
  maxLines: number;
  maxBytes: number;
}

/** The monorepo root (this file is apps/cli/src/commands/eval.ts). */
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Data sets used when neither `--logchunks` nor `--cidiff` is given: `../shared/datasets/*` from the repo root. */
export function defaultDatasets(root = REPO_ROOT): { logchunks: string | null; cidiff: string | null } {
  const at = (name: string) => {
    const dir = resolve(root, '../shared/datasets', name);
    return existsSync(dir) ? dir : null;
  };
  return { logchunks: at('logchunks'), cidiff: at('cidiff') };
}

/**
 * `pitcrew eval`: measures failure-context extraction (pitcrew, keyword search, tail) on
 * LogChunks- and CiDiff-layout directories at the budget and twice the budget; progress on
 * stderr, the table on stdout, the report as JSON to `--json`.
 *
 * @returns the report
 * @throws Error when no data set is given or found, or a directory has the wrong layout
 */
export function runEvalCommand(options: EvalCommandOptions): EvalReport {
  const given = options.logchunks !== undefined || options.cidiff !== undefined;
  const datasets = given
    ? { logchunks: options.logchunks ? resolve(options.logchunks) : null, cidiff: options.cidiff ? resolve(options.cidiff) : null }
    : defaultDatasets();
  if (!datasets.logchunks && !datasets.cidiff) {
    throw new Error('no data set: pass --logchunks DIR and/or --cidiff DIR (../shared/datasets was not found)');
  }
  const report = runEval({
    ...datasets,
    budget: { maxLines: options.maxLines, maxBytes: options.maxBytes },
    onProgress: (message) => process.stderr.write(`eval ${message}\n`),
  });
  console.log(evalTable(report));
  console.log(`eval took ${(report.durationMs / 1000).toFixed(1)} s`);
  if (options.json) {
    const path = resolve(options.json);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${path}`);
  }
  return report;
}
