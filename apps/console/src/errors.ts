import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * An HTTP error of the console whose response body is JSON `{error, reason}`: `error` a stable
 * machine code (`bad_request`, `not_found`, `conflict`, `unauthorized`, `csrf`, …), `reason` a
 * sentence for the person reading it. `createConsoleApp`'s `onError` renders it.
 */
export class ConsoleError extends HTTPException {
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
