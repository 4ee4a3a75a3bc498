import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { z } from 'zod';
import type { Category, CiFailure } from '@pitcrew/core';
import { matchText } from './metrics.ts';

/**
 * LogDx-CI's own case layout (github.com/eyuansu62/LogDx, data CC-BY-4.0): a directory holding
 * `fail.log` (the job log as GitHub serves it), `ground_truth.json` and `case.json`.
 * Only the fields pitcrew scores are read; everything else in the files is ignored.
 */
const Signal = z.object({
  type: z.string(),
  value: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  file: z.string().optional(),
  importance: z.enum(['critical', 'important', 'optional']),
  /** Inclusive 1-based line ranges of fail.log: `[[start, end], …]`. */
  evidence_lines: z.array(z.tuple([z.number().int(), z.number().int()])),
});

const GroundTruth = z.object({
  root_cause: z.object({ summary: z.string().optional(), category: z.string() }),
  required_signals: z.array(Signal),
  evidence_spans: z.array(z.object({ start_line: z.number().int(), end_line: z.number().int() })).default([]),
  expected_diagnosis: z
    .object({ must_mention: z.array(z.string()).default([]), must_not_claim: z.array(z.string()).default([]) })
    .default({ must_mention: [], must_not_claim: [] }),
});

const CaseInfo = z.object({
  case_id: z.string().optional(),
  repo: z.string().optional(),
  workflow_name: z.string().nullable().optional(),
  job_name: z.string().nullable().optional(),
  framework: z.string().optional(),
});

export type LogDxSignal = z.infer<typeof Signal>;

/** One LogDx case as pitcrew scores it. */
export interface LogDxCase {
  /** The case directory relative to the data set directory (`dev/cargo-tokio-001`). */
  id: string;
  failPath: string;
  repo: string | null;
  workflowName: string | null;
  jobName: string | null;
  /** LogDx's root-cause category (`compile_error`, `permission_or_secret`, …). */
  category: string;
  signals: LogDxSignal[];
  /** 1-based line numbers of the evidence spans and signals: what a precise excerpt shows. */
  relevant: Set<number>;
  mustMention: string[];
  mustNotClaim: string[];
}

/**
 * LogDx root-cause categories (the `root_cause_category` enum of LogDx's diagnosis schema, plus the
 * ground-truth aliases its evaluator maps: `lint_error`, `snapshot_diff`, `generic_error`) to
 * pitcrew's categories. One pitcrew category per LogDx category, so accuracy is exact match:
 * - `compile_error` and `docker_build` are `build` (the step that builds failed);
 * - `lint_failure`, `formatting_failure` are `lint` (pitcrew's lint covers formatters);
 * - `network_or_flaky` is `infrastructure` (runner, network, services: the re-runnable class);
 * - `timeout_or_oom` is `timeout`;
 * - `snapshot_diff` is `test`, as LogDx's own evaluator aliases it to `test_assertion`;
 * - `permission_or_secret` and `github_actions_config` are pitcrew's `permission` and `ci-config`,
 *   added for them: neither is the code's fault nor fixed by re-running.
 * `other`, `generic_error` and `unknown` are `unknown`.
 */
export const LOGDX_CATEGORIES: Record<string, Category> = {
  test_assertion: 'test',
  snapshot_diff: 'test',
  compile_error: 'build',
  docker_build: 'build',
  type_error: 'typecheck',
  lint_failure: 'lint',
  lint_error: 'lint',
  formatting_failure: 'lint',
  dependency_install: 'dependency',
  network_or_flaky: 'infrastructure',
  timeout_or_oom: 'timeout',
  permission_or_secret: 'permission',
  github_actions_config: 'ci-config',
  other: 'unknown',
  generic_error: 'unknown',
  unknown: 'unknown',
};

/** pitcrew's category for a LogDx category; `unknown` for a name not in {@link LOGDX_CATEGORIES}. */
export function pitcrewCategoryOf(logdxCategory: string): Category {
  return LOGDX_CATEGORIES[logdxCategory] ?? 'unknown';
}

/**
 * Loads every LogDx case below `dir` (or `dir` itself): directories holding `fail.log`,
 * `ground_truth.json` and `case.json`. Sorted by id.
 *
 * @throws Error when `dir` is not a directory, or naming the file when a ground truth or case file is malformed
 */
export function loadLogDx(dir: string): LogDxCase[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
  const cases: LogDxCase[] = [];
  const visit = (current: string) => {
    const entries = readdirSync(current, { withFileTypes: true });
    const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (names.has('fail.log') && names.has('ground_truth.json') && names.has('case.json')) {
      const truth = parseJson(join(current, 'ground_truth.json'), GroundTruth);
      const info = parseJson(join(current, 'case.json'), CaseInfo);
      const relevant = new Set<number>();
      for (const span of truth.evidence_spans) for (let n = span.start_line; n <= span.end_line; n++) relevant.add(n);
      for (const signal of truth.required_signals) for (const [a, b] of signal.evidence_lines) for (let n = a; n <= b; n++) relevant.add(n);
      cases.push({
        id: relative(root, current) || '.',
        failPath: join(current, 'fail.log'),
        repo: info.repo ?? null,
        workflowName: info.workflow_name ?? null,
        jobName: info.job_name ?? null,
        category: truth.root_cause.category,
        signals: truth.required_signals,
        relevant,
        mustMention: truth.expected_diagnosis.must_mention.filter((s) => s.trim()),
        mustNotClaim: truth.expected_diagnosis.must_not_claim.filter((s) => s.trim()),
      });
    }
    for (const entry of entries) if (entry.isDirectory() && !entry.name.startsWith('.')) visit(join(current, entry.name));
  };
  visit(root);
  return cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function parseJson<T>(path: string, schema: z.ZodType<T>): T {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: not JSON`, { cause: error });
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Per-case signal scores of an excerpt; recall fields are `null` when the case has no such signal. */
export interface SignalScore {
  recall: number | null;
  criticalRecall: number | null;
  importantRecall: number | null;
  /** Share of the excerpt's non-blank lines that are evidence-span or signal lines (1 for an empty excerpt). */
  precision: number;
}

/**
 * Signal recall as LogDx's `evaluate_signal_recall.py` defines it: a required signal is preserved
 * when every non-blank line of its `evidence_lines` is in the excerpt, or else when its `value` or
 * one of its `aliases` appears in the excerpt's text (ANSI stripped). `importantRecall` counts
 * critical and important signals; `recall` all of them.
 *
 * @param failLines the raw fail.log split as the ground truth numbers it (`splitRawLines`)
 */
export function signalScore(c: LogDxCase, failLines: string[], excerpt: { number: number; text: string }[]): SignalScore {
  const shown = new Set(excerpt.map((l) => l.number));
  const text = excerpt.map((l) => matchText(l.text)).join('\n');
  const preserved = (signal: LogDxSignal): boolean => {
    const byLines = signal.evidence_lines.every(([a, b]) => {
      for (let n = a; n <= b; n++) if (!shown.has(n) && matchText(failLines[n - 1] ?? '')) return false;
      return true;
    });
    if (byLines) return true;
    return [signal.value, ...(signal.aliases ?? [])].some((v) => v !== undefined && v.trim().length > 0 && text.includes(v.trim()));
  };
  const share = (signals: LogDxSignal[]) => (signals.length ? signals.filter(preserved).length / signals.length : null);
  const nonBlank = excerpt.filter((l) => matchText(l.text));
  return {
    recall: share(c.signals),
    criticalRecall: share(c.signals.filter((s) => s.importance === 'critical')),
    importantRecall: share(c.signals.filter((s) => s.importance !== 'optional')),
    precision: nonBlank.length ? nonBlank.filter((l) => c.relevant.has(l.number)).length / nonBlank.length : 1,
  };
}

/** How a diagnosis text does against the case's `expected_diagnosis`. */
export interface DiagnosisScore {
  /** Share of `must_mention` terms present; `null` when the case lists none. */
  mustMention: number | null;
  /** The `must_not_claim` phrases the diagnosis contains. */
  violations: string[];
}

/**
 * `must_mention` coverage and `must_not_claim` violations, by substring as LogDx's
 * `evaluate_diagnosis.py` does, but case-insensitive: "No tests found" in a quoted log line
 * mentions "no tests found", and "Network failure" claims "network failure" (LogDx compares
 * case-sensitively, which rewards copying its labels' capitalization).
 */
export function diagnosisScore(c: LogDxCase, diagnosis: string): DiagnosisScore {
  const blob = matchText(diagnosis.replace(/\r\n|\r/g, '\n')).toLowerCase();
  const contains = (term: string) => blob.includes(term.trim().toLowerCase());
  return {
    mustMention: c.mustMention.length ? c.mustMention.filter(contains).length / c.mustMention.length : null,
    violations: c.mustNotClaim.filter(contains),
  };
}

/**
 * The failure pitcrew would have built from the webhook of this case's job: its repository,
 * workflow and job names, and the failed step the log names (the jobs API's `steps[].name`).
 */
export function failureOfCase(c: LogDxCase, failedStep: string | null): CiFailure {
  const [owner = 'logdx', repo = c.id] = (c.repo ?? '').split('/');
  return {
    id: `logdx-${c.id.replace(/[^\w-]+/g, '-')}`,
    provider: 'github',
    kind: 'job',
    event: 'workflow_job',
    owner,
    repo,
    repoId: null,
    branch: null,
    headSha: '0000000000000000000000000000000000000000',
    runId: null,
    runAttempt: 1,
    jobId: null,
    checkSuiteId: null,
    workflowName: c.workflowName,
    jobName: c.jobName,
    checkName: c.jobName,
    appSlug: 'github-actions',
    htmlUrl: null,
    conclusion: 'failure',
    failedSteps: failedStep ? [failedStep] : [],
    outputText: null,
    pullRequests: [],
    installationId: null,
    startedAt: null,
    completedAt: null,
  };
}

/** LogDx results of a model's diagnosis of pitcrew's excerpts (see {@link scoreModelOnLogDx}). */
export interface LogDxModelResult {
  model: string;
  cases: number;
  categoryAccuracy: number;
  mustMention: number;
  mustNotClaimViolations: number;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  /** Cases whose call failed (counted as wrong and as no coverage). */
  errors: number;
}

/** What {@link scoreModelOnLogDx} needs per case: the excerpt pitcrew extracted, as the worker would send it. */
export interface LogDxModelInput {
  case: LogDxCase;
  excerpt: string;
  failedStep: string | null;
}

/**
 * Scores a model the way the worker uses it: the classify prompt (JSON verdict, category scored)
 * and the execute prompt (the markdown diagnosis, must-mention and must-not-claim scored), both
 * fed pitcrew's excerpt of the case. Calls run one after another.
 *
 * @param classify asks the model for a category (the worker's classify stage schema)
 * @param diagnose asks the model for the diagnosis markdown
 */
export async function scoreModelOnLogDx(
  model: string,
  inputs: LogDxModelInput[],
  calls: {
    classify: (failure: CiFailure, excerpt: string) => Promise<{ category: string; tokensIn: number; tokensOut: number; costUsd: number }>;
    diagnose: (failure: CiFailure, excerpt: string) => Promise<{ text: string; tokensIn: number; tokensOut: number; costUsd: number }>;
  },
  onProgress: (message: string) => void = () => {},
): Promise<LogDxModelResult> {
  let correct = 0;
  let mention = 0;
  let mentionCases = 0;
  let violations = 0;
  let errors = 0;
  const spent = { tokensIn: 0, tokensOut: 0, costUsd: 0 };
  for (const [k, input] of inputs.entries()) {
    const failure = failureOfCase(input.case, input.failedStep);
    try {
      const verdict = await calls.classify(failure, input.excerpt);
      const diagnosis = await calls.diagnose(failure, input.excerpt);
      for (const r of [verdict, diagnosis]) {
        spent.tokensIn += r.tokensIn;
        spent.tokensOut += r.tokensOut;
        spent.costUsd += r.costUsd;
      }
      if (verdict.category === pitcrewCategoryOf(input.case.category)) correct++;
      const score = diagnosisScore(input.case, diagnosis.text);
      if (score.mustMention !== null) {
        mention += score.mustMention;
        mentionCases++;
      }
      violations += score.violations.length;
    } catch (error) {
      errors++;
      if (input.case.mustMention.length) mentionCases++;
      onProgress(`logdx model: ${input.case.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
    onProgress(`logdx model: ${k + 1}/${inputs.length}`);
  }
  const n = inputs.length;
  return {
    model,
    cases: n,
    categoryAccuracy: n ? Math.round((correct / n) * 10_000) / 10_000 : 0,
    mustMention: mentionCases ? Math.round((mention / mentionCases) * 10_000) / 10_000 : 0,
    mustNotClaimViolations: violations,
    tokensIn: spent.tokensIn,
    tokensOut: spent.tokensOut,
    costUsd: Math.round(spent.costUsd * 1e6) / 1e6,
    errors,
  };
}
