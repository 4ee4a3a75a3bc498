import type { CiFailure, Classification, RunnerName } from '@pitcrew/core';

/** What the execute stage hands a runner. */
export interface RunnerInput {
  failure: CiFailure;
  classification: Classification;
  /** Log lines that explain the failure, when known (bounded by the caller). */
  logExcerpt: string | null;
  /** Model the strategy chose for this failure; `null` = the runner's default. */
  model: string | null;
  /** Aborted when the job is cancelled or the worker shuts down. */
  signal: AbortSignal;
  /** The failure's fix-loop TensorZero episode (`loopEpisodeId`), for runners behind a TensorZero gateway. */
  episodeId?: string;
}

/** A runner's result: markdown with `## Diagnosis`, `## Investigation plan`, `## Summary`. */
export interface RunnerOutput {
  markdown: string;
  /** Model that answered, `null` for runners without one. */
  model: string | null;
  /** Tokens as reported by the model server or the agent (or estimated, see `usageReported`). */
  tokensIn: number;
  tokensOut: number;
  usageReported: boolean;
  /** USD from the price book (0 when the model is unpriced and no budget applies), or as the agent reported it. */
  costUsd: number;
  /** TensorZero's inference and episode ids of the call, when its gateway answered it (for outcome feedback). */
  inferenceId?: string | null;
  episodeId?: string | null;
}

/** A way to execute a triage: `rules`, `llm`, `agent`. */
export interface Runner {
  readonly name: RunnerName;
  /** The model it uses by default, for the execution row before it answers. */
  readonly model: string | null;
  /**
   * USD this call may cost at most, for the budget check before it runs (0 for free runners);
   * `null` when the price of its model is unknown (then a configured USD budget refuses the call).
   */
  estimateUsd(input: RunnerInput): number | null;
  execute(input: RunnerInput): Promise<RunnerOutput>;
}
