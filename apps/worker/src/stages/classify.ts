import { z } from 'zod';
import {
  buildClassifyPrompt,
  CATEGORIES,
  Classification,
  excerptLineNumbers,
  classificationRecorded,
  classifyFailure,
  extractFailureContext,
  failingTestNames,
  failureSignature,
  flakyHistoryOf,
  joinIncident,
  loopOfBranch,
  RunnerName,
  RUNNERS,
  type Category,
  type FlakyEvidence,
  type FlakyHistory,
} from '@pitcrew/core';
import { estimateTokens, type createJsonCompleter } from '@pitcrew/llm';
import { describeError } from '../errors.ts';
import { guarded } from '../guards/guarded.ts';
import type { FetchedLog } from '../github/log-source.ts';
import type { StageDefinition, StageDeps, TriageScope } from './stage.ts';

/** The JSON a model answers when asked to classify (schema sent as `response_format`). */
export const ModelVerdict = z.object({
  category: z.enum(CATEGORIES),
  confidence: z.number().min(0).max(1),
  runner: z.enum(RUNNERS),
  model: z.string().nullable(),
  reason: z.string(),
});
export type ModelVerdict = z.infer<typeof ModelVerdict>;

/** Where the log came from and what became of it (a `FetchedLog` without its text). */
const LogInfo = z.object({
  /** `ok`, `expired` (410), `missing` (404), `unavailable` (no credential), `error`. */
  status: z.enum(['ok', 'expired', 'missing', 'unavailable', 'error']),
  jobId: z.number().nullable(),
  failedSteps: z.array(z.string()),
  /** Bytes of the log as GitHub served it. */
  bytes: z.number(),
  reason: z.string().optional(),
  lines: z.number().optional(),
  failedStep: z.string().nullable().optional(),
  /** The passing job whose log was diffed against this one (flaky twin), when there was one. */
  comparedWithJobId: z.number().optional(),
});

/** Output of the classify stage, as stored in `executions.output`. */
export const ClassifyOutput = Classification.extend({
  /** Runner and model chosen by the strategy for this failure (kept across retries). */
  runner: RunnerName,
  model: z.string().nullable(),
  /** Log lines that explain the failure (redacted), when logs were available. */
  logExcerpt: z.string().nullable(),
  /** The log line number of each line of `logExcerpt` (`null` for a `…` marker), for showing it numbered; absent without a log (and in outputs of older releases). */
  excerptLineNumbers: z.array(z.number().int().nullable()).optional(),
  /** Secrets replaced in the excerpt, per rule (`[REDACTED:<rule>]`); absent when there was no log. */
  redactions: z.record(z.string(), z.number()).optional(),
  log: LogInfo.optional(),
  /** Signature of the breakage and its incident, when there was a log excerpt to sign. */
  signature: z.string().optional(),
  incident: z.object({ id: z.string(), leaderFailureId: z.string(), occurrences: z.number() }).optional(),
  /** The rules' own verdict, when a model was asked and overruled it. */
  rules: z.object({ category: z.enum(CATEGORIES), confidence: z.number() }).optional(),
  /** What the model answered, when it was asked. */
  modelVerdict: ModelVerdict.optional(),
});
export type ClassifyOutput = z.infer<typeof ClassifyOutput>;

/** Model classification of failures the rules are unsure about. */
export interface ModelClassifier {
  completeJson: ReturnType<typeof createJsonCompleter>;
  /** Ask the model when the rules' confidence is below this (0-1). */
  below: number;
}

/**
 * classify: rules over the failure's names, steps and log excerpt (fetched and extracted when a
 * log source is configured), flaky evidence from a passing twin, the incident of its breakage,
 * then the model when the rules are unsure (below `classifier.below`) and one is configured, and
 * the strategy's choice of runner and model. Records the category and confidence on the failure.
 *
 * Planned on `rules`: whether the model is asked is only known once the rules have read the log,
 * so the execution is written once, when done, and names the model when one answered.
 */
export const classifyStage: StageDefinition<ClassifyOutput, Record<string, never>> = {
  name: 'classify',
  output: ClassifyOutput,
  needs: [],
  plan: () => ({ runner: 'rules', model: null }),
  async run(scope, _needs, deps) {
    const flaky = await readFlaky(deps, scope);
    const { logExcerpt, excerptLineNumbers: numbers, log, redactions } = await readLog(deps, scope, flaky);
    const history = flaky ? null : await readFlakyHistory(deps, scope, logExcerpt);
    const rules = { ...classifyFailure(scope.failure, logExcerpt), ...(flaky ? { flaky } : {}), ...(history ? { flakyHistory: history } : {}) };
    const grouped = await groupIntoIncident(deps, scope, rules.category, logExcerpt);
    const extra = { logExcerpt, ...(numbers ? { excerptLineNumbers: numbers } : {}), ...(log ? { log } : {}), ...(redactions ? { redactions } : {}), ...grouped };
    const { classifier, runners } = deps;
    const llm = runners.llm;
    const byRules = (): { output: ClassifyOutput; failure: ReturnType<typeof classificationRecorded> } => {
      const output = { ...rules, ...runners.choose(rules.category, { strong: scope.round.strongModel ?? false }), ...extra };
      return { output, failure: classificationRecorded(output) };
    };
    if (!classifier || !llm || rules.confidence >= classifier.below) return byRules();
    // The rules are unsure: ask the model, under the same budget and breaker as any model call.
    const messages = buildClassifyPrompt(scope.failure, rules, logExcerpt);
    const attempt = await guarded(
      deps,
      scope,
      { name: 'llm', model: llm.model },
      () => llm.prices.cost(llm.model, estimateTokens(messages.map((m) => m.content).join('\n')) + 300, 300),
      async () => classifier.completeJson(ModelVerdict, 'ci_failure_classification', { messages, maxTokens: 300, signal: scope.run.signal }),
    );
    if (!attempt.ok) {
      scope.log.warn({ reason: attempt.reason }, 'model classification unavailable; keeping the rules');
      return byRules();
    }
    const verdict = attempt.value.value;
    const useModel = verdict.confidence > rules.confidence;
    const category = useModel ? verdict.category : rules.category;
    const output: ClassifyOutput = {
      category,
      confidence: useModel ? Math.round(verdict.confidence * 100) / 100 : rules.confidence,
      evidence: [...rules.evidence, { category: verdict.category, source: 'model', text: verdict.reason.slice(0, 200), pattern: 'model' }],
      ...runners.choose(category, { strong: scope.round.strongModel ?? false }),
      ...extra,
      ...(flaky ? { flaky } : {}),
      ...(history ? { flakyHistory: history } : {}),
      rules: { category: rules.category, confidence: rules.confidence },
      modelVerdict: verdict,
    };
    return {
      output,
      failure: classificationRecorded(output),
      runner: 'llm',
      model: attempt.value.model,
      tokensIn: attempt.value.tokensIn,
      tokensOut: attempt.value.tokensOut,
      costUsd: attempt.value.costUsd,
    };
  },
};

/** Fetches and extracts the failure's log when a log source is configured; never throws. */
async function readLog(
  deps: StageDeps,
  scope: TriageScope,
  flaky: FlakyEvidence | null,
): Promise<{ logExcerpt: string | null; excerptLineNumbers?: (number | null)[]; log: ClassifyOutput['log'] | null; redactions?: Record<string, number> }> {
  if (!deps.logs) return { logExcerpt: null, log: null };
  let fetched: FetchedLog;
  try {
    fetched = await deps.logs.fetch(scope.failure, scope.run.signal);
  } catch (error) {
    // GitHub down or refusing: triage goes on with what the payload has, and says so.
    scope.log.warn({ err: error }, 'could not fetch logs; triaging from the payload');
    return { logExcerpt: null, log: { status: 'error', jobId: null, failedSteps: [], bytes: 0, reason: describeError(error) } };
  }
  const { text, ...log } = fetched;
  if (!text) return { logExcerpt: null, log };
  // A passing run of the same job on the same commit lets extraction drop the lines both printed.
  const passLog = flaky ? await deps.logs.passingLog(scope.failure, flaky.passed.jobId, scope.run.signal).catch(() => null) : null;
  const extracted = extractFailureContext(text, { failedStep: scope.failure.failedSteps[0] ?? fetched.failedSteps[0] ?? null, passLog });
  return {
    logExcerpt: extracted.excerpt || null,
    ...(extracted.excerpt ? { excerptLineNumbers: excerptLineNumbers(extracted.excerpt, extracted.lines) } : {}),
    redactions: extracted.redactions,
    log: { ...log, lines: extracted.totalLines, failedStep: extracted.failedStep, ...(passLog ? { comparedWithJobId: flaky!.passed.jobId } : {}) },
  };
}

/** The same job passing on the same commit, when a log source can tell; never throws. */
async function readFlaky(deps: StageDeps, scope: TriageScope): Promise<FlakyEvidence | null> {
  if (!deps.logs) return null;
  try {
    return await deps.logs.findPassingTwin(scope.failure, scope.run.signal);
  } catch (error) {
    scope.log.warn({ err: error }, 'could not look for a passing run of the same job; no flaky evidence');
    return null;
  }
}

/** The flaky registry's evidence counts from this many occurrences and this score (occurrences / resolved failures). */
export const FLAKY_HISTORY_MIN = { occurrences: 2, score: 0.25 };

/** The flaky registry's history of the failure's job or its failing tests, when flaky enough ({@link FLAKY_HISTORY_MIN}); never throws. */
async function readFlakyHistory(deps: StageDeps, scope: TriageScope, logExcerpt: string | null): Promise<FlakyHistory | null> {
  const f = scope.failure;
  const job = f.jobName ?? f.checkName ?? f.workflowName;
  if (!job) return null;
  try {
    const entry = await flakyHistoryOf(deps.db, { owner: f.owner, repo: f.repo, workflow: f.workflowName, job, tests: failingTestNames(logExcerpt) });
    if (!entry || entry.occurrences < FLAKY_HISTORY_MIN.occurrences || entry.score < FLAKY_HISTORY_MIN.score) return null;
    return { score: entry.score, occurrences: entry.occurrences, test: entry.test || null };
  } catch (error) {
    scope.log.warn({ err: error }, 'could not read the flaky registry; no flaky history');
    return null;
  }
}

/** Signs the breakage and joins its incident, when there is an excerpt to sign. */
async function groupIntoIncident(
  deps: StageDeps,
  scope: TriageScope,
  category: Category,
  logExcerpt: string | null,
): Promise<Pick<ClassifyOutput, 'signature' | 'incident'>> {
  const windowHours = deps.incidentWindowHours ?? 24;
  // CI of a fix branch belongs to its fix loop, not to an incident of the repository.
  if (!logExcerpt || windowHours <= 0 || loopOfBranch(scope.failure.branch)) return {};
  const signature = failureSignature(category, logExcerpt);
  const { incident } = await joinIncident(deps.db, {
    failureId: scope.failureId,
    owner: scope.failure.owner,
    repo: scope.failure.repo,
    signature,
    category,
    windowHours,
  });
  return { signature, incident: { id: incident.id, leaderFailureId: incident.leader_failure_id, occurrences: incident.occurrences } };
}
