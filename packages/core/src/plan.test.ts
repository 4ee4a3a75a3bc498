import { describe, expect, it } from 'vitest';
import { classifyFailure } from './classify.ts';
import type { CiFailure } from './failure.ts';
import { commandOfStep, extractSummarySection, planFromRules } from './plan.ts';

const failure: CiFailure = {
  id: 'gh-job-1', provider: 'github', kind: 'job', event: 'workflow_job', owner: 'octo-org', repo: 'octo-repo', repoId: 1,
  branch: 'main', headSha: '3484a3fb816e0859fd6e1cea078d76385ff50625', runId: 1, runAttempt: 1, jobId: 1, checkSuiteId: null,
  workflowName: 'CI', jobName: 'linters', checkName: 'linters', appSlug: 'github-actions', htmlUrl: 'https://github.com/octo-org/octo-repo/runs/1',
  conclusion: 'failure', failedSteps: ['Run yarn run format-check'], outputText: null, pullRequests: [], installationId: null,
  startedAt: null, completedAt: null,
};

describe('commandOfStep', () => {
  it('reads the command of a default-named run step, not of an action', () => {
    expect(commandOfStep('Run yarn run format-check')).toBe('yarn run format-check');
    expect(commandOfStep('Run actions/checkout@v4')).toBeNull();
    expect(commandOfStep('Build image')).toBeNull();
  });
});

describe('planFromRules', () => {
  it('writes a plan with the command to reproduce and a summary section', () => {
    const plan = planFromRules(failure, classifyFailure(failure));
    expect(plan).toContain('## Investigation plan');
    expect(plan).toContain('`yarn run format-check`');
    expect(plan).toContain('**lint**');
    expect(extractSummarySection(plan)).toMatch(/^`linters` failed at step `Run yarn run format-check` on octo-org\/octo-repo@main \(3484a3f\): a lint/);
    expect(plan).not.toContain('flaky');
  });
  it('puts flaky evidence first in the plan and in the summary', () => {
    const flaky = { headSha: failure.headSha, passed: { runId: 42, attempt: 2, jobId: 7, jobName: 'linters', htmlUrl: 'https://github.com/o/r/actions/runs/42/job/7' } };
    const plan = planFromRules(failure, { ...classifyFailure(failure), flaky });
    expect(plan).toMatch(/## Investigation plan\n1\. Treat it as flaky first: the same job passed on this commit \(run 42, attempt 2, https:/);
    expect(plan).toContain('- history: the same job passed on this commit in run 42 (attempt 2)');
    expect(extractSummarySection(plan)).toMatch(/likely flaky\.$/);
  });
});

describe('extractSummarySection', () => {
  it('takes the section up to the next heading of the same level', () => {
    expect(extractSummarySection('# Report\n## Summary\nIt broke.\nTwice.\n## Next\nmore')).toBe('It broke.\nTwice.');
    expect(extractSummarySection('## summary:\n\nShort.\n### detail\nstill summary')).toBe('Short.\n### detail\nstill summary');
  });
  it('returns null without a section or with an empty one', () => {
    expect(extractSummarySection('no headings')).toBeNull();
    expect(extractSummarySection('## Summary\n\n## Plan\nx')).toBeNull();
  });
});
