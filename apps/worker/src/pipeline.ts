import {
  classifyFailure,
  extractSummarySection,
  buildSummaryPrompt,
  summaryFromRules,
  CiFailure,
  findFailure,
  findSucceededExecution,
  finishExecution,
  startExecution,
  updateFailure,
  STAGES,
  type Category,
  type Classification,
  type Database,
  type Logger,
  type Stage,
} from '@pitcrew/core';
import type { Kysely } from 'kysely';
import type { RunnerRegistry } from './runners/registry.ts';

/** Output of the classify stage, as stored in `executions.output`. */
export type ClassifyOutput = Classification;

/** Output of the execute stage. */
export interface ExecuteOutput {
  runner: string;
  model: string | null;
  markdown: string;
  /** Set when the primary runner failed on the last attempt and rules stood in. */
  fallbackFrom?: string;
  fallbackReason?: string;
}

/** Output of the summarize stage; `source` says where the summary came from. */
export interface SummarizeOutput {
  summary: string;
  source: 'runner-output' | 'llm' | 'rules';
}

/** Dependencies of {@link triageFailure}. */
export interface TriageDeps {
  db: Kysely<Database>;
  runners: RunnerRegistry;
  logger: Logger;
}

/** One run of the pipeline for one failure. */
export interface TriageRun {
  failureId: string;
  /** 1-based attempt of the job (BullMQ `attemptsMade + 1`). */
  attempt: number;
  /** True when no retry follows a failure of this attempt. */
  finalAttempt: boolean;
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
 * Runs classify → execute → summarize for one failure. Each stage is recorded as its own
 * execution row keyed by (failure, stage, attempt); a stage that already succeeded in any attempt
 * is not run again, its stored output is reused, so a retry resumes at the failed stage.
 *
 * @throws {FailureNotFoundError} when the failure does not exist
 * @throws the stage's error (after recording it) so BullMQ retries the job
 */
export async function triageFailure(deps: TriageDeps, run: TriageRun): Promise<TriageResult> {
  const { db } = deps;
  const row = await findFailure(db, run.failureId);
  if (!row) throw new FailureNotFoundError(run.failureId);
  const failure = CiFailure.parse(row.data);
  const reused: Stage[] = [];
  // A requested retry numbers its attempts after all earlier ones and re-runs `retry_from_stage`
  // and later stages; earlier stages keep their results.
  const attempt = row.attempt_base + run.attempt;
  const retryFrom = row.retry_from_stage ? STAGES.indexOf(row.retry_from_stage as Stage) : -1;
  const minAttemptFor = (name: Stage) => (retryFrom >= 0 && STAGES.indexOf(name) >= retryFrom ? row.attempt_base : 0);
  const log = deps.logger.child({ failureId: run.failureId, attempt });
  if (row.status === 'queued') await updateFailure(db, run.failureId, { status: 'running' });

  const stage = async <T>(
    name: Stage,
    plan: { runner: string; model: string | null },
    body: () => Promise<{ output: T; runner?: string; model?: string | null; tokensIn?: number; tokensOut?: number; costUsd?: number }>,
  ): Promise<T> => {
    const done = await findSucceededExecution(db, run.failureId, name, minAttemptFor(name));
    if (done) {
      reused.push(name);
      return done.output as T;
    }
    const executionId = await startExecution(db, {
      failureId: run.failureId,
      stage: name,
      attempt,
      runner: plan.runner,
      model: plan.model,
    });
    const started = performance.now();
    try {
      const result = await body();
      await finishExecution(db, executionId, {
        status: 'succeeded',
        durationMs: performance.now() - started,
        output: result.output,
        ...(result.runner !== undefined ? { runner: result.runner } : {}),
        ...(result.model !== undefined ? { model: result.model } : {}),
        tokensIn: result.tokensIn ?? 0,
        tokensOut: result.tokensOut ?? 0,
        costUsd: result.costUsd ?? 0,
      });
      log.debug({ stage: name, ms: Math.round(performance.now() - started) }, 'stage finished');
      return result.output;
    } catch (error) {
      await finishExecution(db, executionId, {
        status: 'failed',
        durationMs: performance.now() - started,
        error: describeError(error),
      }).catch((recordError) => log.error({ err: recordError, stage: name }, 'could not record stage failure'));
      throw error;
    }
  };

  const classification = await stage<ClassifyOutput>('classify', { runner: 'rules', model: null }, async () => ({
    output: classifyFailure(failure),
  }));
  await updateFailure(db, run.failureId, {
    category: classification.category,
    confidence: classification.confidence,
  });

  const { primary, fallback, llm } = deps.runners;
  const execution = await stage<ExecuteOutput>('execute', { runner: primary.name, model: primary.model }, async () => {
    const input = { failure, classification, logExcerpt: null, signal: run.signal };
    try {
      const out = await primary.execute(input);
      return {
        output: { runner: primary.name, model: out.model, markdown: out.markdown },
        runner: primary.name,
        model: out.model,
        tokensIn: out.tokensIn,
        tokensOut: out.tokensOut,
        costUsd: out.costUsd,
      };
    } catch (error) {
      // Degrade, don't drop: on the last attempt the rules runner stands in.
      if (!run.finalAttempt || primary === fallback || run.signal.aborted) throw error;
      log.warn({ err: error, runner: primary.name }, 'runner failed on the last attempt; falling back to rules');
      const out = await fallback.execute(input);
      return {
        output: {
          runner: fallback.name,
          model: null,
          markdown: out.markdown,
          fallbackFrom: primary.name,
          fallbackReason: describeError(error),
        },
        runner: fallback.name,
        model: null,
      };
    }
  });

  const summary = await stage<SummarizeOutput>(
    'summarize',
    { runner: llm ? 'llm' : 'rules', model: llm?.model ?? null },
    async () => {
      const section = extractSummarySection(execution.markdown);
      if (section) return { output: { summary: section, source: 'runner-output' }, runner: 'runner-output', model: null };
      if (llm) {
        try {
          const completion = await llm.complete({ messages: buildSummaryPrompt(execution.markdown), signal: run.signal });
          const text = completion.text.trim();
          if (text) {
            return {
              output: { summary: text, source: 'llm' },
              runner: 'llm',
              model: completion.model,
              tokensIn: completion.tokensIn,
              tokensOut: completion.tokensOut,
              costUsd: completion.costUsd,
            };
          }
        } catch (error) {
          if (!run.finalAttempt) throw error;
          log.warn({ err: error }, 'summary model failed on the last attempt; summarizing by rules');
        }
      }
      return { output: { summary: summaryFromRules(failure, classification), source: 'rules' }, runner: 'rules', model: null };
    },
  );

  await updateFailure(db, run.failureId, {
    status: 'triaged',
    runner: execution.runner,
    summary: summary.summary,
    error: null,
    finished_at: new Date(),
  });
  return {
    category: classification.category,
    confidence: classification.confidence,
    runner: execution.runner,
    summary: summary.summary,
    reused,
  };
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
