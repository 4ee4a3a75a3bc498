import type { Env, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';

/**
 * An HTTP error whose response body is JSON `{error, reason}`: `error` a stable machine code
 * (`bad_signature`, `payload_too_large`, `not_found`, …), `reason` a sentence for the person
 * reading it. {@link answerJsonErrors} renders it. Each process names its own subclass
 * ({@link IngestError}, the console's `ConsoleError`).
 */
export class JsonError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    reason: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(status, { message: reason, cause: options?.cause });
    this.headers = options?.headers;
  }
  readonly headers: Record<string, string> | undefined;
}

/** An error of ingest's routes (`bad_signature`, `payload_too_large`, `queue_unavailable`, …). */
export class IngestError extends JsonError {}

/**
 * Sets `app`'s not-found and error handlers so that every error answer is JSON `{error, reason}`:
 * 404 `not_found` naming the method and path; a {@link JsonError} as its status, code and headers;
 * hono's own `HTTPException` (the bearer-auth middleware's) as `unauthorized` for a 401, else
 * `http_error`, with its response's headers (e.g. `WWW-Authenticate`); anything else logged and
 * answered 500 `internal`, pointing at `logs` (e.g. "the ingest logs").
 */
export function answerJsonErrors<E extends Env>(app: Hono<E>, logger: Logger, logs: string): void {
  app.notFound((c) => c.json({ error: 'not_found', reason: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    if (error instanceof JsonError) return c.json({ error: error.code, reason: error.message }, error.status, error.headers);
    if (error instanceof HTTPException) {
      const res = error.getResponse();
      return c.json(
        { error: res.status === 401 ? 'unauthorized' : 'http_error', reason: error.message || res.statusText },
        error.status,
        Object.fromEntries(res.headers),
      );
    }
    logger.error({ err: error, path: c.req.path }, 'unhandled error');
    return c.json({ error: 'internal', reason: `internal error; see ${logs}` }, 500);
  });
}
