import type { MiddlewareHandler } from 'hono';
import { IngestError } from './errors.ts';
import { missingSignature } from './webhook-signature.ts';

/** The content types a GitHub webhook can be configured with (GitHub docs, "Creating webhooks"). */
export const WEBHOOK_CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded'] as const;

/**
 * Checks a delivery's headers before its body is read, in this order:
 * 1. `Content-Type` is one of {@link WEBHOOK_CONTENT_TYPES} (parameters such as `charset` aside),
 *    else 415 `unsupported_media_type`;
 * 2. `X-Hub-Signature-256` is present, else 401 `missing_signature` (the webhook has no secret);
 * 3. `X-GitHub-Event` and `X-GitHub-Delivery` are present, else 400 `missing_header`.
 *
 * @param header reads a request header by lower-case name
 * @throws {IngestError} as above
 */
export function checkWebhookHeaders(header: (name: string) => string | undefined): void {
  const type = (header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (!(WEBHOOK_CONTENT_TYPES as readonly string[]).includes(type)) {
    throw new IngestError(
      415,
      'unsupported_media_type',
      `content type ${type || '(none)'} is not supported; configure the webhook with application/json`,
    );
  }
  if (!header('x-hub-signature-256')) throw missingSignature();
  for (const name of ['x-github-event', 'x-github-delivery']) {
    if (!header(name)) throw new IngestError(400, 'missing_header', `${name} header is missing`);
  }
}

/** {@link checkWebhookHeaders} as a Hono middleware. */
export const webhookHeaders: MiddlewareHandler = async function webhookHeaders(c, next) {
  checkWebhookHeaders((name) => c.req.header(name));
  await next();
};
