import { redactSecrets } from './redact.ts';

/** Where a text leaves pitcrew for: a model, a coding agent, a publishing sink (check runs, PR comments, issues, Slack), an admin API reader. */
export type Destination = 'model' | 'agent' | 'publish' | 'admin-api';

/** Told of every text that had secrets replaced on its way out: per rule, how many. */
export type RedactionListener = (destination: Destination, redactions: Record<string, number>) => void;

const listeners = new Set<RedactionListener>();

/**
 * Subscribes to the redactions made at the outgoing boundary (the worker's
 * `pitcrew_redactions_total{destination,rule}` metric).
 *
 * @returns a function that unsubscribes
 */
export function onOutgoingRedactions(listener: RedactionListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The outgoing-text boundary: every text that leaves pitcrew (model prompts, agent prompts,
 * what is published to GitHub and Slack, excerpts served by the admin API) passes here, and only
 * here is it decided how: secrets are replaced by `[REDACTED:<rule>]` ({@link redactSecrets})
 * and the replacements are counted per destination and rule. Prompt builders still fence
 * untrusted text; they no longer need to redact it themselves.
 *
 * @returns the text as it may leave, and the replacements per rule
 */
export function toOutgoing(text: string, destination: Destination): { text: string; redactions: Record<string, number> } {
  const result = redactSecrets(text);
  if (listeners.size > 0 && Object.keys(result.redactions).length > 0) {
    for (const listener of listeners) {
      try {
        listener(destination, result.redactions);
      } catch {
        // A metrics listener never stops a text from leaving redacted.
      }
    }
  }
  return result;
}

/**
 * {@link toOutgoing} over every string inside a JSON value (objects, arrays), keys untouched: for
 * stored outputs served as JSON, where redacting the serialised text could cut through escapes.
 */
export function toOutgoingJson<T>(value: T, destination: Destination): T {
  if (typeof value === 'string') return toOutgoing(value, destination).text as T;
  if (Array.isArray(value)) return value.map((v) => toOutgoingJson(v, destination)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toOutgoingJson(v, destination)])) as T;
  }
  return value;
}
