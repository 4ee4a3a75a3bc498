import { describeIssues, type ShapeIssue } from '@pitcrew/core';

/**
 * Every error the worker's stages and guards throw on purpose, and how the retry policy
 * (`jobs/retry-policy.ts`) treats each:
 *
 * | error | retry policy |
 * |---|---|
 * | {@link FailureNotFoundError} | unrecoverable: the job fails at once |
 * | {@link InvalidFailureDataError} | unrecoverable, and the failure is marked `failed` |
 * | {@link LeaderPendingError} | delayed: back to the queue without using an attempt |
 * | {@link RateLimitedError} | the runner's queue is rate-limited for `retryAfterMs`, the job waits without using an attempt |
 * | {@link BudgetExceededError} | never reaches a job: the guard turns it into a rules fallback |
 * | anything else | backoff, then `failed` on the last attempt |
 */

/**
 * Thrown when a job names a failure that is not in Postgres (deleted, or a job from another
 * database). Retrying cannot help.
 */
export class FailureNotFoundError extends Error {
  constructor(readonly failureId: string) {
    super(`failure ${failureId} is not in the database`);
    this.name = 'FailureNotFoundError';
  }
}

/**
 * Thrown when stored data (a failure row's `data`, a stage's stored output, carried job data) does
 * not parse as this release's schema (written by an older or newer release). Retrying cannot
 * help: the failure is marked `failed` with this message at once.
 */
export class InvalidFailureDataError extends Error {
  constructor(
    readonly failureId: string,
    issues: readonly ShapeIssue[],
    what = 'failure',
  ) {
    super(`${what} ${failureId} was stored in a shape this worker cannot read (${describeIssues(issues)})`);
    this.name = 'InvalidFailureDataError';
  }
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

/**
 * Thrown when a runner's server answered 429 with a `Retry-After` the job can wait for: every
 * worker of that runner's queue pauses for `retryAfterMs` (BullMQ `Queue#rateLimit`), and the
 * job goes back to wait without using an attempt.
 */
export class RateLimitedError extends Error {
  constructor(
    readonly runner: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(`runner ${runner} is rate-limited for ${retryAfterMs} ms`, options);
    this.name = 'RateLimitedError';
  }
}

/** Thrown when a model call would exceed a budget; the guard triages by rules instead. */
export class BudgetExceededError extends Error {
  constructor(readonly scope: string, readonly limitUsd: number, readonly wouldSpendUsd: number) {
    super(`budget ${scope} of ${limitUsd} USD would be exceeded (${wouldSpendUsd.toFixed(6)} USD with this call)`);
    this.name = 'BudgetExceededError';
  }
}

/** `Name: message` of an error and its causes (at most four deep, 2,000 characters), for rows and logs. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    parts.push(current instanceof Error ? `${current.name}: ${current.message}` : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(' <- ').slice(0, 2_000);
}
