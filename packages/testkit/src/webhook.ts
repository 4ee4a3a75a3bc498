import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';

/** Options of {@link signedWebhookRequest}. */
export interface SignedWebhookOptions {
  /** `X-GitHub-Delivery`; default a new UUID. */
  deliveryId?: string;
  /** The body as sent; default `JSON.stringify(payload)`. */
  body?: string;
  /** Default `application/json`. */
  contentType?: string;
  /** `X-Hub-Signature-256` as sent; default the body's signature under the secret, `''` for none. */
  signature?: string;
}

/**
 * A GitHub webhook delivery as `fetch`/`app.request` init: POST, the body, `Content-Type`,
 * `X-GitHub-Event`, `X-GitHub-Delivery` and `X-Hub-Signature-256` (`@octokit/webhooks-methods`'
 * `sign`, as GitHub signs: HMAC-SHA256 of the body).
 */
export async function signedWebhookRequest(secret: string, event: string, payload: unknown, options: SignedWebhookOptions = {}): Promise<RequestInit & { headers: Record<string, string>; body: string }> {
  const body = options.body ?? JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/json', 'x-github-event': event, 'x-github-delivery': options.deliveryId ?? randomUUID() };
  const signature = options.signature ?? (await sign(secret, body));
  if (signature) headers['x-hub-signature-256'] = signature;
  return { method: 'POST', headers, body };
}
