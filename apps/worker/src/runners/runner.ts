import type { CiFailure, Classification } from '@pitcrew/core';

/** What the execute stage hands a runner. */
export interface RunnerInput {
  failure: CiFailure;
  classification: Classification;
  /** Log lines that explain the failure, when known (bounded by the caller). */
  logExcerpt: string | null;
  /** Aborted when the job is cancelled or the worker shuts down. */
  signal: AbortSignal;
}

/** A runner's result: markdown with `## Diagnosis`, `## Investigation plan`, `## Summary`. */
export interface RunnerOutput {
  markdown: string;
  /** Model that answered, `null` for runners without one. */
  model: string | null;
  /** Tokens as reported by the model server (or estimated, see `usageReported`). */
  tokensIn: number;
  tokensOut: number;
  usageReported: boolean;
  /** USD from the price table. */
  costUsd: number;
}

/** A way to execute a triage: `rules`, `llm`, later a coding agent. */
export interface Runner {
  readonly name: string;
  /** The model it will use, for the execution row before it answers. */
  readonly model: string | null;
  execute(input: RunnerInput): Promise<RunnerOutput>;
}
