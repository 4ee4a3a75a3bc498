import { describe, expect, it } from 'vitest';
import { classifyFailure } from './classify.ts';
import type { CiFailure } from './failure.ts';

function failure(overrides: Partial<CiFailure> = {}): CiFailure {
  return {
    id: 'gh-job-1', provider: 'github', kind: 'job', event: 'workflow_job', owner: 'o', repo: 'r', repoId: 1,
    branch: 'main', headSha: 'a'.repeat(40), runId: 1, runAttempt: 1, jobId: 1, checkSuiteId: null,
    workflowName: 'CI', jobName: 'job', checkName: 'job', appSlug: 'github-actions', htmlUrl: null,
    conclusion: 'failure', failedSteps: [], outputText: null, pullRequests: [], installationId: null,
    startedAt: null, completedAt: null, ...overrides,
  };
}

describe('classifyFailure', () => {
  it.each([
    [{ failedSteps: ['Run yarn run format-check'], jobName: 'linters' }, 'lint'],
    [{ failedSteps: ['Run npx tsc --noEmit'] }, 'typecheck'],
    [{ failedSteps: ['Run npm test'] }, 'test'],
    [{ failedSteps: ['Run npm ci'] }, 'dependency'],
    [{ failedSteps: ['Run cargo build --release'] }, 'build'],
    [{ jobName: 'unit tests (cache)' }, 'test'],
    [{ conclusion: 'timed_out' as const }, 'timeout'],
    [{ conclusion: 'startup_failure' as const }, 'infrastructure'],
    [{ jobName: 'deploy', workflowName: 'Release' }, 'unknown'],
  ])('%o → %s', (overrides, category) => {
    expect(classifyFailure(failure(overrides)).category).toBe(category);
  });

  it('lets a failed step outweigh the job name', () => {
    const result = classifyFailure(failure({ jobName: 'test', failedSteps: ['Run npm ci'] }));
    expect(result.category).toBe('dependency');
    expect(result.confidence).toBeLessThan(0.8);
  });

  it('uses log text, the strongest evidence', () => {
    const result = classifyFailure(failure({ jobName: 'build' }), 'src/a.ts(3,1): error TS2322: Type string is not assignable to type number');
    expect(result.category).toBe('typecheck');
    expect(result.evidence.some((e) => e.source === 'log')).toBe(true);
  });

  it('reads the check run output', () => {
    expect(classifyFailure(failure({ jobName: 'ci', outputText: 'npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree' })).category).toBe('dependency');
  });

  it('gives unknown a low confidence and known categories a higher one, within [0, 1]', () => {
    const unknown = classifyFailure(failure({ jobName: 'deploy', workflowName: null }));
    const lint = classifyFailure(failure({ failedSteps: ['Run eslint .'] }));
    expect(unknown.confidence).toBeLessThan(0.5);
    expect(lint.confidence).toBeGreaterThan(unknown.confidence);
    expect(lint.confidence).toBeLessThanOrEqual(1);
  });

  it('ignores housekeeping steps GitHub adds', () => {
    expect(classifyFailure(failure({ jobName: 'deploy', workflowName: null, failedSteps: ['Complete job'] })).category).toBe('unknown');
  });
});
