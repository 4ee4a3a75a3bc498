import { createRequire } from 'node:module';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findFailure,
  findIncident,
  intakeJobId,
  jobArgs,
  JOBS,
  listFlaky,
  listPublications,
  normalizeGithubEvent,
  openFailuresKey,
  QUEUES,
  type CiFailure,
  type FailureRow,
  type IntakeJobData,
  type PublicationRow,
  type ResolutionJobData,
} from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { createGithubApi } from '../github/github-api.ts';
import { createGithubLogSource } from '../github/log-source.ts';
import { resolveSinks } from '../publish/publisher.ts';
import { createRunnerRegistry } from '../runners/registry.ts';
import { createWorkers, type Workers } from '../worker.ts';

// Resolution against real Redis, Postgres and the fake GitHub: a success of the same job on the
// same branch resolves the failure, updates its check run and PR comment in place, counts the
// flaky registry, closes a quiet incident's issue; a failure resolved before its triage finished
// publishes nothing at all.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
const OWNER = 'octo-org';
const prefix = testPrefix();
const redis = createTestRedis();
/** Hours an incident stays quiet before its issue is closed: 1.5 s here. */
const QUIET_HOURS = 1.5 / 3600;
let tdb: TestDatabase;
let github: FakeGithub;
let workers: Workers;
let intake: Queue;
let resolutions: Queue;
let nextJobId = 120_000;

function actionsLog(test: string): string {
  return [
    '2024-06-01T10:00:01.1234567Z ##[group]Run npm test',
    '2024-06-01T10:00:02.1234567Z npm test',
    `2024-06-01T10:00:05.1234567Z  FAIL  src/${test}.test.ts > ${test} > keeps its promise`,
    '2024-06-01T10:00:05.1234567Z AssertionError: expected 90 to be 81 // Object.is equality',
    '2024-06-01T10:00:06.1234567Z  Test Files  1 failed | 20 passed (21)',
    '2024-06-01T10:00:06.1234567Z ##[error]Process completed with exit code 1.',
  ].join('\n');
}

/** Sends one failed `unit` job of `repo` on `branch` through intake, as ingest would. */
async function submit(repo: string, options: { branch?: string; test?: string; pullRequests?: number[] } = {}): Promise<CiFailure> {
  const jobId = nextJobId++;
  const runId = jobId + 1_000_000;
  github.setRun(OWNER, repo, runId, 1, [{ id: jobId, name: 'unit', conclusion: 'failure', steps: [{ name: 'Run npm test', conclusion: 'failure', number: 1 }], log: actionsLog(options.test ?? 'cart') }]);
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: jobId, run_id: runId, run_attempt: 1, head_sha: jobId.toString(16).padStart(40, 'c'), name: 'unit', head_branch: options.branch ?? 'feature', workflow_name: 'CI', steps: [{ name: 'Run npm test', status: 'completed', conclusion: 'failure', number: 1 }] });
  Object.assign(payload.repository, { name: repo, owner: { login: OWNER } });
  payload.installation = { id: 7 };
  const failure = { ...(normalizeGithubEvent('workflow_job', payload) as CiFailure), pullRequests: options.pullRequests ?? [12] };
  const data: IntakeJobData = { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure, payload };
  await intake.add('intake', data, { jobId: intakeJobId(data.deliveryId) });
  return failure;
}

/** A resolution job as ingest enqueues it for a success of `unit` on the failure's branch at `headSha`. */
async function succeed(failure: CiFailure, headSha: string, jobName = 'unit'): Promise<string> {
  const data: ResolutionJobData = {
    v: 1,
    kind: 'ci-success',
    deliveryId: randomUUID(),
    receivedAt: new Date().toISOString(),
    event: 'workflow_job',
    owner: failure.owner,
    repo: failure.repo,
    installationId: 7,
    branch: failure.branch!,
    headSha,
    scope: 'job',
    jobName,
    checkName: jobName,
    workflowName: 'CI',
    runId: 555,
    runAttempt: 1,
    completedAt: new Date().toISOString(),
  };
  const [name, payload, opts] = jobArgs(JOBS.resolutions, data);
  const job = await resolutions.add(name, payload, opts);
  const deadline = Date.now() + 15_000;
  while (!['completed', 'failed'].includes(await job.getState())) {
    if (Date.now() > deadline) throw new Error('resolution job did not finish');
    await sleep(25);
  }
  return job.id!;
}

async function until<T>(what: string, read: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const settled = (failureId: string, sinks = 3) =>
  until(`publications of ${failureId}`, async () => {
    const rows = await listPublications(tdb.db, failureId);
    return rows.length === sinks && rows.every((r) => r.status !== 'pending') ? Object.fromEntries(rows.map((r) => [r.sink, r])) as Record<string, PublicationRow> : null;
  });
const triaged = (failureId: string) => until<FailureRow>(`triage of ${failureId}`, async () => {
  const row = await findFailure(tdb.db, failureId);
  return row?.status === 'triaged' ? row : null;
});

beforeAll(async () => {
  [tdb, github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'app', appId: '12345', privateKey }, logger, retries: 0 });
  workers = createWorkers({
    connection: redis,
    prefix,
    db: tdb.db,
    runners: createRunnerRegistry({ choice: 'rules' }),
    logger,
    concurrency: 4,
    attempts: 3,
    logs: createGithubLogSource(api),
    incidentWindowHours: 24,
    github: api,
    publish: { sinks: resolveSinks({ requested: ['check-run', 'pr-comment', 'issue'], githubAuth: 'app', slackWebhookUrl: undefined, escalateAfter: 1 }, logger), github: api, attempts: 3, backoffMs: 50 },
    resolution: { quietHours: QUIET_HOURS },
  });
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  resolutions = new Queue(QUEUES.resolutions, { connection: redis, prefix });
});

afterAll(async () => {
  await workers?.close(5_000);
  await Promise.all([intake?.close(), resolutions?.close()]);
  await Promise.all([tdb.destroy(), github.stop(), deleteKeysWithPrefix(redis, prefix)]);
  await redis.quit();
});

describe('resolution', () => {
  it('a success of the same job on the branch resolves the failure and updates its check run and PR comment in place', async () => {
    const failure = await submit('resolve-repo');
    const key = openFailuresKey(prefix, OWNER, 'resolve-repo', 'feature');
    const published = await settled(failure.id);
    expect(await redis.sismember(key, failure.id)).toBe(1);
    const checkRunId = Number(published['check-run']!.external_id);
    const commentId = Number(published['pr-comment']!.external_id);
    const commentsBefore = github.comments.size;
    const green = 'abcdef1'.padEnd(40, '0');
    await succeed(failure, green);
    const row = (await findFailure(tdb.db, failure.id))!;
    expect(row.resolved_by_sha).toBe(green);
    expect(row.resolved_at).not.toBeNull();
    expect(row.resolved_by_run_id).toBe('555');
    expect(await redis.exists(key)).toBe(0);
    await until('the check run to say resolved', async () => github.checkRuns.get(checkRunId)?.output.title?.startsWith('Resolved in abcdef1 after '));
    await until('the comment to say resolved', async () => github.comments.get(commentId)?.body.includes('resolved in abcdef1 after '));
    expect(github.comments.size).toBe(commentsBefore);
    expect([...github.checkRuns.values()].filter((c) => c.external_id === failure.id)).toHaveLength(1);
    // A later commit going green is no flaky occurrence, but an observation.
    const [job] = await listFlaky(tdb.db, { repository: `${OWNER}/resolve-repo` });
    expect(job).toBeUndefined();
  });

  it('a success of another job or branch resolves nothing; a later success leaves a resolved failure as it was', async () => {
    const failure = await submit('resolve-repo', { branch: 'other' });
    await settled(failure.id);
    await succeed({ ...failure, branch: 'elsewhere' }, 'f'.repeat(40));
    await succeed(failure, 'f'.repeat(40), 'lint');
    expect((await findFailure(tdb.db, failure.id))!.resolved_at).toBeNull();
    await succeed(failure, 'e'.repeat(40));
    const resolved = (await findFailure(tdb.db, failure.id))!;
    await succeed(failure, '9'.repeat(40));
    const after = (await findFailure(tdb.db, failure.id))!;
    expect(after.resolved_by_sha).toBe('e'.repeat(40));
    expect(after.resolved_at).toEqual(resolved.resolved_at);
  });

  it('a fail then a pass on the same commit is a flaky occurrence of the job and of the failing test', async () => {
    const failure = await submit('flaky-repo', { test: 'basket' });
    await settled(failure.id);
    await succeed(failure, failure.headSha);
    const rows = await listFlaky(tdb.db, { repository: `${OWNER}/flaky-repo` });
    expect(rows.map((r) => [r.workflow, r.job, r.test, r.occurrences, r.observations, r.score])).toEqual([
      ['CI', 'unit', '', 1, 1, 1],
      ['CI', 'unit', 'src/basket.test.ts > basket > keeps its promise', 1, 1, 1],
    ]);
    // The next failure of that job is classified with the registry's history as evidence once it has two occurrences.
    const again = await submit('flaky-repo', { test: 'basket' });
    await settled(again.id);
    await succeed(again, again.headSha);
    const third = await submit('flaky-repo', { test: 'basket' });
    await settled(third.id);
    const { findSucceededExecution } = await import('@pitcrew/core');
    const classify = await findSucceededExecution(tdb.db, third.id, 'classify');
    expect((classify!.output as { flakyHistory?: unknown }).flakyHistory).toEqual({ score: 1, occurrences: 2, test: null });
  });

  it('a failure resolved before its triage finished publishes nothing at all', async () => {
    await workers.run.rules!.pause();
    try {
      const failure = await submit('quiet-repo');
      await until('classification', async () => (await findFailure(tdb.db, failure.id))?.category);
      await succeed(failure, 'b'.repeat(40));
      expect((await findFailure(tdb.db, failure.id))!.resolved_at).not.toBeNull();
      workers.run.rules!.resume();
      await triaged(failure.id);
      const rows = await settled(failure.id);
      for (const row of Object.values(rows)) {
        expect(row.status).toBe('skipped');
        expect(row.last_error).toMatch(/resolved before its triage finished/);
      }
      expect([...github.checkRuns.values()].some((c) => c.external_id === failure.id)).toBe(false);
      expect([...github.comments.values()].some((c) => c.body.includes(failure.id))).toBe(false);
    } finally {
      workers.run.rules!.resume();
    }
  });

  it("an incident's escalation issue is closed with a comment once every occurrence is resolved and the quiet window passed", async () => {
    const failure = await submit('incident-repo', { test: 'ledger' });
    await settled(failure.id);
    const row = (await findFailure(tdb.db, failure.id))!;
    const incident = (await findIncident(tdb.db, String(row.incident_id)))!;
    expect(incident.issue_number).not.toBeNull();
    const issue = github.issues.get(`${OWNER}/incident-repo#${incident.issue_number}`)!;
    expect(issue.state).toBe('open');
    await succeed(failure, 'd'.repeat(40));
    // The issue is closed inside the incident's transaction, which records closed_at when it commits.
    await until('the incident to be closed', async () => (await findIncident(tdb.db, incident.id))!.closed_at, 20_000);
    expect(issue.state).toBe('closed');
    const comment = [...github.comments.values()].find((c) => c.repo === 'incident-repo' && c.issue_number === incident.issue_number);
    expect(comment?.body).toMatch(/every occurrence of this breakage is resolved/);
    // The breakage coming back reopens it.
    const back = await submit('incident-repo', { test: 'ledger' });
    await settled(back.id);
    await until('the issue to reopen', async () => issue.state === 'open');
    expect((await findIncident(tdb.db, incident.id))!.closed_at).toBeNull();
  });
});
