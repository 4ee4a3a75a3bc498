import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CiFailure } from '@pitcrew/core';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { createGithubApi } from './github-api.ts';
import { fetchFailureLogs } from './failure-logs.ts';

const logger = pino({ level: 'silent' });
let github: FakeGithub;

const failure = (overrides: Partial<CiFailure> = {}): CiFailure => ({
  id: 'gh-job-7', provider: 'github', kind: 'job', event: 'workflow_job', owner: 'octo-org', repo: 'octo-repo', repoId: 1,
  branch: 'main', headSha: 'a'.repeat(40), runId: 42, runAttempt: 1, jobId: 7, checkSuiteId: null, workflowName: 'CI',
  jobName: 'test', checkName: 'test', appSlug: 'github-actions', htmlUrl: null, conclusion: 'failure', failedSteps: [],
  outputText: null, pullRequests: [], installationId: 99, startedAt: null, completedAt: null, ...overrides,
});

beforeAll(async () => {
  github = await startFakeGithub();
  // 130 jobs: the listing needs two pages of 100.
  const jobs = Array.from({ length: 130 }, (_, i) => ({ id: 1000 + i, name: `shard ${i}`, conclusion: 'success' as string | null }));
  jobs[5] = { id: 7, name: 'test', conclusion: 'failure' };
  jobs[120] = { id: 1120, name: 'lint', conclusion: 'failure' };
  jobs[125] = { id: 1125, name: 'e2e', conclusion: 'timed_out' };
  github.setRun('octo-org', 'octo-repo', 42, 1, [
    ...jobs.map((j) =>
      j.id === 7
        ? { ...j, steps: [{ name: 'Run npm test', conclusion: 'failure', number: 4 }], log: '2024-01-01T00:00:00Z ##[group]Run npm test\nFAIL src/a.test.ts\n##[error]Process completed with exit code 1.' }
        : j.id === 1120
          ? { ...j, log: 'expired' as const }
          : j,
    ),
  ]);
});
afterAll(() => github.stop());

describe('fetchFailureLogs against the GitHub REST API shapes', () => {
  it('lists jobs past 100, follows the log redirect, and records an expired (410) and a missing (404) log', async () => {
    const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: 'ghp_testtoken' }, logger });
    const result = await fetchFailureLogs(api.forInstallation(null)!, failure(), { maxJobs: 3 });
    expect(result.jobsListed).toBe(130);
    expect(result.failedJobs.map((j) => [j.id, j.conclusion])).toEqual([
      [7, 'failure'],
      [1120, 'failure'],
      [1125, 'timed_out'],
    ]);
    expect(result.failedJobs[0]!.failedSteps).toEqual(['Run npm test']);
    expect(result.logs[0]).toMatchObject({ jobId: 7, status: 'ok' });
    expect((result.logs[0] as { text: string }).text).toContain('##[error]Process completed with exit code 1.');
    expect(result.logs[1]).toMatchObject({ jobId: 1120, status: 'expired' });
    expect(result.logs[2]).toMatchObject({ jobId: 1125, status: 'missing' });
    const paths = github.requests.map((r) => r.path);
    expect(paths.filter((p) => p.includes('/attempts/1/jobs'))).toHaveLength(2);
    expect(paths).toContain('/_blobs/job-logs/7.txt?sig=fake');
    expect(github.requests.find((r) => r.path.includes('/jobs/7/logs'))!.headers.authorization).toBe('token ghp_testtoken');
  });

  it('goes on with what the payload has when the run is unknown (404)', async () => {
    const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: 't' }, logger });
    const result = await fetchFailureLogs(api.forInstallation(null)!, failure({ runId: 404404, jobId: 5 }));
    expect(result).toEqual({ failedJobs: [], jobsListed: 0, logs: [{ jobId: 5, status: 'missing', reason: expect.any(String) }] });
  });

  it('authenticates as a GitHub App installation from the delivery', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'app', appId: '12345', privateKey }, logger });
    expect(api.forInstallation(null)).toBeNull();
    const before = github.requests.length;
    await fetchFailureLogs(api.forInstallation(99)!, failure(), { maxJobs: 1 });
    const mine = github.requests.slice(before);
    expect(mine[0]).toMatchObject({ method: 'POST', path: '/app/installations/99/access_tokens' });
    expect(String(mine[0]!.headers.authorization)).toMatch(/^bearer ey/i); // the App's JWT
    expect(mine[1]!.headers.authorization).toBe('token ghs_fakeinstallationtoken99');
  });
});
