import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { normalizeGithubEvent } from './events/index.ts';
import { idempotencyKeyFor, isIgnored, PayloadShapeError, type CiFailure } from './failure.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const examples = (event: string) => sets.find((s) => s.name === event)!.examples;
const find = (event: string, test: (e: any) => boolean) => structuredClone(examples(event).find(test));

function asFailure(result: ReturnType<typeof normalizeGithubEvent>): CiFailure {
  if (isIgnored(result)) throw new Error(`expected a failure, got ignored: ${result.reason}`);
  return result;
}

describe('normalizeGithubEvent on GitHub example deliveries', () => {
  it('normalizes a failed workflow_job with its failed step', () => {
    const payload = find('workflow_job', (e) => e.workflow_job.conclusion === 'failure');
    const failure = asFailure(normalizeGithubEvent('workflow_job', payload));
    expect(failure).toMatchObject({
      id: `gh-job-${payload.workflow_job.id}`,
      kind: 'job',
      event: 'workflow_job',
      owner: payload.repository.owner.login,
      repo: payload.repository.name,
      headSha: payload.workflow_job.head_sha,
      runId: payload.workflow_job.run_id,
      runAttempt: 1,
      jobId: payload.workflow_job.id,
      jobName: 'linters',
      conclusion: 'failure',
      failedSteps: ['Run yarn run format-check'],
    });
  });

  it('normalizes a failed check_run with branch, suite and output', () => {
    const payload = find('check_run', (e) => e.action === 'completed' && e.check_run.conclusion === 'failure');
    const failure = asFailure(normalizeGithubEvent('check_run', payload));
    expect(failure).toMatchObject({
      id: `gh-job-${payload.check_run.id}`,
      kind: 'job',
      branch: payload.check_run.check_suite.head_branch,
      checkSuiteId: payload.check_run.check_suite.id,
      checkName: payload.check_run.name,
      appSlug: 'github-actions',
      pullRequests: [2],
    });
  });

  it('maps a check_run and the workflow_job of the same job to one idempotency key', () => {
    const job = find('workflow_job', (e) => e.workflow_job.conclusion === 'failure');
    const run = find('check_run', (e) => e.action === 'completed' && e.check_run.conclusion === 'failure');
    run.check_run.id = job.workflow_job.id;
    expect(asFailure(normalizeGithubEvent('check_run', run)).id).toBe(asFailure(normalizeGithubEvent('workflow_job', job)).id);
  });

  it('maps a workflow_run and its check_suite to one key, and a re-run attempt to another', () => {
    const run = find('workflow_run', (e) => e.action === 'completed' && e.workflow_run.conclusion === 'success');
    run.workflow_run.conclusion = 'failure';
    const suite = find('check_suite', (e) => e.action === 'completed');
    suite.check_suite.conclusion = 'failure';
    suite.check_suite.id = run.workflow_run.check_suite_id;
    const a = asFailure(normalizeGithubEvent('workflow_run', run));
    expect(a.id).toBe(asFailure(normalizeGithubEvent('check_suite', suite)).id);
    expect(a.kind).toBe('run');
    delete run.workflow_run.check_suite_id;
    run.workflow_run.run_attempt = 2;
    expect(asFailure(normalizeGithubEvent('workflow_run', run)).id).toBe(`gh-run-${run.workflow_run.id}-2`);
  });

  it.each(['failure', 'timed_out', 'startup_failure'])('accepts conclusion %s', (conclusion) => {
    const payload = find('workflow_job', (e) => e.workflow_job.conclusion === 'failure');
    payload.workflow_job.conclusion = conclusion;
    expect(asFailure(normalizeGithubEvent('workflow_job', payload)).conclusion).toBe(conclusion);
  });

  it('ignores successes, cancellations, non-completed actions and other events with a reason', () => {
    const success = find('workflow_job', (e) => e.workflow_job.conclusion === 'success');
    expect(normalizeGithubEvent('workflow_job', success)).toEqual({ ignored: true, reason: 'conclusion success is not a failure' });
    success.workflow_job.conclusion = 'cancelled';
    expect(normalizeGithubEvent('workflow_job', success)).toMatchObject({ ignored: true });
    const queued = find('workflow_job', (e) => e.action === 'queued');
    expect(normalizeGithubEvent('workflow_job', queued)).toEqual({ ignored: true, reason: 'action queued is not completed' });
    expect(normalizeGithubEvent('issues', { action: 'opened' })).toEqual({ ignored: true, reason: 'event issues is not a CI event' });
  });

  it('every example of the four events is either a failure or ignored, never an error', () => {
    for (const event of ['check_run', 'check_suite', 'workflow_run', 'workflow_job']) {
      for (const payload of examples(event)) expect(() => normalizeGithubEvent(event, payload)).not.toThrow();
    }
  });

  it('throws PayloadShapeError naming the missing field', () => {
    const payload = find('workflow_job', (e) => e.workflow_job.conclusion === 'failure');
    delete payload.workflow_job.head_sha;
    expect(() => normalizeGithubEvent('workflow_job', payload)).toThrow(PayloadShapeError);
    expect(() => normalizeGithubEvent('workflow_job', payload)).toThrow(/workflow_job\.head_sha/);
    expect(() => normalizeGithubEvent('check_run', [1, 2])).toThrow(/must be a JSON object/);
  });
});

describe('idempotencyKeyFor', () => {
  it('never yields a BullMQ-invalid id (no colon, not all digits)', () => {
    for (const key of [
      idempotencyKeyFor({ kind: 'job', jobId: 1 }),
      idempotencyKeyFor({ kind: 'run', checkSuiteId: 2 }),
      idempotencyKeyFor({ kind: 'run', runId: 3, runAttempt: 4 }),
    ]) {
      expect(key).not.toContain(':');
      expect(key).not.toMatch(/^\d+$/);
    }
  });
  it('refuses keys without ids', () => {
    expect(() => idempotencyKeyFor({ kind: 'job' })).toThrow(TypeError);
    expect(() => idempotencyKeyFor({ kind: 'run' })).toThrow(TypeError);
  });
});
