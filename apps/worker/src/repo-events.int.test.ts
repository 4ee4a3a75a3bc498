import { createRequire } from 'node:module';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findFailure,
  fixJobId,
  intakeJobId,
  jobArgs,
  JOBS,
  listExecutions,
  listPublications,
  normalizeGithubEvent,
  QUEUES,
  type CiFailure,
  type IntakeJobData,
  type PublicationRow,
  type RepoEvent,
  type RepoEventJobData,
} from '@pitcrew/core';
import { createLlmClient } from '@pitcrew/llm';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { rulesFixer } from './fix/fixer.ts';
import { createGithubApi } from './github/github-api.ts';
import { createGithubLogSource } from './github/log-source.ts';
import { resolveSinks } from './publish/publisher.ts';
import { createRepoConfigSource, type RepoConfigSource } from './repo-config/repo-config.ts';
import { createLlmRunner } from './runners/llm-runner.ts';
import { createRunnerRegistry } from './runners/registry.ts';
import { DEFAULT_SANDBOX } from './sandbox/sandbox.ts';
import { createWorkers, type Workers } from './worker.ts';

// Per-repository configuration and PR commands end to end in one worker process, against the
// real Redis and Postgres of the testkit, the fake GitHub and the fake LLM: .github/pitcrew.yml
// read with ETag revalidation, refreshed and reported on a push, narrowing publishing and fixes;
// /pitcrew fix|rerun|explain|quiet with and without write permission.

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
const OWNER = 'octo-org';
const INSTALLATION = 7;

let tdb: TestDatabase;
let github: FakeGithub;
let llm: FakeLlm;
let workers: Workers;
let repoConfig: RepoConfigSource;
let intake: Queue;
let repoEvents: Queue;
let fixQueue: Queue;
const prefix = testPrefix();
const redis = createTestRedis();
let nextJobId = 90_000;

/** Sends one failed workflow_job of `repo` through intake, on `headSha` (and its branch), with its log on the fake GitHub. */
async function submit(repo: string, options: { headSha?: string; branch?: string; pullRequests?: number[] } = {}): Promise<{ id: string; runId: number }> {
  const jobId = nextJobId++;
  const runId = jobId + 1_000_000;
  const log = ['##[group]Run npm test', ' FAIL  src/cart.test.ts > cart > totals', 'AssertionError: expected 90 to be 81', '##[error]Process completed with exit code 1.'].map((l, i) => `2024-06-01T10:00:0${i}.0000000Z ${l}`).join('\n');
  github.setRun(OWNER, repo, runId, 1, [{ id: jobId, name: 'unit', conclusion: 'failure', steps: [{ name: 'Run npm test', conclusion: 'failure', number: 1 }], log }]);
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: jobId, run_id: runId, run_attempt: 1, head_sha: options.headSha ?? jobId.toString(16).padStart(40, 'c'), head_branch: options.branch ?? 'topic', name: 'unit', steps: [{ name: 'Run npm test', status: 'completed', conclusion: 'failure', number: 1 }] });
  payload.repository.name = repo;
  payload.repository.owner.login = OWNER;
  payload.installation = { id: INSTALLATION, node_id: 'x' };
  const failure = { ...(normalizeGithubEvent('workflow_job', payload) as CiFailure), pullRequests: options.pullRequests ?? [] };
  const data: IntakeJobData = { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure, payload };
  await intake.add('intake', data, { jobId: intakeJobId(data.deliveryId) });
  return { id: failure.id, runId };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Waits until every configured sink's publication of the failure is settled. */
const published = (failureId: string, sinks = 2) =>
  until(`publications of ${failureId}`, async () => {
    const rows = await listPublications(tdb.db, failureId);
    return rows.length === sinks && rows.every((r) => r.status !== 'pending') ? (Object.fromEntries(rows.map((r) => [r.sink, r])) as Record<string, PublicationRow>) : null;
  });

/** Adds one repo-events job (as ingest would) and waits for its result. */
type RepoEventInput = RepoEvent extends infer T ? (T extends RepoEvent ? Omit<T, 'installationId'> & { deliveryId?: string } : never) : never;
async function repoEvent(event: RepoEventInput): Promise<any> {
  const data = { v: 1, receivedAt: new Date().toISOString(), deliveryId: randomUUID(), installationId: INSTALLATION, ...event } as RepoEventJobData;
  const [name, jobData, opts] = jobArgs(JOBS.repoEvents, data);
  await repoEvents.add(name, jobData, opts);
  return until(`repo event ${opts.jobId}`, async () => {
    const job = await repoEvents.getJob(opts.jobId);
    if (job && (await job.isFailed())) throw new Error(`repo event failed: ${job.failedReason}`);
    // The job read above may predate its completion: read it again for its return value.
    return job && (await job.isCompleted()) ? { result: (await repoEvents.getJob(opts.jobId))!.returnvalue } : null;
  }).then((r) => r.result);
}

/** A pull request of `repo` on a fresh head commit, its failure triaged and published. */
async function pullRequestWithFailure(repo: string) {
  const pr = github.seedPullRequest({ owner: OWNER, repo, head: { ref: `topic-${nextJobId}`, sha: randomUUID().replaceAll('-', '').padEnd(40, '0') } });
  const failure = await submit(repo, { headSha: pr.head.sha, branch: pr.head.ref, pullRequests: [pr.number] });
  await published(failure.id);
  return { pr, failure };
}
const command = (repo: string, prNumber: number, cmd: 'fix' | 'rerun' | 'explain' | 'quiet', user: string) =>
  repoEvent({ kind: 'pr-command', owner: OWNER, repo, command: cmd, prNumber, commentId: 5_000_000 + nextJobId++, user });
const repliesOn = (repo: string, prNumber: number) => [...github.comments.values()].filter((c) => c.repo === repo && c.issue_number === prNumber && !c.body.startsWith('<!-- pitcrew:failure'));

beforeAll(async () => {
  [tdb, github, llm] = await Promise.all([createTestDatabase(), startFakeGithub(), startFakeLlm({ model: 'strong-model' })]);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'app', appId: '12345', privateKey }, logger, retries: 0 });
  const sinks = resolveSinks({ requested: ['check-run', 'pr-comment'], githubAuth: 'app', slackWebhookUrl: undefined, escalateAfter: 3 }, logger);
  // TTL 0: every read revalidates with GitHub, so the ETag path is exercised on each one.
  repoConfig = createRepoConfigSource({ redis, prefix, github: api, ttlSeconds: 0, logger, org: { sinks: sinks.map((s) => s.name), reruns: true, fix: { mode: 'propose', categories: ['test', 'lint'], branches: [] } } });
  const client = createLlmClient({ baseURL: llm.url, model: 'default-model' });
  workers = createWorkers({
    connection: redis,
    prefix,
    db: tdb.db,
    // Rules triage by default; the strong model only when asked (`/pitcrew explain`).
    runners: createRunnerRegistry({ choice: 'rules', llm: createLlmRunner(client, { maxTokens: 256 }), llmClient: client, models: { strong: 'strong-model' } }),
    logger,
    concurrency: 4,
    attempts: 2,
    logs: createGithubLogSource(api),
    incidentWindowHours: 0,
    publish: { sinks, github: api, attempts: 2, backoffMs: 50 },
    github: api,
    repoConfig,
    fix: {
      policy: { mode: 'propose', dryRun: true, dryRunDir: '/tmp', fixer: 'rules', repositories: [], branches: [], categories: ['test', 'lint'], maxFiles: 10, maxLines: 200, usdPerFix: 1, timeoutMs: 60_000, commitLabel: 'pitcrew:fix', author: { name: 'pitcrew[bot]', email: 'bot@example.com' }, maxIterations: 3, loopUsd: 3, breaker: { threshold: 3, cooldownMs: 3_600_000 }, escalationLabel: 'pitcrew:escalated' },
      fixers: { rules: rulesFixer(), agent: null },
      sandbox: { ...DEFAULT_SANDBOX, kind: 'none' },
      cloneUrl: 'file:///nonexistent/{owner}/{repo}.git',
      agentEstimateUsd: 0,
      concurrency: 1,
    },
  });
  // Fix jobs stay in their queue, where the tests look for them: this file tests who may start one, not the fix.
  await workers.fix!.worker.close();
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  repoEvents = new Queue(QUEUES.repoEvents, { connection: redis, prefix });
  fixQueue = new Queue(QUEUES.fix, { connection: redis, prefix });
});

afterAll(async () => {
  await workers?.close(5_000);
  await Promise.all([intake?.close(), repoEvents?.close(), fixQueue?.close()]);
  await Promise.all([tdb.destroy(), github.stop(), llm.stop(), deleteKeysWithPrefix(redis, prefix)]);
  await redis.quit();
});

describe('.github/pitcrew.yml', () => {
  it('is revalidated with its ETag: GitHub answers 304 and the cached file is reused', async () => {
    github.setFile(OWNER, 'etag-repo', '.github/pitcrew.yml', 'quiet: true\n');
    const from = github.requests.length;
    const first = await repoConfig.read(OWNER, 'etag-repo', INSTALLATION);
    const second = await repoConfig.read(OWNER, 'etag-repo', INSTALLATION);
    expect(first).toMatchObject({ state: 'valid', via: 'fetched', report: { policy: { quiet: true, source: 'repository' } } });
    expect(second).toMatchObject({ state: 'valid', via: 'not-modified', report: { policy: { quiet: true } } });
    const asked = github.requests.slice(from).filter((r) => r.path.includes('/contents/'));
    expect(asked).toHaveLength(2);
    expect(asked[0]!.headers['if-none-match']).toBeUndefined();
    expect(asked[1]!.headers['if-none-match']).toMatch(/^"[0-9a-f]{40}"$/);
    // A cache within its TTL asks nothing.
    const cached = createRepoConfigSource({ redis, prefix, github: createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: 't' }, logger }), ttlSeconds: 3600, logger, org: repoConfig.org });
    const before = github.requests.length;
    expect((await cached.read(OWNER, 'etag-repo', INSTALLATION)).via).toBe('cache');
    expect(github.requests.length).toBe(before);
  });

  it('absent: the organisation\'s configuration applies', async () => {
    const read = await repoConfig.read(OWNER, 'no-config-repo', INSTALLATION);
    expect(read).toMatchObject({ state: 'absent', report: { policy: { source: 'organisation', sinks: ['check-run', 'pr-comment'] }, notes: [] } });
  });

  it('a push refreshes it and reports it on the push\'s head commit; an invalid file is reported once as failure and the organisation\'s defaults apply', async () => {
    const repo = 'pushed-repo';
    github.setFile(OWNER, repo, '.github/pitcrew.yml', 'fix:\n  mode: commit\n');
    expect((await repoConfig.read(OWNER, repo, INSTALLATION)).report.policy.fix.mode).toBe('propose');
    const sha1 = 'a'.repeat(40);
    const narrowed = await repoEvent({ kind: 'config-push', owner: OWNER, repo, headSha: sha1, defaultBranch: 'main' });
    expect(narrowed).toMatchObject({ conclusion: 'neutral' });
    const neutral = [...github.checkRuns.values()].find((c) => c.repo === repo && c.head_sha === sha1)!;
    expect(neutral).toMatchObject({ name: 'pitcrew/config', conclusion: 'neutral' });
    expect(neutral.output.summary).toContain('fix.mode: commit asked, the organisation allows propose; propose applies');

    // The author pushes a broken file: the push refreshes the cache at once.
    github.setFile(OWNER, repo, '.github/pitcrew.yml', 'fix:\n  mode: yolo\nbudget_usd: 1000\n');
    const sha2 = 'b'.repeat(40);
    const deliveryId = randomUUID();
    expect(await repoEvent({ kind: 'config-push', owner: OWNER, repo, headSha: sha2, defaultBranch: 'main', deliveryId })).toMatchObject({ conclusion: 'failure' });
    const failure = [...github.checkRuns.values()].filter((c) => c.repo === repo && c.head_sha === sha2);
    expect(failure).toHaveLength(1);
    expect(failure[0]).toMatchObject({ name: 'pitcrew/config', conclusion: 'failure', output: { title: ".github/pitcrew.yml is invalid; the organisation's defaults apply" } });
    expect(failure[0]!.output.summary).toMatch(/fix\.mode: /);
    expect(failure[0]!.output.summary).toMatch(/budget_usd/);
    const read = await repoConfig.read(OWNER, repo, INSTALLATION);
    expect(read).toMatchObject({ state: 'invalid', report: { policy: { source: 'organisation', fix: { mode: 'propose' } } } });

    // Reported once: the redelivery adds no job, and a second delivery for the same commit updates the check run in place.
    await repoEvents.add(...jobArgs(JOBS.repoEvents, { v: 1, kind: 'config-push', deliveryId, receivedAt: new Date().toISOString(), owner: OWNER, repo, installationId: INSTALLATION, headSha: sha2, defaultBranch: 'main' }));
    await repoEvent({ kind: 'config-push', owner: OWNER, repo, headSha: sha2, defaultBranch: 'main' });
    expect([...github.checkRuns.values()].filter((c) => c.repo === repo && c.head_sha === sha2)).toHaveLength(1);
  });

  it('narrows the sinks: a repository that publishes only check runs gets no PR comment', async () => {
    const repo = 'checks-only-repo';
    github.setFile(OWNER, repo, '.github/pitcrew.yml', 'sinks: [check-run]\n');
    const { pr, failure } = await pullRequestWithFailure(repo);
    const rows = await published(failure.id);
    expect(rows['check-run']!.status).toBe('published');
    expect(rows['pr-comment']).toMatchObject({ status: 'skipped', last_error: "pr-comment is not among this repository's sinks (.github/pitcrew.yml)" });
    expect([...github.comments.values()].filter((c) => c.repo === repo && c.issue_number === pr.number)).toEqual([]);
  });

  it('narrows the fix: a category the repository does not fix gets no fix job', async () => {
    const repo = 'lint-fix-only-repo';
    github.setFile(OWNER, repo, '.github/pitcrew.yml', 'fix:\n  categories: [lint]\n');
    const narrowed = await submit(repo);
    const open = await submit('fixable-repo');
    await published(narrowed.id);
    await published(open.id);
    const round = (id: string) => findFailure(tdb.db, id).then((f) => f!.attempt_base);
    await until('the fix job of the unconfigured repository', async () => fixQueue.getJob(fixJobId(open.id, await round(open.id), 1)));
    expect(await fixQueue.getJob(fixJobId(narrowed.id, await round(narrowed.id), 1))).toBeUndefined();
  });
});

describe('PR commands', () => {
  it('/pitcrew quiet from a writer: +1, one reply, and no further pitcrew comment on that pull request', async () => {
    const repo = 'quiet-repo';
    github.setCollaborator(OWNER, repo, 'writer', 'write');
    const { pr } = await pullRequestWithFailure(repo);
    const result = await command(repo, pr.number, 'quiet', 'writer');
    expect(result).toMatchObject({ outcome: 'done', reaction: '+1', reply: 'OK @writer: pitcrew will post no further comments on this pull request.' });
    expect(github.reactions.at(-1)).toMatchObject({ repo, content: '+1' });
    expect(repliesOn(repo, pr.number).map((c) => c.body)).toEqual(['OK @writer: pitcrew will post no further comments on this pull request.']);
    const row = await tdb.db.selectFrom('pr_quiet').selectAll().where('repo', '=', repo).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ owner: OWNER, pr_number: pr.number, requested_by: 'writer' });

    // A new failure on the quiet pull request: its check run, no comment.
    const comments = [...github.comments.values()].filter((c) => c.repo === repo).length;
    const next = await submit(repo, { headSha: pr.head.sha, branch: pr.head.ref, pullRequests: [pr.number] });
    const rows = await published(next.id);
    expect(rows['check-run']!.status).toBe('published');
    expect(rows['pr-comment']).toMatchObject({ status: 'skipped', last_error: `quiet: /pitcrew quiet on pull request ${pr.number}` });
    expect([...github.comments.values()].filter((c) => c.repo === repo).length).toBe(comments);
    // Later commands there are answered with the reaction alone.
    const again = await command(repo, pr.number, 'quiet', 'writer');
    expect(again).toMatchObject({ reaction: '+1', reply: null });
    expect([...github.comments.values()].filter((c) => c.repo === repo).length).toBe(comments);
  });

  it('refuses politely without write permission: a confused reaction and a reply naming the permission', async () => {
    const repo = 'readers-repo';
    github.setCollaborator(OWNER, repo, 'reader', 'read');
    github.setCollaborator(OWNER, repo, 'triager', 'triage');
    const { pr } = await pullRequestWithFailure(repo);
    const rerunsBefore = github.reruns.length;
    for (const [user, cmd, role] of [['reader', 'quiet', 'read'], ['triager', 'rerun', 'triage'], ['stranger', 'fix', 'none'], ['reader', 'explain', 'read']] as const) {
      const result = await command(repo, pr.number, cmd, user);
      expect(result).toMatchObject({ outcome: 'unauthorized', reaction: 'confused', reply: `Sorry @${user}, \`/pitcrew ${cmd}\` needs write permission on ${OWNER}/${repo} (admin, maintain or write); you have ${role}.` });
      expect(github.reactions.at(-1)).toMatchObject({ repo, content: 'confused' });
    }
    expect(await tdb.db.selectFrom('pr_quiet').selectAll().where('repo', '=', repo).execute()).toEqual([]);
    expect(github.reruns.length).toBe(rerunsBefore);
    expect(github.requests.filter((r) => r.path === `/repos/${OWNER}/${repo}/collaborators/stranger/permission`)).toHaveLength(1);
  });

  it('/pitcrew rerun from a maintainer re-runs the failed jobs of the pull request\'s latest failed run', async () => {
    const repo = 'rerun-repo';
    github.setCollaborator(OWNER, repo, 'maintainer', 'maintain');
    const { pr, failure } = await pullRequestWithFailure(repo);
    const result = await command(repo, pr.number, 'rerun', 'maintainer');
    expect(result).toMatchObject({ outcome: 'done', reaction: 'rocket', reply: `@maintainer re-running the failed jobs of workflow run ${failure.runId} (unit).` });
    expect(github.reruns.at(-1)).toEqual({ owner: OWNER, repo, scope: 'run', id: failure.runId });
    expect(github.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${OWNER}/${repo}/actions/runs/${failure.runId}/rerun-failed-jobs`)).toHaveLength(1);
  });

  it('/pitcrew fix from an admin starts a fix attempt through the fix queue and policy; the repository\'s policy can refuse it', async () => {
    const repo = 'fix-repo';
    github.setCollaborator(OWNER, repo, 'admin', 'admin');
    const { pr, failure } = await pullRequestWithFailure(repo);
    const round = (await findFailure(tdb.db, failure.id))!.attempt_base;
    // Triage already queued the first attempt (the policy allows it); the command adds it anew.
    await until('the automatic fix job', () => fixQueue.getJob(fixJobId(failure.id, round, 1)));
    await fixQueue.remove(fixJobId(failure.id, round, 1));
    const result = await command(repo, pr.number, 'fix', 'admin');
    expect(result).toMatchObject({ outcome: 'done', reaction: 'rocket', reply: '@admin a fix attempt for unit is queued; its result will appear in pitcrew\'s report.' });
    expect(await fixQueue.getJob(fixJobId(failure.id, round, 1))).toBeDefined();

    const closed = 'fix-off-repo';
    github.setCollaborator(OWNER, closed, 'admin', 'admin');
    github.setFile(OWNER, closed, '.github/pitcrew.yml', 'fix:\n  mode: off\n');
    const other = await pullRequestWithFailure(closed);
    const refused = await command(closed, other.pr.number, 'fix', 'admin');
    expect(refused).toMatchObject({ outcome: 'refused', reaction: 'confused', reply: '@admin `/pitcrew fix`: no fix attempt for unit: fix.mode is off for this repository (.github/pitcrew.yml, or PITCREW_FIX).' });
    expect(await fixQueue.getJob(fixJobId(other.failure.id, 0, 1))).toBeUndefined();
  });

  it('/pitcrew explain triages the failure again with the strong model and updates the report in place', async () => {
    const repo = 'explain-repo';
    github.setCollaborator(OWNER, repo, 'writer', 'write');
    const { pr, failure } = await pullRequestWithFailure(repo);
    const comment = [...github.comments.values()].find((c) => c.repo === repo && c.body.startsWith('<!-- pitcrew:failure'))!;
    const bodyBefore = comment.body;
    const calls = llm.requests.length;
    const result = await command(repo, pr.number, 'explain', 'writer');
    expect(result).toMatchObject({ outcome: 'done', reaction: 'rocket', reply: '@writer triaging unit again with the strong model (strong-model); the report will be updated in place.' });
    const execute = await until('the strong model\'s execution', async () => (await listExecutions(tdb.db, failure.id)).find((e) => e.stage === 'execute' && e.runner === 'llm' && e.status === 'succeeded'));
    expect(execute.model).toBe('strong-model');
    expect(llm.requests.slice(calls).some((r) => r.body.model === 'strong-model')).toBe(true);
    await until('the triaged round', async () => (await findFailure(tdb.db, failure.id))!.status === 'triaged');
    await until('the comment updated in place', async () => github.comments.get(comment.id)!.body !== bodyBefore || null);
    expect(github.comments.get(comment.id)!.body).toContain('Compare with the last passing run.');
    expect([...github.comments.values()].filter((c) => c.repo === repo && c.body.startsWith('<!-- pitcrew:failure'))).toHaveLength(1);
  });

  it('is ignored, with nothing posted, in a repository whose file turns pitcrew off', async () => {
    const repo = 'off-repo';
    github.setCollaborator(OWNER, repo, 'writer', 'write');
    github.setFile(OWNER, repo, '.github/pitcrew.yml', 'enabled: false\n');
    const pr = github.seedPullRequest({ owner: OWNER, repo, head: { ref: 'x', sha: 'd'.repeat(40) } });
    const reactions = github.reactions.length;
    expect(await command(repo, pr.number, 'quiet', 'writer')).toMatchObject({ outcome: 'ignored', reaction: null, reply: null });
    expect(github.reactions.length).toBe(reactions);
    expect(repliesOn(repo, pr.number)).toEqual([]);
  });
});
