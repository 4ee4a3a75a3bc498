import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

/** One webhook delivery the demo sends. */
export interface DemoDelivery {
  /** Row label for the table. */
  label: string;
  event: string;
  deliveryId: string;
  payload: Record<string, unknown>;
  /** How this delivery was made from the examples: `example`, or what was changed. */
  origin: string;
  /**
   * A completed success, sent only once every failure sent before it is final: CI going green on
   * a branch whose failures are open (recorded by intake) makes it a resolution job, every run
   * alike, instead of racing the intake of the failure it follows.
   */
  afterTriage?: boolean;
}

interface ExampleSet {
  name: string;
  examples: Record<string, any>[];
}

/**
 * Loads GitHub's own example deliveries from `@octokit/webhooks-examples` (the payloads GitHub
 * documents for each event and action).
 */
export function loadWebhookExamples(): Map<string, Record<string, any>[]> {
  const require = createRequire(import.meta.url);
  const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as ExampleSet[];
  return new Map(sets.map((s) => [s.name, s.examples]));
}

/**
 * The demo's deliveries: for each of `check_run`, `check_suite`, `workflow_run`, `workflow_job`,
 * real examples that are failures and real examples that are not, plus `ping`, one redelivery
 * (same delivery id sent again) and one logical duplicate (the `check_run` twin of a failed
 * `workflow_job`, which GitHub sends for every Actions job).
 *
 * The examples package has failed `check_run` and `workflow_job` deliveries but no failed
 * `check_suite` or `workflow_run`; for those two the demo takes a real `completed` example and
 * sets its conclusion to `failure`, and says so in `origin`.
 *
 * The completed successes are on branches of the failures (the same examples), so they are marked
 * {@link DemoDelivery.afterTriage}: each becomes a resolution job of the failures of its check
 * that were received before it completed.
 */
export function buildDemoDeliveries(examples = loadWebhookExamples()): DemoDelivery[] {
  const pick = (event: string, test: (e: Record<string, any>) => boolean, what: string) => {
    const found = (examples.get(event) ?? []).find(test);
    if (!found) throw new Error(`@octokit/webhooks-examples has no ${event} example that is ${what}`);
    return structuredClone(found);
  };
  const conclusion = (event: string) => (e: Record<string, any>) => e[event]?.conclusion as string | null | undefined;
  const completedWith = (event: string, value: string) => (e: Record<string, any>) =>
    e.action === 'completed' && conclusion(event)(e) === value;
  const notCompleted = (e: Record<string, any>) => e.action !== 'completed';
  const out: DemoDelivery[] = [];
  const add = (label: string, event: string, payload: Record<string, any>, origin = 'example') =>
    out.push({ label, event, deliveryId: randomUUID(), payload, origin, ...(payload.action === 'completed' && payload[event]?.conclusion === 'success' ? { afterTriage: true } : {}) });

  add('ping', 'ping', pick('ping', () => true, 'any'));

  const jobFailure = pick('workflow_job', completedWith('workflow_job', 'failure'), 'a completed failure');
  add('workflow_job failure', 'workflow_job', jobFailure);
  add('workflow_job success', 'workflow_job', pick('workflow_job', completedWith('workflow_job', 'success'), 'a success'));
  add('workflow_job in progress', 'workflow_job', pick('workflow_job', notCompleted, 'not completed'));

  add('check_run failure', 'check_run', pick('check_run', completedWith('check_run', 'failure'), 'a completed failure'));
  add('check_run success', 'check_run', pick('check_run', completedWith('check_run', 'success'), 'a success'));
  add('check_run created', 'check_run', pick('check_run', notCompleted, 'not completed'));

  const runFailure = pick('workflow_run', completedWith('workflow_run', 'success'), 'a completed success');
  runFailure.workflow_run.conclusion = 'failure';
  add('workflow_run failure', 'workflow_run', runFailure, 'example, conclusion set to failure');
  add('workflow_run success', 'workflow_run', pick('workflow_run', completedWith('workflow_run', 'success'), 'a success'));
  add('workflow_run requested', 'workflow_run', pick('workflow_run', notCompleted, 'not completed'));

  const suiteFailure = pick('check_suite', completedWith('check_suite', 'success'), 'a completed success');
  suiteFailure.check_suite.conclusion = 'failure';
  add('check_suite failure', 'check_suite', suiteFailure, 'example, conclusion set to failure');
  add('check_suite success', 'check_suite', pick('check_suite', completedWith('check_suite', 'success'), 'a success'));
  add('check_suite requested', 'check_suite', pick('check_suite', notCompleted, 'not completed'));

  // The check run GitHub Actions creates for the failed job: same id, same repository.
  const twin = pick('check_run', completedWith('check_run', 'failure'), 'a completed failure');
  twin.check_run.id = jobFailure.workflow_job.id;
  twin.check_run.name = jobFailure.workflow_job.name;
  twin.check_run.head_sha = jobFailure.workflow_job.head_sha;
  twin.repository = jobFailure.repository;
  add('check_run twin of the job', 'check_run', twin, 'example, ids of the workflow_job failure');

  const first = out.find((d) => d.label === 'workflow_job failure')!;
  out.push({ ...first, label: 'workflow_job failure redelivered', origin: 'same delivery id again' });
  return out;
}
