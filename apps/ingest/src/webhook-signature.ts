import type { MiddlewareHandler } from 'hono';
import { verifyWithFallback } from '@octokit/webhooks-methods';
import type { Logger } from 'pino';
import { IngestError } from './errors.ts';
import { readRawBody } from './raw-body.ts';

/** Options of {@link verifyGithubSignature}. */
export interface SignatureOptions {
  /** Accepted secrets; the first is current, the rest are older ones kept during rotation. */
  secrets: string[];
  /** Largest body accepted, in bytes; the body is read with this limit (see {@link readRawBody}). */
  maxBodyBytes: number;
  /** Told about signatures that do not match, with what the operator should check. */
  logger: Logger;
}

/** What {@link verifyGithubSignature} sets for the handlers after it (`c.get('rawBody')`). */
export interface SignatureVariables {
  /** The verified body as text (UTF-8). */
  rawBody: string;
  /** The verified body's bytes, exactly as received. */
  rawBytes: Buffer;
}

/** 401 `missing_signature`: the delivery has no `X-Hub-Signature-256`, so its webhook has no secret. */
export function missingSignature(): IngestError {
  return new IngestError(401, 'missing_signature', 'X-Hub-Signature-256 header is missing; set a secret on the GitHub webhook');
}

/**
 * Middleware that reads the raw body and verifies GitHub's `X-Hub-Signature-256` (HMAC-SHA256 of
 * the exact bytes, GitHub docs, "Validating webhook deliveries") before anything parses it, with
 * `@octokit/webhooks-methods`' `verifyWithFallback`: the current secret first, then each older
 * one, constant-time compares after the `sha256=` prefix and length checks.
 *
 * Answers (as {@link IngestError}): 401 `missing_signature` without the header, 413
 * `payload_too_large` over `maxBodyBytes`, 400 `empty_body`, 401 `bad_signature` when no secret
 * matches (also for `sha1=` signatures). On success `c.get('rawBody')` holds the body as text and `c.get('rawBytes')` its bytes.
 *
 * @throws {Error} at construction when no secret is given
 */
export function verifyGithubSignature(options: SignatureOptions): MiddlewareHandler<{ Variables: SignatureVariables }> {
  const [secret, ...olderSecrets] = options.secrets;
  if (!secret) throw new Error('verifyGithubSignature needs at least one secret');
  const { logger, maxBodyBytes } = options;
  return async function githubSignature(c, next) {
    const signature = c.req.header('x-hub-signature-256');
    if (!signature) throw missingSignature();
    const bytes = await readRawBody(c, maxBodyBytes);
    if (bytes.length === 0) throw new IngestError(400, 'empty_body', 'body is empty');
    const raw = bytes.toString('utf8');
    if (!(await verifyWithFallback(secret, raw, signature, olderSecrets))) {
      logger.warn(
        { deliveryId: c.req.header('x-github-delivery'), event: c.req.header('x-github-event') },
        'webhook signature does not match; verify that GITHUB_WEBHOOK_SECRET matches the secret configured on the GitHub webhook',
      );
      throw new IngestError(401, 'bad_signature', 'X-Hub-Signature-256 does not match the body for any configured secret');
    }
    c.set('rawBody', raw);
    c.set('rawBytes', bytes);
    await next();
  };
}
