import { UnrecoverableError, type Job } from 'bullmq';
import { BrokenCircuitError } from 'cockatiel';
import { sql, type Kysely } from 'kysely';
import {
  buildClassifyPrompt,
  extractFailureContext,
  failureSignature,
  joinIncident,
  buildSummaryPrompt,
  CATEGORIES,
  RUNNERS,
  CiFailure,
  classifyFailure,
  ExecutionAlreadySucceededError,
  extractSummarySection,
  findFailure,
  findSucceededExecution,
  finishExecution,
  startExecution,
  STAGES,
  summaryFromRules,
  updateFailure,
  type Category,
  type Classification,
  type Database,
  type FailureRow,
  type FlakyEvidence,
  type Logger,
  type RunnerName,
  type Stage,
} from '@pitcrew/core';
import { z } from 'zod';
import { estimateTokens, type createJsonCompleter } from '@pitcrew/llm';
import type { LogSource, FetchedLog } from './github/log-source.ts';
import type { Breakers } from './guards/breakers.ts';
import type { PipelineObserver } from './metrics.ts';
import { BudgetExceededError, type Budget } from './guards/budget.ts';
import type { RunnerRegistry } from './runners/registry.ts';
import type { Runner, RunnerInput, RunnerOutput } from './runners/runner.ts';

/** Output of the classify stage, as stored in `executions.output`. */
export interface ClassifyOutput extends Classification {
  /** Runner and model chosen by the strategy for this failure (kept across retries). */
  runner: RunnerName;
  model: string | null;
  /** Log lines that explain the failure, when logs were available. */
  logExcerpt: string | null;
  /** Secrets replaced in the excerpt, per rule (`[REDACTED:<rule>]`); absent when there was no log. */
  redactions?: Record<string, number>;
  /** Where the log came from and what became of it. */
  log?: Omit<FetchedLog, 'text'> & {
    lines?: number;
    failedStep?: string | null;
    /** The passing job whose log was diffed against this one (flaky twin), when there was one. */
    comparedWithJobId?: number;
  };
  /** Signature of the breakage and its incident, when there was a log excerpt to sign. */
  signature?: string;
  incident?: { id: string; leaderFailureId: string; occurrences: number };
  /** The rules' own verdict, when a model was asked and overruled it. */
  rules?: { category: Category; confidence: number };
  /** What the model answered, when it was asked. */
  modelVerdict?: ModelVerdict;
}

/** The JSON a model answers when asked to classify (schema sent as `response_format`). */
export const ModelVerdict = z.object({
  category: z.enum(CATEGORIES),
  confidence: z.number().min(0).max(1),
  runner: z.enum(RUNNERS),
  model: z.string().nullable(),
  reason: z.string(),
});
export type ModelVerdict = z.infer<typeof ModelVerdict>;

/** Model classification of failures the rules are unsure about. */
export interface ModelClassifier {
  completeJson: ReturnType<typeof createJsonCompleter>;
  /** Ask the model when the rules' confidence is below this (0-1). */
  below: number;
}

/** Output of the execute stage. */
export interface ExecuteOutput {
  runner: string;
  model: string | null;
  markdown: string;
  /** Set when the chosen runner could not serve and rules stood in. */
  fallbackFrom?: string;
  fallbackReason?: string;
  /** Set when this is the incident leader's execution, reused. */
  sharedFrom?: string;
  incidentId?: string;
}

/** Output of the summarize stage; `source` says where the summary came from. */
export interface SummarizeOutput {
  summary: string;
  source: 'runner-output' | 'llm' | 'rules';
}

/** Circuit breakers and budgets guarding every model call. */
export interface Guards {
  breakers: Breakers;
  budget: Budget | null;
}

/** Dependencies of the stages. */
export interface TriageDeps {
  db: Kysely<Database>;
  runners: RunnerRegistry;
  logger: Logger;
  guards?: Guards;
  /**
   * ms after a failure was recorded past which a failing model call is not retried: rules stand
   * in at once when the next attempt would start later than this (default
   * {@link DEGRADE_AFTER_MS}). A model that fails once, early, still gets its retry.
   */
  degradeAfterMs?: number;
  /** Set when a model is configured. */
  classifier?: ModelClassifier;
  /** Set when GitHub credentials are configured. */
  logs?: LogSource;
  /** Same signature in the same repository within this many hours = one incident; 0 disables. */
  incidentWindowHours?: number;
  /** Told of every finished execution and budget skip (metrics). */
  observer?: PipelineObserver;
}

/**
 * Thrown when a failure's incident leader is still executing: the job waits (BullMQ delays it,
 * without using an attempt) and then reuses the leader's execution instead of paying again.
 */
export class LeaderPendingError extends Error {
  constructor(readonly leaderFailureId: string) {
    super(`incident leader ${leaderFailureId} is still executing`);
    this.name = 'LeaderPendingError';
  }
}

/** How long a follower waits for its incident leader before executing on its own, ms. */
export const LEADER_WAIT_MS = 10 * 60_000;

/**
 * Default of {@link TriageDeps.degradeAfterMs}: 8 s. The target is a failure triaged by rules
 * within 15 s of its delivery while the model is down (issue 12). A failing model call takes
 * about 1.5-2 s with the SDK's two retries (0.5 s then 1 s backoff, openai-node defaults) and
 * BullMQ waits 2 s, 4 s, … between attempts (`defaultJobOptions`), so with the classify and
 * execute calls both failing the last model attempt ends about 8 s after delivery; a model that
 * fails one attempt early still gets its retry (2 s + 2 s < 8 s).
 */
export const DEGRADE_AFTER_MS = 8_000;

/** One run of a job for one failure. */
export interface TriageRun {
  failureId: string;
  /** 1-based attempt of the job (BullMQ `attemptsMade + 1`). */
  attempt: number;
  /** True when no retry follows a failure of this attempt. */
  finalAttempt: boolean;
  /** ms BullMQ waits before the next attempt when this one fails (its backoff); 0 when unknown. */
  retryDelayMs?: number;
  signal: AbortSignal;
}

/** What a finished triage recorded on the failure. */
export interface TriageResult {
  category: Category;
  confidence: number;
  runner: string;
  summary: string;
  /** Stages skipped because an earlier attempt finished them. */
  reused: Stage[];
}

/**
 * Thrown when a job names a failure that is not in Postgres (deleted, or a job from another
 * database). Retrying cannot help: the processor turns it into an `UnrecoverableError`.
 */
export class FailureNotFoundError extends Error {
  constructor(readonly failureId: string) {
    super(`failure ${failureId} is not in the database`);
    this.name = 'FailureNotFoundError';
  }
}

/**
 * Thrown when a failure row's `data` does not parse as this release's {@link CiFailure} (stored
 * by an older or newer release). Retrying cannot help: the processor marks the failure `failed`
 * with this message at once and fails the job as unrecoverable.
 */
export class InvalidFailureDataError extends Error {
  constructor(
    readonly failureId: string,
    issues: readonly ShapeIssue[],
  ) {
    super(`failure ${failureId} was stored in a shape this worker cannot read (${describeIssues(issues)})`);
    this.name = 'InvalidFailureDataError';
  }
}

/** One zod issue, as far as {@link describeIssues} reads it. */
export type ShapeIssue = { path: readonly PropertyKey[]; message: string };

/** zod issues as one readable line: `path: message` for the first five, then how many more. */
export function describeIssues(issues: readonly ShapeIssue[]): string {
  const listed = issues.slice(0, 5).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return `${listed.join('; ')}${issues.length > 5 ? `; ${issues.length - 5} more` : ''}`;
}

/**
 * A job's data parsed with `schema`.
 *
 * @throws {UnrecoverableError} for data this release cannot read (written by another release):
 *   retrying cannot help, so BullMQ fails the job at once, with the issues listed
 */
export function parseOrUnrecoverable<T>(
  schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: readonly ShapeIssue[] } } },
  job: Pick<Job, 'id' | 'queueName' | 'data'>,
): T {
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(`job ${job.id} of ${job.queueName} has invalid data (written by another release?): ${describeIssues(parsed.error.issues)}`);
  }
  return parsed.data;
}

interface StageResult<T> {
  output: T;
  runner?: string;
  model?: string | null;
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
}

/** A loaded failure and the bookkeeping of one job run over it. */
class TriageContext {
  readonly reused: Stage[] = [];
  readonly attempt: number;
  readonly log: Logger;
  private readonly retryFrom: number;

  constructor(
    readonly deps: TriageDeps,
    readonly run: TriageRun,
    readonly row: FailureRow,
    readonly failure: CiFailure,
  ) {
    // A requested retry numbers its attempts after all earlier ones and re-runs
    // `retry_from_stage` and later stages; earlier stages keep their results.
    this.attempt = row.attempt_base + run.attempt;
    this.retryFrom = row.retry_from_stage ? STAGES.indexOf(row.retry_from_stage as Stage) : -1;
    this.log = deps.logger.child({ failureId: run.failureId, attempt: this.attempt });
  }

  /**
   * Whether the next attempt, after this one's backoff, would start more than `limitMs` after
   * the failure was recorded (about when its delivery arrived).
   */
  retryStartsTooLate(limitMs: number): boolean {
    const recordedAt = (this.row.created_at as unknown as Date).getTime();
    return Date.now() + (this.run.retryDelayMs ?? 0) - recordedAt > limitMs;
  }

  static async load(deps: TriageDeps, run: TriageRun): Promise<TriageContext> {
    const row = await findFailure(deps.db, run.failureId);
    if (!row) throw new FailureNotFoundError(run.failureId);
    const parsed = CiFailure.safeParse(row.data);
    if (!parsed.success) throw new InvalidFailureDataError(run.failureId, parsed.error.issues);
    const context = new TriageContext(deps, run, row, parsed.data);
    // Compare-and-set: a worker that read `queued` before a network partition must not, when its
    // late write lands, turn a failure another worker has since triaged back into `running`.
    if (row.status === 'queued') {
      await deps.db.updateTable('failures').set({ status: 'running', updated_at: sql`now()` }).where('id', '=', run.failureId).where('status', '=', 'queued').execute();
    }
    return context;
  }

  /**
   * Runs one stage as one execution row keyed by (failure, stage, attempt), or returns the
   * output of a stage that already succeeded in this triage round.
   */
  async stage<T>(name: Stage, plan: { runner: string; model: string | null }, body: () => Promise<StageResult<T>>): Promise<T> {
    const { db } = this.deps;
    const minAttempt = this.retryFrom >= 0 && STAGES.indexOf(name) >= this.retryFrom ? this.row.attempt_base : 0;
    const done = await findSucceededExecution(db, this.run.failureId, name, minAttempt);
    if (done) {
      this.reused.push(name);
      return done.output as T;
    }
    // An earlier attempt that died between starting and recording this stage (its worker was
    // killed, or Postgres went away before the result could be written) left its row `running`.
    // Attempt 1 has no earlier attempt, so the common path skips the round trip.
    if (this.attempt > 1) {
      await db
        .updateTable('executions')
        .set({ status: 'failed', error: 'abandoned: that attempt ended without recording a result', finished_at: new Date() })
        .where('failure_id', '=', this.run.failureId)
        .where('stage', '=', name)
        .where('attempt', '<', this.attempt)
        .where('status', '=', 'running')
        .execute();
    }
    // `startedAt` is this run's claim on the row: if another worker takes the same attempt over
    // (this one lost its lock behind a partition), neither run's result is overwritten by the other.
    const startedAt = new Date();
    let executionId: string;
    try {
      executionId = await startExecution(db, { failureId: this.run.failureId, stage: name, attempt: this.attempt, ...plan, startedAt });
    } catch (error) {
      if (!(error instanceof ExecutionAlreadySucceededError)) throw error;
      const other = await findSucceededExecution(db, this.run.failureId, name, minAttempt);
      if (!other) throw error;
      this.reused.push(name);
      return other.output as T;
    }
    const started = performance.now();
    try {
      const result = await body();
      const usage = { durationMs: performance.now() - started, tokensIn: result.tokensIn ?? 0, tokensOut: result.tokensOut ?? 0, costUsd: result.costUsd ?? 0 };
      await finishExecution(db, executionId, {
        status: 'succeeded',
        output: result.output,
        ...(result.runner !== undefined ? { runner: result.runner } : {}),
        ...(result.model !== undefined ? { model: result.model } : {}),
        ...usage,
      }, startedAt);
      this.deps.observer?.execution({
        stage: name,
        runner: result.runner ?? plan.runner,
        model: result.model !== undefined ? result.model : plan.model,
        status: 'succeeded',
        ...usage,
      });
      return result.output;
    } catch (error) {
      const durationMs = performance.now() - started;
      await finishExecution(db, executionId, { status: 'failed', durationMs, error: describeError(error) }, startedAt).catch((recordError) =>
        this.log.error({ err: recordError, stage: name }, 'could not record stage failure'),
      );
      this.deps.observer?.execution({ stage: name, ...plan, status: 'failed', durationMs, tokensIn: 0, tokensOut: 0, costUsd: 0 });
      throw error;
    }
  }
}

/**
 * The classify stage: rules over the failure's names, steps and any log text, then the strategy's
 * choice of runner and model. Reuses a finished classification.
 *
 * @throws {FailureNotFoundError} when the failure does not exist
 */
export async function classifyStage(deps: TriageDeps, run: TriageRun): Promise<{ context: TriageContext; classification: ClassifyOutput }> {
  const context = await TriageContext.load(deps, run);
  const classification = await context.stage<ClassifyOutput>('classify', { runner: 'rules', model: null }, async () => {
    const flaky = await readFlaky(deps, context);
    const { logExcerpt, log, redactions } = await readLog(deps, context, flaky);
    const rules = { ...classifyFailure(context.failure, logExcerpt), ...(flaky ? { flaky } : {}) };
    const grouped = await groupIntoIncident(deps, context, rules.category, logExcerpt);
    const extra = { logExcerpt, ...(log ? { log } : {}), ...(redactions ? { redactions } : {}), ...grouped };
    const { classifier, runners } = deps;
    const llm = runners.llm;
    if (!classifier || !llm || rules.confidence >= classifier.below) {
      return { output: { ...rules, ...runners.choose(rules.category), ...extra } };
    }
    // The rules are unsure: ask the model, under the same budget and breaker as any model call.
    const messages = buildClassifyPrompt(context.failure, rules, logExcerpt);
    const attempt = await guarded(
      deps,
      context,
      { name: 'llm', model: llm.model },
      () => llm.prices.cost(llm.model, estimateTokens(messages.map((m) => m.content).join('\n')) + 300, 300),
      async () => classifier.completeJson(ModelVerdict, 'ci_failure_classification', { messages, maxTokens: 300, signal: run.signal }),
    );
    if (!attempt.ok) {
      context.log.warn({ reason: attempt.reason }, 'model classification unavailable; keeping the rules');
      return { output: { ...rules, ...runners.choose(rules.category), ...extra } };
    }
    const verdict = attempt.value.value;
    const useModel = verdict.confidence > rules.confidence;
    const category = useModel ? verdict.category : rules.category;
    const output: ClassifyOutput = {
      category,
      confidence: useModel ? Math.round(verdict.confidence * 100) / 100 : rules.confidence,
      evidence: [...rules.evidence, { category: verdict.category, source: 'model', text: verdict.reason.slice(0, 200), pattern: 'model' }],
      ...runners.choose(category),
      ...extra,
      ...(flaky ? { flaky } : {}),
      rules: { category: rules.category, confidence: rules.confidence },
      modelVerdict: verdict,
    };
    return {
      output,
      runner: 'llm',
      model: attempt.value.model,
      tokensIn: attempt.value.tokensIn,
      tokensOut: attempt.value.tokensOut,
      costUsd: attempt.value.costUsd,
    };
  });
  await updateFailure(deps.db, run.failureId, { category: classification.category, confidence: classification.confidence });
  return { context, classification };
}

/**
 * The execute and summarize stages on the runner chosen at classify. Model calls pass the
 * failure's budgets and the runner's circuit breaker; when either refuses, or the runner fails on
 * the last attempt, the rules runner stands in and the execution says so (degrade, don't drop).
 *
 * @throws the stage's error (after recording it) so BullMQ retries the job
 */
export async function executeStages(deps: TriageDeps, run: TriageRun, classified?: { context: TriageContext; classification: ClassifyOutput }): Promise<TriageResult> {
  const { context, classification } = classified ?? (await loadClassified(deps, run));
  const { failure, log } = context;
  const { runners } = deps;
  const chosen = runners.runners[classification.runner] ?? runners.fallback;
  const input: RunnerInput = {
    failure,
    classification,
    logExcerpt: classification.logExcerpt,
    model: classification.model,
    signal: run.signal,
  };

  const shared = await leaderExecution(deps, context, classification);
  const execution = await context.stage<ExecuteOutput>('execute', { runner: shared?.runner ?? chosen.name, model: shared?.model ?? classification.model ?? chosen.model }, async () => {
    if (shared) {
      // One breakage, one diagnosis: the incident leader's execution serves this failure too.
      return { output: shared, runner: shared.runner, model: shared.model, tokensIn: 0, tokensOut: 0, costUsd: 0 };
    }
    const attempt = await guarded(deps, context, { name: chosen.name, model: input.model ?? chosen.model }, () => chosen.estimateUsd(input), () => chosen.execute(input));
    if (attempt.ok) {
      const out = attempt.value;
      return {
        output: { runner: chosen.name, model: out.model, markdown: out.markdown },
        runner: chosen.name,
        model: out.model,
        tokensIn: out.tokensIn,
        tokensOut: out.tokensOut,
        costUsd: out.costUsd,
      };
    }
    log.warn({ runner: chosen.name, reason: attempt.reason }, 'runner could not serve; triaging by rules');
    const out = await runners.fallback.execute(input);
    return {
      output: { runner: 'rules', model: null, markdown: out.markdown, fallbackFrom: chosen.name, fallbackReason: attempt.reason },
      runner: 'rules',
      model: null,
    };
  });

  const llm = runners.llm;
  const summary = await context.stage<SummarizeOutput>('summarize', { runner: llm ? 'llm' : 'rules', model: llm?.model ?? null }, async () => {
    const section = extractSummarySection(execution.markdown);
    if (section) return { output: { summary: section, source: 'runner-output' }, runner: 'runner-output', model: null };
    if (llm && !execution.fallbackFrom) {
      const messages = buildSummaryPrompt(execution.markdown);
      const attempt = await guarded(
        deps,
        context,
        { name: 'llm', model: llm.model },
        () => llm.prices.cost(llm.model, estimateTokens(messages.map((m) => m.content).join('\n')), 256),
        async () => {
          const completion = await llm.complete({ messages, maxTokens: 256, signal: run.signal });
          return { ...completion, markdown: completion.text };
        },
      );
      if (attempt.ok && attempt.value.text.trim()) {
        const c = attempt.value;
        return {
          output: { summary: c.text.trim(), source: 'llm' },
          runner: 'llm',
          model: c.model,
          tokensIn: c.tokensIn,
          tokensOut: c.tokensOut,
          costUsd: c.costUsd,
        };
      }
    }
    return { output: { summary: summaryFromRules(failure, classification), source: 'rules' }, runner: 'rules', model: null };
  });

  await updateFailure(deps.db, run.failureId, {
    status: 'triaged',
    runner: execution.runner,
    summary: summary.summary,
    error: null,
    finished_at: new Date(),
    ...(execution.fallbackReason?.startsWith('budget') ? { budget_skipped: true } : {}),
  });
  return {
    category: classification.category,
    confidence: classification.confidence,
    runner: execution.runner,
    summary: summary.summary,
    reused: context.reused,
  };
}

/** Fetches and extracts the failure's log when a log source is configured; never throws. */
async function readLog(
  deps: TriageDeps,
  context: TriageContext,
  flaky: FlakyEvidence | null,
): Promise<{ logExcerpt: string | null; log: ClassifyOutput['log'] | null; redactions?: Record<string, number> }> {
  if (!deps.logs) return { logExcerpt: null, log: null };
  let fetched: FetchedLog;
  try {
    fetched = await deps.logs.fetch(context.failure, context.run.signal);
  } catch (error) {
    // GitHub down or refusing: triage goes on with what the payload has, and says so.
    context.log.warn({ err: error }, 'could not fetch logs; triaging from the payload');
    return { logExcerpt: null, log: { status: 'error', jobId: null, failedSteps: [], bytes: 0, reason: describeError(error) } };
  }
  const { text, ...log } = fetched;
  if (!text) return { logExcerpt: null, log };
  // A passing run of the same job on the same commit lets extraction drop the lines both printed.
  const passLog = flaky ? await deps.logs.passingLog(context.failure, flaky.passed.jobId, context.run.signal).catch(() => null) : null;
  const extracted = extractFailureContext(text, { failedStep: context.failure.failedSteps[0] ?? fetched.failedSteps[0] ?? null, passLog });
  return {
    logExcerpt: extracted.excerpt || null,
    redactions: extracted.redactions,
    log: { ...log, lines: extracted.totalLines, failedStep: extracted.failedStep, ...(passLog ? { comparedWithJobId: flaky!.passed.jobId } : {}) },
  };
}

/** The same job passing on the same commit, when a log source can tell; never throws. */
async function readFlaky(deps: TriageDeps, context: TriageContext): Promise<FlakyEvidence | null> {
  if (!deps.logs) return null;
  try {
    return await deps.logs.findPassingTwin(context.failure, context.run.signal);
  } catch (error) {
    context.log.warn({ err: error }, 'could not look for a passing run of the same job; no flaky evidence');
    return null;
  }
}

/** Signs the breakage and joins its incident, when there is an excerpt to sign. */
async function groupIntoIncident(
  deps: TriageDeps,
  context: TriageContext,
  category: Category,
  logExcerpt: string | null,
): Promise<Pick<ClassifyOutput, 'signature' | 'incident'>> {
  const windowHours = deps.incidentWindowHours ?? 24;
  if (!logExcerpt || windowHours <= 0) return {};
  const signature = failureSignature(category, logExcerpt);
  const { incident } = await joinIncident(deps.db, {
    failureId: context.failure.id,
    owner: context.failure.owner,
    repo: context.failure.repo,
    signature,
    category,
    windowHours,
  });
  return { signature, incident: { id: incident.id, leaderFailureId: incident.leader_failure_id, occurrences: incident.occurrences } };
}

/**
 * For a follower of an incident: the leader's finished execution (to reuse), or
 * {@link LeaderPendingError} while the leader is still at work (up to {@link LEADER_WAIT_MS}).
 * `null` for leaders, failures without incident, and leaders that ended without an execution.
 */
async function leaderExecution(deps: TriageDeps, context: TriageContext, classification: ClassifyOutput): Promise<ExecuteOutput | null> {
  const leaderId = classification.incident?.leaderFailureId;
  if (!leaderId || leaderId === context.failure.id) return null;
  const done = await findSucceededExecution(deps.db, leaderId, 'execute');
  if (done) {
    const output = done.output as ExecuteOutput;
    return { ...output, sharedFrom: leaderId, incidentId: classification.incident!.id };
  }
  const leader = await findFailure(deps.db, leaderId);
  const waited = Date.now() - (context.row.created_at as unknown as Date).getTime();
  if (leader && (leader.status === 'queued' || leader.status === 'running') && waited < LEADER_WAIT_MS) {
    throw new LeaderPendingError(leaderId);
  }
  return null;
}

/** classify → execute → summarize in one go (one job, or tests). */
export async function triageFailure(deps: TriageDeps, run: TriageRun): Promise<TriageResult> {
  return executeStages(deps, run, await classifyStage(deps, run));
}

async function loadClassified(deps: TriageDeps, run: TriageRun) {
  const context = await TriageContext.load(deps, run);
  const done = await findSucceededExecution(deps.db, run.failureId, 'classify');
  if (!done) throw new Error(`failure ${run.failureId} has no classification; its triage job must run first`);
  return { context, classification: done.output as ClassifyOutput };
}

type Guarded<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Runs a paid call behind the budget and the runner's breaker. Free runners (rules) run directly.
 * Returns `{ok: false, reason}` when rules should stand in: budget spent, a budget configured and
 * the model's price unknown (never taken as 0), circuit open, or the call failed and no retry
 * would start before the degrade deadline (or none follows); rethrows a failure when a retry
 * follows in time.
 */
async function guarded<T extends { costUsd: number }>(
  deps: TriageDeps,
  context: TriageContext,
  runner: Pick<Runner, 'name'> & { model?: string | null },
  estimate: () => number | null,
  call: () => Promise<T>,
): Promise<Guarded<T>> {
  if (runner.name === 'rules') return { ok: true, value: await call() };
  const { guards } = deps;
  let reservation;
  if (guards?.budget) {
    const estimateUsd = estimate();
    if (estimateUsd === null) {
      const model = runner.model ?? 'the configured model';
      deps.observer?.unpricedRefused(runner.name, runner.model ?? null);
      return { ok: false, reason: `budget_skipped: the price of ${model} is unknown and a USD budget is set; price it in LLM_PRICES or mark it free in LLM_FREE_MODELS` };
    }
    try {
      reservation = await guards.budget.reserve({ owner: context.failure.owner, repo: context.failure.repo, failureId: context.failure.id }, estimateUsd);
    } catch (error) {
      if (error instanceof BudgetExceededError) {
        deps.observer?.budgetSkipped(runner.name);
        return { ok: false, reason: `budget_skipped: ${error.message}` };
      }
      throw error;
    }
  }
  try {
    const value = guards ? await guards.breakers.get(runner.name).execute(call) : await call();
    await reservation?.settle(value.costUsd);
    return { ok: true, value };
  } catch (error) {
    await reservation?.release();
    if (error instanceof BrokenCircuitError) return { ok: false, reason: `circuit open for runner ${runner.name}` };
    if (context.run.signal.aborted) throw error;
    if (context.run.finalAttempt) return { ok: false, reason: describeError(error) };
    const degradeAfterMs = deps.degradeAfterMs ?? DEGRADE_AFTER_MS;
    if (context.retryStartsTooLate(degradeAfterMs)) {
      return { ok: false, reason: `model unavailable, not waiting for a retry past ${degradeAfterMs} ms after delivery: ${describeError(error)}` };
    }
    throw error;
  }
}

/** `Name: message` of an error and its causes, for rows and logs. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    parts.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(' <- ').slice(0, 2_000);
}

export type { RunnerOutput };
