import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findFailure,
  findLoop,
  finishFixAttempt,
  fixEventJobId,
  jobArgs,
  JOBS,
  normalizeGithubEvent,
  recordFailureDelivery,
  startFixAttempt,
  updateFailure,
  type CiFailure,
  type FixAttemptRow,
  type FixEventJobData,
  type FixLoopRow,
} from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub, type FakePullRequest } from '@pitcrew/testkit/fake-github';
import { createGithubApi } from '../github/github-api.ts';
import { checkRunSink } from '../publish/check-run.ts';
import { createRunnerRegistry } from '../runners/registry.ts';
import { createWorkers, type Workers } from '../worker.ts';
import type { FixEventResult } from './fix-events.ts';

// The fix-events worker against real Redis, Postgres and the fake GitHub: CI's verdict on a fix
// commit undrafts the PR through GraphQL and re-publishes the check run; PR outcomes are recorded.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
const OWNER = 'octo-org';
const REPO = 'loop-repo';
const prefix = testPrefix();
const redis = createTestRedis();
let tdb: TestDatabase;
let github: FakeGithub;
let workers: Workers;
let queue: Queue;
const outcomes: FixLoopRow[] = [];
let nextJobId = 90_000;

/** A triaged failure of job `unit` with one proposed fix iteration (commit pushed, draft PR open). */
async function seedLoop(): Promise<{ loopId: string; attempt: FixAttemptRow; pull: FakePullRequest; commitSha: string }> {
  const jobId = nextJobId++;
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: jobId, run_id: jobId + 1, head_sha: jobId.toString(16).padStart(40, 'a'), name: 'unit', head_branch: 'main' });
  Object.assign(payload.repository, { name: REPO, owner: { login: OWNER } });
  payload.installation = { id: 7 };
  const failure = normalizeGithubEvent('workflow_job', payload) as CiFailure;
  await recordFailureDelivery(tdb.db, { deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date(), payload: null }, failure);
  await updateFailure(tdb.db, failure.id, { status: 'triaged', category: 'test', summary: 'A test broke.' });
  const branch = `pitcrew/fix/${failure.id}`;
  const pull = github.seedPullRequest({ owner: OWNER, repo: REPO, draft: true, head: { ref: branch } });
  const commitSha = jobId.toString(16).padStart(40, 'f');
  const started = await startFixAttempt(tdb.db, { failureId: failure.id, iteration: 1, fixer: 'rules', headSha: failure.headSha });
  await finishFixAttempt(tdb.db, started.id, { status: 'proposed', branch, prNumber: pull.number, prUrl: `https://github.com/${OWNER}/${REPO}/pull/${pull.number}`, commitSha, filesChanged: 1, linesChanged: 2 });
  return { loopId: failure.id, attempt: started, pull, commitSha };
}

const base = (loopId: string, headSha: string) => ({ v: 1 as const, deliveryId: randomUUID(), receivedAt: new Date().toISOString(), owner: OWNER, repo: REPO, installationId: 7, branch: `pitcrew/fix/${loopId}`, headSha });
const success = (loopId: string, headSha: string, jobName = 'unit'): FixEventJobData => ({ ...base(loopId, headSha), kind: 'ci-success', event: 'workflow_job', scope: 'job', jobName, checkName: jobName, workflowName: 'CI' });
const pullRequest = (loopId: string, headSha: string, prNumber: number, action: 'closed' | 'reopened', merged: boolean): FixEventJobData => ({
  ...base(loopId, headSha),
  kind: 'pull-request',
  action,
  prNumber,
  merged,
  mergedBy: merged ? 'octo-maintainer' : null,
  closedAt: action === 'closed' ? '2026-12-03T10:00:00.000Z' : null,
});

/** Adds a fix event as ingest does and waits for its job's result. */
async function deliver(data: FixEventJobData): Promise<FixEventResult> {
  await queue.add(...jobArgs(JOBS.fixEvents, data));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const state = await queue.getJobState(fixEventJobId(data.deliveryId));
    // Read once finished: a job read while active has no return value yet.
    const job = state === 'completed' || state === 'failed' ? await queue.getJob(fixEventJobId(data.deliveryId)) : undefined;
    if (state === 'completed') return job!.returnvalue as FixEventResult;
    if (state === 'failed') throw new Error(`fix event failed: ${job!.failedReason}`);
    if (Date.now() > deadline) throw new Error(`fix event ${data.deliveryId} not processed (${state})`);
    await sleep(25);
  }
}

/** Waits for a check run whose output text says `text`; its text. */
async function checkRunSaying(text: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = [...github.checkRuns.values()].find((c) => c.output.text?.includes(text));
    if (found) return found.output.text!;
    if (Date.now() > deadline) throw new Error(`no check run says ${text}`);
    await sleep(50);
  }
}

const mutations = () => github.requests.filter((r) => r.path === '/graphql');

beforeAll(async () => {
  [tdb, github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
  const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: 'ghs_testinstallationtoken' }, logger, retries: 0 });
  workers = createWorkers({
    connection: redis,
    prefix,
    db: tdb.db,
    runners: createRunnerRegistry({ choice: 'rules' }),
    logger,
    concurrency: 2,
    attempts: 2,
    publish: { sinks: [checkRunSink], github: api, attempts: 2, backoffMs: 50 },
    github: api,
    fixEvents: { readyOnCi: true },
    onLoopOutcome: async (loop) => {
      outcomes.push(loop);
    },
  });
  queue = new Queue(JOBS.fixEvents.queue, { connection: redis, prefix });
});

afterAll(async () => {
  await workers?.close(5_000);
  await queue?.close();
  await Promise.all([tdb.destroy(), github.stop(), deleteKeysWithPrefix(redis, prefix)]);
  await redis.quit();
});

describe('fix events', () => {
  it('CI passing the fix commit records the verdict, undrafts the PR through GraphQL and re-publishes "verified by CI"; its twin changes nothing', async () => {
    const { loopId, attempt, pull, commitSha } = await seedLoop();
    const from = mutations().length;
    const result = await deliver(success(loopId, commitSha));
    expect(result).toEqual({ outcome: 'ci-passed', loopId, iteration: 1, readyForReview: true });
    const row = await tdb.db.selectFrom('fix_attempts').selectAll().where('id', '=', attempt.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ ci_verdict: 'passed', ready_for_review: true });
    expect(row.ci_verdict_at).toBeInstanceOf(Date);
    expect(pull.draft).toBe(false);
    expect(mutations().slice(from)).toHaveLength(1);
    expect(mutations().at(-1)!.body).toMatchObject({ query: expect.stringContaining('markPullRequestReadyForReview'), variables: { pullRequestId: `PR_${pull.id}` } });
    expect(await checkRunSaying(`pull request #${pull.number}`)).toContain('verified by CI, marked ready for review');
    expect(await findLoop(tdb.db, loopId)).toMatchObject({ status: 'verified_by_ci', verified_by_ci: true });
    expect(outcomes.filter((o) => o.loop_id === loopId)).toHaveLength(1);

    // The check_run twin (another delivery id) of the same success: nothing new.
    const twin = await deliver(success(loopId, commitSha));
    expect(twin).toEqual({ outcome: 'ci-passed', loopId, iteration: 1, readyForReview: true });
    expect(mutations().slice(from)).toHaveLength(1);
    expect(outcomes.filter((o) => o.loop_id === loopId)).toHaveLength(1);
  });

  it('ignores a success of another check, of a commit no iteration pushed, and of a branch with no loop', async () => {
    const { loopId, commitSha, pull } = await seedLoop();
    expect(await deliver(success(loopId, commitSha, 'lint'))).toEqual({ outcome: 'ignored', reason: 'lint passed, not unit that failed' });
    expect(await deliver(success(loopId, 'e'.repeat(40)))).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('no iteration') });
    expect(await deliver(success('gh-job-1', commitSha))).toEqual({ outcome: 'ignored', reason: 'no fix loop gh-job-1' });
    expect(pull.draft).toBe(true);
    expect((await tdb.db.selectFrom('fix_attempts').select('ci_verdict').where('failure_id', '=', loopId).executeTakeFirstOrThrow()).ci_verdict).toBeNull();
  });

  it('records merged with merged_by and outcome_at and resolves the failure; a redelivery changes nothing twice; reopened clears it', async () => {
    const { loopId, pull, commitSha } = await seedLoop();
    const merged = pullRequest(loopId, commitSha, pull.number, 'closed', true);
    expect(await deliver(merged)).toEqual({ outcome: 'pull-request', loopId, iteration: 1, state: 'merged', changed: true });
    const loop = await findLoop(tdb.db, loopId);
    expect(loop).toMatchObject({ status: 'merged', outcome: 'merged', merged_by: 'octo-maintainer' });
    expect(new Date(loop!.outcome_at!).toISOString()).toBe('2026-12-03T10:00:00.000Z');
    expect(outcomes.filter((o) => o.loop_id === loopId).map((o) => o.status)).toEqual(['merged']);
    // The merged fix resolves the failure it fixes, by the PR's head commit.
    expect(await findFailure(tdb.db, loopId)).toMatchObject({ resolved_by_sha: commitSha, resolved_by_run_id: null });
    expect(new Date((await findFailure(tdb.db, loopId))!.resolved_at!).toISOString()).toBe('2026-12-03T10:00:00.000Z');

    // GitHub redelivers it (a new job, as after the seen mark expired): recorded once, hook once.
    expect(await deliver({ ...merged, deliveryId: randomUUID() })).toMatchObject({ state: 'merged', changed: false });
    expect(outcomes.filter((o) => o.loop_id === loopId)).toHaveLength(1);

    expect(await deliver(pullRequest(loopId, commitSha, pull.number, 'reopened', false))).toMatchObject({ state: 'reopened', changed: true });
    expect(await findLoop(tdb.db, loopId)).toMatchObject({ status: 'open', outcome: null, merged_by: null, outcome_at: null });
    expect(await deliver(pullRequest(loopId, commitSha, pull.number, 'closed', false))).toMatchObject({ state: 'closed', changed: true });
    expect(await findLoop(tdb.db, loopId)).toMatchObject({ status: 'closed', merged_by: null });
    expect(outcomes.filter((o) => o.loop_id === loopId).map((o) => o.status)).toEqual(['merged', 'open', 'closed']);
  });

  it('ignores a PR that is not the loop\'s own', async () => {
    const { loopId, pull, commitSha } = await seedLoop();
    expect(await deliver(pullRequest(loopId, commitSha, pull.number + 100, 'closed', true))).toEqual({ outcome: 'ignored', reason: `#${pull.number + 100} is not the pull request of fix loop ${loopId}` });
    expect(await findLoop(tdb.db, loopId)).toMatchObject({ status: 'open', outcome: null });
  });

  it('intake records a failure on a fix branch with its loop', async () => {
    const { loopId } = await seedLoop();
    const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
    Object.assign(payload.workflow_job, { id: nextJobId++, head_branch: `pitcrew/fix/${loopId}` });
    const failure = normalizeGithubEvent('workflow_job', payload) as CiFailure;
    await recordFailureDelivery(tdb.db, { deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date(), payload: null }, failure);
    expect((await findFailure(tdb.db, failure.id))!.fix_loop_id).toBe(loopId);
    expect((await findFailure(tdb.db, loopId))!.fix_loop_id).toBeNull();
  });
});
