import { APIConnectionError, APIError, APIUserAbortError } from 'openai';

/**
 * A model call that failed after the SDK's own retries. `retryable` tells the worker whether a
 * later attempt may succeed (429, 408, 409, 5xx, connection errors, timeouts) or not (400, 401,
 * 403, 404, 422, an abort).
 */
export class LlmError extends Error {
  readonly status: number | undefined;
  /** ms the server asked us to wait (`retry-after-ms`, `retry-after` seconds or HTTP date). */
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
  constructor(
    message: string,
    details: { status?: number | undefined; retryAfterMs?: number | undefined; retryable: boolean; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
    this.name = 'LlmError';
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.retryable = details.retryable;
  }
}

/** Retry-After of a response as ms, or `undefined`. Source: RFC 9110 §10.2.3. */
export function parseRetryAfter(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && !Number.isNaN(Number(ms))) return Number(ms);
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (!Number.isNaN(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Maps whatever the SDK threw to an {@link LlmError} (an `LlmError` passes through). */
export function toLlmError(error: unknown): LlmError {
  if (error instanceof LlmError) return error;
  if (error instanceof APIUserAbortError) {
    return new LlmError('model call aborted', { retryable: false, cause: error });
  }
  if (error instanceof APIConnectionError) {
    // Includes APIConnectionTimeoutError.
    return new LlmError(`model server unreachable or too slow: ${error.message}`, { retryable: true, cause: error });
  }
  if (error instanceof APIError) {
    const status = error.status;
    const retryable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    return new LlmError(`model server answered ${status ?? 'an error'}: ${error.message}`, {
      status,
      retryAfterMs: parseRetryAfter(error.headers as Headers | undefined),
      retryable,
      cause: error,
    });
  }
  return new LlmError(`model call failed: ${(error as Error)?.message ?? String(error)}`, { retryable: true, cause: error });
}
