import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { assertSandboxWorks, DEFAULT_SANDBOX } from '@pitcrew/worker';
import { fixSummary, fixTable } from '../eval/fix-report.ts';
import { matches, runFixEval, type FixEvalFixer, type FixEvalReport } from '../eval/run-fix-eval.ts';

/** Options of `pitcrew eval fix`. */
export interface EvalFixCommandOptions {
  fixer: 'rules' | 'agent' | 'both';
  agentCommand?: string;
  agentEstimateUsd: number;
  network: 'off' | 'host';
  readOnly?: string[];
  case?: string[];
  corpus?: string;
  timeout: number;
  maxIterations: number;
  json?: string;
}

/**
 * `pitcrew eval fix`: the fix pipeline (sandbox, fixer, guard, verification) on the corpus of
 * broken repositories, in dry run, iterating on the CI of cases that declare one (`--max-iterations`). Progress on stderr, the table and summary on stdout, the runs
 * as JSON to `--json`.
 *
 * @returns the report and whether every expected run ended as case.json expects
 * @throws SandboxUnavailableError when bubblewrap cannot run here
 */
export async function runEvalFixCommand(options: EvalFixCommandOptions): Promise<{ report: FixEvalReport; ok: boolean }> {
  assertSandboxWorks(DEFAULT_SANDBOX);
  const fixers: FixEvalFixer[] = options.fixer === 'both' ? ['rules', 'agent'] : [options.fixer];
  const report = await runFixEval({
    fixers,
    agentCommand: options.agentCommand ?? null,
    agentEstimateUsd: options.agentEstimateUsd,
    network: options.network,
    timeoutMs: options.timeout,
    maxIterations: options.maxIterations,
    ...(options.readOnly ? { readOnlyPaths: options.readOnly.map((p) => resolve(p)) } : {}),
    ...(options.case ? { cases: options.case } : {}),
    ...(options.corpus ? { corpus: resolve(options.corpus) } : {}),
    onProgress: (message) => process.stderr.write(`eval fix ${message}\n`),
  });
  console.log(fixTable(report));
  for (const line of fixSummary(report)) console.log(line);
  console.log(`eval fix took ${(report.durationMs / 1000).toFixed(1)} s`);
  if (options.json) {
    const path = resolve(options.json);
    mkdirSync(dirname(path), { recursive: true });
    const runs = report.runs.map(({ case: name, kind, fixer, status, escalation, guardRule, verified, ci, iterations, history, ms, usd, expected }) => ({ case: name, kind, fixer, status, escalation, guardRule, verified, ci, iterations, ms, usd, expected, history }));
    writeFileSync(path, `${JSON.stringify({ agent: report.agent, cases: report.cases, runs, durationMs: report.durationMs }, null, 2)}\n`);
    console.log(`wrote ${path}`);
  }
  return { report, ok: report.runs.every(matches) };
}
