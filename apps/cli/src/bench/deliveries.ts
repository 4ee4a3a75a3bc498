import { sign } from '@octokit/webhooks-methods';
import { CI_EVENTS, isIgnored, normalizeGithubEvent } from '@pitcrew/core';
import { loadWebhookExamples } from '../demo-deliveries.ts';

/** One request autocannon sends; `[<id>]` in the delivery header becomes a unique id per request. */
export interface BenchRequest {
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** The two delivery mixes of `bench ingest`. */
export interface DeliveryMixes {
  /** Failure deliveries only (each of the four CI events). */
  failures: BenchRequest[];
  /** 19 non-failures for every failure, as an organisation's stream mostly is. */
  mix: BenchRequest[];
  /** How many distinct example payloads each mix cycles through. */
  counts: { failures: number; nonFailures: number };
}

/** Non-failures per failure in the realistic mix (about 1 failure in 20 deliveries). */
export const MIX_NON_FAILURES_PER_FAILURE = 19;

/**
 * Signed requests built from GitHub's example deliveries (`@octokit/webhooks-examples`): every
 * example of `check_run`, `check_suite`, `workflow_run` and `workflow_job` that pitcrew ignores
 * (queued, in progress, success, neutral, …) is a non-failure; the failures are the failed
 * `check_run` and `workflow_job` examples plus a completed `workflow_run` and `check_suite` with
 * the conclusion set to `failure` (the package has none of those two). Each body is signed once
 * with `secret` (the delivery id is a header, outside the signature); autocannon's
 * `idReplacement` gives every request a unique `X-GitHub-Delivery`.
 *
 * @throws {Error} when the examples package lacks a needed example
 */
export async function buildDeliveryMixes(secret: string, path = '/webhooks/github'): Promise<DeliveryMixes> {
  const examples = loadWebhookExamples();
  const failures: { event: string; payload: unknown }[] = [];
  const nonFailures: { event: string; payload: unknown }[] = [];
  for (const event of CI_EVENTS) {
    for (const payload of examples.get(event) ?? []) {
      (isIgnored(normalizeGithubEvent(event, payload)) ? nonFailures : failures).push({ event, payload });
    }
  }
  for (const event of ['workflow_run', 'check_suite'] as const) {
    const completed = (examples.get(event) ?? []).find((e) => e.action === 'completed' && e[event]?.conclusion === 'success');
    if (!completed) throw new Error(`@octokit/webhooks-examples has no completed ${event}`);
    const failed = structuredClone(completed);
    failed[event].conclusion = 'failure';
    failures.push({ event, payload: failed });
  }
  if (failures.length === 0 || nonFailures.length === 0) throw new Error('no example deliveries found');
  const toRequest = async ({ event, payload }: { event: string; payload: unknown }): Promise<BenchRequest> => {
    const body = JSON.stringify(payload);
    return {
      method: 'POST',
      path,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/bench',
        'x-github-event': event,
        'x-github-delivery': '[<id>]',
        'x-hub-signature-256': await sign(secret, body),
      },
      body,
    };
  };
  const failureRequests = await Promise.all(failures.map(toRequest));
  const nonFailureRequests = await Promise.all(nonFailures.map(toRequest));
  const mix: BenchRequest[] = [];
  let n = 0;
  for (const failure of failureRequests) {
    for (let i = 0; i < MIX_NON_FAILURES_PER_FAILURE; i++) mix.push(nonFailureRequests[n++ % nonFailureRequests.length]!);
    mix.push(failure);
  }
  return {
    failures: failureRequests,
    mix,
    counts: { failures: failureRequests.length, nonFailures: nonFailureRequests.length },
  };
}
