import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { CiFailure, Database, ExecutionKey, ExecutionResult, FailureUpdate, Logger, Stage } from '@pitcrew/core';
import type { GithubApi } from '../github/github-api.ts';
import type { LogSource } from '../github/log-source.ts';
import type { Guards } from '../guards/guarded.ts';
import type { PipelineObserver } from '../metrics.ts';
import type { RunnerRegistry } from '../runners/registry.ts';
import type { ModelClassifier } from './classify.ts';
import type { FixDeps } from './fix.ts';

/**
 * The stage contract. A stage is one unit of triage with one execution row per attempt:
 * - `name`, one of `STAGES` (`@pitcrew/core`);
 * - `output`, the zod schema of what it stores in `executions.output`: an output read back (a
 *   stage reused from an earlier attempt, a later stage reading it) is parsed with it, never cast;
 * - `needs`, the earlier stages whose outputs it reads, handed to it parsed;
 * - `plan`, the runner and model its execution row names before it runs;
 * - `run`, the work, which returns the output, the tokens and USD it spent and, optionally, the
 *   failure's own change (folded into the execution's final write).
 *
 * The stage runner (`runner.ts`) owns everything around `run`: reuse of a succeeded stage, the
 * abandoned-row sweep, the claim, timing and metrics. Stage code imports no queue library: it is
 * called by the job processors in `jobs/` and by tests alike.
 */
export interface StageDefinition<Out, Needs> {
  readonly name: Stage;
  readonly output: z.ZodType<Out>;
  readonly needs: readonly Stage[];
  plan(scope: TriageScope, needs: Needs, deps: StageDeps): { runner: string; model: string | null };
  run(scope: TriageScope, needs: Needs, deps: StageDeps): Promise<StageResult<Out>>;
}

/** What one run of a stage produced. Tokens as the model reported them, USD from the price book. */
export interface StageResult<Out> {
  output: Out;
  /** Who actually served it, when not the planned runner (a fallback, a reused execution). */
  runner?: string;
  model?: string | null;
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
  /** TensorZero's ids of the stage's model call, stored on the execution for the loop's outcome feedback. */
  inferenceId?: string | null;
  episodeId?: string | null;
  /** The failure's own change, written in the same statement as the execution. */
  failure?: FailureUpdate;
}

/** Dependencies of the stages. */
export interface StageDeps {
  db: Kysely<Database>;
  runners: RunnerRegistry;
  logger: Logger;
  guards?: Guards;
  /**
   * ms after a failure was recorded past which a failing model call is not retried: rules stand
   * in at once when the next attempt would start later than this (default `DEGRADE_AFTER_MS`).
   * A model that fails once, early, still gets its retry.
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
  /** The fix loop's policy, fixers and sandbox; unset when `PITCREW_FIX=off`. */
  fix?: FixDeps;
  /** GitHub clients (installation tokens for the fix's checkout and push); unset without a credential. */
  github?: GithubApi;
}

/** One run of a job for one failure, as the processor hands it to the stages. */
export interface TriageRun {
  failureId: string;
  /** 1-based attempt of the job (BullMQ `attemptsMade + 1`). */
  attempt: number;
  /** True when no retry follows a failure of this attempt. */
  finalAttempt: boolean;
  /** ms BullMQ waits before the next attempt when this one fails (its backoff); 0 when unknown. */
  retryDelayMs?: number;
  /**
   * True when this attempt ran before: a stalled job picked up again, one handed back at
   * shutdown, one delayed for its incident leader or a rate limit (BullMQ `attemptsStarted >
   * attemptsMade + 1`). Stages then look for their own earlier result first.
   */
  resumed?: boolean;
  signal: AbortSignal;
}

/**
 * The failure a job works on and the bookkeeping of this run over it: the execution attempt
 * (`attempt_base + run.attempt`: a requested retry numbers its attempts after all earlier ones),
 * which stages re-run in this round, the stages reused from earlier attempts.
 */
export class TriageScope {
  readonly reused: Stage[] = [];
  /** Rules executions finished in this run and not yet written, with the failure's merged patch (see `flushRecorded`). */
  readonly pending: { key: ExecutionKey; result: ExecutionResult }[] = [];
  pendingFailure: FailureUpdate | null = null;
  readonly attempt: number;
  readonly log: Logger;

  constructor(
    readonly run: TriageRun,
    readonly failure: CiFailure,
    readonly round: {
      /** `failures.attempt_base`: executions of this round have `attempt > attemptBase`. */
      attemptBase: number;
      /** Stage a requested retry re-runs from (it and later ones); `null` = none. */
      retryFromStage: Stage | null;
      /** When the failure was recorded (about when its delivery arrived). */
      recordedAt: Date;
      /** A requested retry for the strong model (`/pitcrew explain`, `failures.retry_model`): classify chooses it. */
      strongModel?: boolean;
    },
    logger: Logger,
  ) {
    this.attempt = round.attemptBase + run.attempt;
    this.log = logger.child({ failureId: run.failureId, attempt: this.attempt });
  }

  get failureId(): string {
    return this.run.failureId;
  }

  /**
   * Whether the next attempt, `delayMs` from now (default: this one's backoff), would start
   * more than `limitMs` after the failure was recorded.
   */
  retryStartsTooLate(limitMs: number, delayMs = this.run.retryDelayMs ?? 0): boolean {
    return Date.now() + delayMs - this.round.recordedAt.getTime() > limitMs;
  }
}
