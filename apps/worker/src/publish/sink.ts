import { RequestError } from '@octokit/request-error';
import type { Transaction } from 'kysely';
import type { Database, Logger, PublicationOutcome, PublicationRow, SinkName } from '@pitcrew/core';
import type { PitcrewOctokit } from '../github/github-api.ts';
import type { PublishContent } from './content.ts';

/** What a sink gets for one publish attempt of one failure. */
export interface SinkInput {
  content: PublishContent;
  /** This sink's `publications` row before the attempt (locked): the ids of what it made before. */
  previous: PublicationRow;
  /** The transaction holding that lock, for further locks (the incident of an escalation). */
  trx: Transaction<Database>;
  /** Octokit for the failure's installation; `null` without one (App auth and no installation id). */
  octokit: PitcrewOctokit | null;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * One place triage results go. `publish` must be idempotent: given the row of a previous attempt
 * it updates the object that attempt made instead of creating another.
 *
 * @throws {PermanentPublishError} when retrying cannot help (refused, misconfigured)
 * @throws any other error for a retry with backoff
 */
export interface Sink {
  name: SinkName;
  publish(input: SinkInput): Promise<PublicationOutcome>;
}

/** A refusal that retrying will not change (403 permissions, 404 repository, 422 payload). */
export class PermanentPublishError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentPublishError';
  }
}

/**
 * Octokit errors that no retry will fix become {@link PermanentPublishError}: 401, 403 (missing
 * permission; rate limits are 403/429 too but the throttling plugin waits those out first), 404,
 * 410 and 422. Anything else (5xx, network) is rethrown for a retry.
 */
export function asPublishError(error: unknown, what: string): unknown {
  if (error instanceof RequestError && [401, 403, 404, 410, 422].includes(error.status)) {
    return new PermanentPublishError(`${what}: GitHub answered ${error.status} ${error.message}`, { cause: error });
  }
  return error;
}

/** True for a 404 or 410: the object we made before is gone (deleted comment or issue). */
export function isGone(error: unknown): boolean {
  return error instanceof RequestError && (error.status === 404 || error.status === 410);
}
