import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { buildClassifyPrompt, buildExecutePrompt, CATEGORIES, classifyFailure, extractFailureContext, type ExcerptBudget } from '@pitcrew/core';
import { createJsonCompleter, createLlmClient } from '@pitcrew/llm';
import { loadLogDx, scoreModelOnLogDx, type LogDxModelResult } from '../eval/logdx.ts';
import { evalTable, logdxTable } from '../eval/report.ts';
import { renderTable } from '../table.ts';
import { runEval, type EvalReport } from '../eval/run-eval.ts';

/** Options of `pitcrew eval`. */
export interface EvalCommandOptions {
  logchunks?: string;
  cidiff?: string;
  logdx?: string;
  /** Also score this model's diagnosis on LogDx (`LLM_BASE_URL`, `LLM_API_KEY`). */
  model?: string;
  json?: string;
  maxLines: number;
  maxBytes: number;
}

/** The monorepo root (this file is apps/cli/src/commands/eval.ts). */
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Data sets used when none of `--logchunks`, `--cidiff`, `--logdx` is given: `../shared/datasets/*` from the repo root. */
export function defaultDatasets(root = REPO_ROOT): { logchunks: string | null; cidiff: string | null; logdx: string | null } {
  const at = (name: string) => {
    const dir = resolve(root, '../shared/datasets', name);
    return existsSync(dir) ? dir : null;
  };
  return { logchunks: at('logchunks'), cidiff: at('cidiff'), logdx: at('logdx') };
}

/**
 * `pitcrew eval`: measures failure-context extraction (pitcrew, keyword search, tail) on
 * LogChunks- and CiDiff-layout directories at the budget and twice the budget; progress on
 * stderr, the table on stdout, the report as JSON to `--json`.
 *
 * With `model`, the model at `LLM_BASE_URL` also classifies and diagnoses pitcrew's LogDx
 * excerpts (the worker's prompts), and the report gains `logdxModel`.
 *
 * @returns the report
 * @throws Error when no data set is given or found, a directory has the wrong layout, or `model` is given without `LLM_BASE_URL` or LogDx
 */
export async function runEvalCommand(options: EvalCommandOptions): Promise<EvalReport & { logdxModel?: LogDxModelResult }> {
  const given = options.logchunks !== undefined || options.cidiff !== undefined || options.logdx !== undefined;
  const at = (dir: string | undefined) => (dir ? resolve(dir) : null);
  const datasets = given ? { logchunks: at(options.logchunks), cidiff: at(options.cidiff), logdx: at(options.logdx) } : defaultDatasets();
  if (!datasets.logchunks && !datasets.cidiff && !datasets.logdx) {
    throw new Error('no data set: pass --logchunks DIR, --cidiff DIR and/or --logdx DIR (../shared/datasets was not found)');
  }
  const report = runEval({
    ...datasets,
    budget: { maxLines: options.maxLines, maxBytes: options.maxBytes },
    onProgress: (message) => process.stderr.write(`eval ${message}\n`),
  });
  console.log(evalTable(report));
  const logdx = logdxTable(report);
  if (logdx) console.log(`LogDx-CI: signals and the rules diagnosis of each excerpt\n${logdx}`);
  let result: EvalReport & { logdxModel?: LogDxModelResult } = report;
  if (options.model) {
    if (!datasets.logdx) throw new Error('--model scores the LogDx-CI diagnosis: pass --logdx DIR');
    const modelResult = await scoreModel(options.model, datasets.logdx, report.budget);
    console.log(
      renderTable(
        ['model', 'cases', 'category', 'must-mention', 'must-not-claim', 'tokens in', 'tokens out', 'USD', 'errors'],
        [[modelResult.model, modelResult.cases, pct(modelResult.categoryAccuracy), pct(modelResult.mustMention), modelResult.mustNotClaimViolations, modelResult.tokensIn, modelResult.tokensOut, modelResult.costUsd.toFixed(4), modelResult.errors]],
      ),
    );
    result = { ...report, logdxModel: modelResult };
  }
  console.log(`eval took ${(report.durationMs / 1000).toFixed(1)} s`);
  if (options.json) {
    const path = resolve(options.json);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${path}`);
  }
  return result;
}

const ModelVerdict = z.object({ category: z.enum(CATEGORIES), confidence: z.number().min(0).max(1), reason: z.string() });

/** The model at `LLM_BASE_URL` classifies and diagnoses pitcrew's excerpt of each LogDx case. */
async function scoreModel(model: string, dir: string, budget: ExcerptBudget): Promise<LogDxModelResult> {
  const baseURL = process.env.LLM_BASE_URL;
  if (!baseURL) throw new Error('--model needs LLM_BASE_URL (an OpenAI-compatible server), in the environment or ./.env');
  const client = createLlmClient({ baseURL, model, ...(process.env.LLM_API_KEY ? { apiKey: process.env.LLM_API_KEY } : {}) });
  const completeJson = createJsonCompleter(client);
  const inputs = loadLogDx(dir).map((c) => {
    const context = extractFailureContext(readFileSync(c.failPath).toString('utf8'), budget);
    return { case: c, excerpt: context.excerpt, failedStep: context.failedStep };
  });
  return scoreModelOnLogDx(
    model,
    inputs,
    {
      async classify(failure, excerpt) {
        const r = await completeJson(ModelVerdict, 'ci_failure_classification', {
          messages: buildClassifyPrompt(failure, classifyFailure(failure, excerpt), excerpt),
          maxTokens: 300,
        });
        return { category: r.value.category, tokensIn: r.tokensIn, tokensOut: r.tokensOut, costUsd: r.costUsd };
      },
      async diagnose(failure, excerpt) {
        const r = await client.complete({ messages: buildExecutePrompt(failure, classifyFailure(failure, excerpt), excerpt) });
        return { text: r.text, tokensIn: r.tokensIn, tokensOut: r.tokensOut, costUsd: r.costUsd };
      },
    },
    (message) => process.stderr.write(`eval ${message}\n`),
  );
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
