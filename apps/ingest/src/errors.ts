import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * An HTTP error whose response body is JSON `{error, reason}`: `error` a stable machine code
 * (`bad_signature`, `payload_too_large`, …), `reason` a sentence for the person reading it.
 */
export class IngestError extends HTTPException {
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
