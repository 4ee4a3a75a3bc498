import { IngestError } from './errors.ts';

/**
 * The JSON text of a webhook body: the body itself, or the `payload` field of a form-encoded body
 * (GitHub's other content type option, GitHub docs, "Creating webhooks":
 * `application/x-www-form-urlencoded` sends `payload=<json>`).
 * @throws {IngestError} 400 `malformed_body` for a form body without `payload`
 */
export function webhookJsonText(raw: string, contentType: string): string {
  if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) return raw;
  const payload = new URLSearchParams(raw).get('payload');
  if (payload === null) throw new IngestError(400, 'malformed_body', 'form body has no payload field');
  return payload;
}

/**
 * The JSON object of a webhook body's JSON text (see {@link webhookJsonText}).
 * @throws {IngestError} 400 `malformed_json` when it is not JSON, `malformed_body` when not an object
 */
export function parseWebhookJson(text: string): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new IngestError(400, 'malformed_json', `body is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new IngestError(400, 'malformed_body', 'body must be a JSON object');
  }
  return parsed;
}
