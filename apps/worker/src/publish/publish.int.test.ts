import { createRequire } from 'node:module';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findFailure,
  intakeJobId,
  jobArgs,
  JOBS,
  listExecutions,
  listPublications,
  normalizeGithubEvent,
  publishJobId,
  QUEUES,
  requestRetry,
  SINKS,
  updateFailure,
  type CiFailure,
  type IntakeJobData,
  type PublicationRow,
} from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { createGithubApi } from '../github/github-api.ts';
import { createGithubLogSource } from '../github/log-source.ts';
import { createRunnerRegistry, type RunnerRegistry } from '../runners/registry.ts';
import type { Runner } from '../runners/runner.ts';
import { createWorkers, type Workers } from '../worker.ts';
import { resolveSinks } from './publisher.ts';
import { commentMarker } from './pr-comment.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
/** A token planted in the job log; it must never reach GitHub or Slack. */
const SECRET = 'ghp_' + 'Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8';
const OWNER = 'octo-org';
const REPO = 'publish-repo';

let tdb: TestDatabase;
let github: FakeGithub;
let workers: Workers;
let intake: Queue;
let slack: { server: Server; url: string; bodies: any[]; failNext: number };
const prefix = testPrefix();
const redis = createTestRedis();
let nextJobId = 70_000;

/** A GitHub Actions log of one failing test; `test` names the failing test (and so the breakage). */
function actionsLog(test: string, n: number): string {
  const t = (s: number) => `2024-06-0${n % 9}T10:00:${String(s).padStart(2, '0')}.1234567Z`;
  return [
    `${t(1)} ##[group]Run npm test`,
    `${t(2)} npm test`,
    `${t(3)} env: NPM_TOKEN=${SECRET}`,
    ...Array.from({ length: 20 }, (_, i) => `${t(4)}  ✓ src/module${i}.test.ts (${i + n} tests) ${10 + n}ms`),
    `${t(5)}  FAIL  src/${test}.test.ts > ${test} > keeps its promise`,
    `${t(5)} AssertionError: expected 90 to be 81 // Object.is equality`,
    `${t(5)}  ❯ src/${test}.test.ts:42:${17 + n}`,
    `${t(6)}  Test Files  1 failed | 20 passed (21)`,
    `${t(6)} ##[error]Process completed with exit code 1.`,
  ].join('\n');
}

/** Sends one failed workflow_job through intake (as ingest would) with its log on the fake GitHub. */
async function submit(options: { test?: string; pullRequests?: number[]; openPullRequests?: number[]; stepName?: string; branch?: string } = {}): Promise<string> {
  const step = options.stepName ?? 'Run npm test';
  const jobId = nextJobId++;
  const runId = jobId + 1_000_000;
  github.setRun(OWNER, REPO, runId, 1, [
    { id: jobId, name: 'unit', conclusion: 'failure', steps: [{ name: step, conclusion: 'failure', number: 1 }], log: actionsLog(options.test ?? 'cart', jobId) },
  ]);
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  const headSha = jobId.toString(16).padStart(40, 'c');
  if (options.openPullRequests) github.setPullRequests(OWNER, REPO, headSha, options.openPullRequests);
  Object.assign(payload.workflow_job, { id: jobId, run_id: runId, run_attempt: 1, head_sha: headSha, name: 'unit', steps: [{ name: step, status: 'completed', conclusion: 'failure', number: 1 }] });
  if (options.branch) payload.workflow_job.head_branch = options.branch;
  payload.repository.name = REPO;
  payload.repository.owner.login = OWNER;
  payload.installation = { id: 7, node_id: 'x' };
  const failure = { ...(normalizeGithubEvent('workflow_job', payload) as CiFailure), pullRequests: options.pullRequests ?? [] };
  const data: IntakeJobData = { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure, payload };
  await intake.add('intake', data, { jobId: intakeJobId(data.deliveryId) });
  return failure.id;
}

/** Waits until every sink's publication of the failure is settled (published, skipped or failed). */
async function published(failureId: string, timeoutMs = 15_000): Promise<Record<string, PublicationRow>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await listPublications(tdb.db, failureId);
    if (rows.length === SINKS.length && rows.every((r) => r.status !== 'pending')) return Object.fromEntries(rows.map((r) => [r.sink, r]));
    if (Date.now() > deadline) throw new Error(`publications of ${failureId} not settled: ${JSON.stringify(rows.map((r) => [r.sink, r.status, r.last_error]))}`);
    await sleep(50);
  }
}

/** Publishes a failure again as a redelivered or re-run job would (finished jobs removed, enqueued anew), and waits for every sink's job. */
async function republish(failureId: string): Promise<void> {
  const row = await findFailure(tdb.db, failureId);
  const queue = workers.publisher!.queue;
  const jobIds = SINKS.map((sink) => publishJobId(failureId, sink, row!.attempt_base));
  for (const jobId of jobIds) await queue.remove(jobId);
  await workers.publisher!.enqueue(failureId);
  const deadline = Date.now() + 15_000;
  while (!(await Promise.all(jobIds.map((j) => queue.getJobState(j)))).every((s) => s === 'completed' || s === 'failed')) {
    if (Date.now() > deadline) throw new Error(`publish jobs of ${failureId} did not finish`);
    await sleep(50);
  }
}

const writes = () => github.requests.filter((r) => r.method !== 'GET' && !r.path.startsWith('/app/'));

beforeAll(async () => {
  [tdb, github] = await Promise.all([createTestDatabase(), startFakeGithub()]);
  const bodies: any[] = [];
  slack = { server: createServer(), url: '', bodies, failNext: 0 };
  slack.server.on('request', (req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      bodies.push(JSON.parse(raw));
      if (slack.failNext > 0) {
        slack.failNext--;
        res.writeHead(500).end('internal_error');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => slack.server.listen(0, '127.0.0.1', resolve));
  slack.url = `http://127.0.0.1:${(slack.server.address() as AddressInfo).port}/services/T000/B000/XXXX`;

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
    publish: {
      sinks: resolveSinks({ requested: SINKS, githubAuth: 'app', slackWebhookUrl: slack.url, escalateAfter: 3 }, logger),
      github: api,
      attempts: 3,
      backoffMs: 50,
      consoleUrl: CONSOLE_URL,
    },
  });
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
});

afterAll(async () => {
  await workers?.close(5_000);
  await intake?.close();
  await Promise.all([tdb.destroy(), github.stop(), new Promise((resolve) => slack.server.close(resolve)), deleteKeysWithPrefix(redis, prefix)]);
  await redis.quit();
});

/** PITCREW_CONSOLE_URL of these workers: a trailing slash, as an operator may write it. */
const CONSOLE_URL = 'https://pitcrew.example.com/';

describe('publishing', () => {
  it('with PITCREW_CONSOLE_URL, the check run\'s Details link, the PR comment and the Slack message link to the failure\'s console page', async () => {
    const id = await submit({ test: 'console-link', pullRequests: [51] });
    const rows = await published(id);
    expect(rows['check-run']!.status).toBe('published');
    const page = `https://pitcrew.example.com/failures/${encodeURIComponent(id)}`;
    const [run] = [...github.checkRuns.values()].filter((c) => c.external_id === id);
    expect(run!.details_url).toBe(page);
    expect(run!.output.text).toContain(`[Open in the pitcrew console](${page})`);
    const [comment] = [...github.comments.values()].filter((c) => c.body.startsWith(commentMarker(id)));
    expect(comment!.issue_number).toBe(51);
    expect(comment!.body).toContain(`[Open in the pitcrew console](${page})`);
    expect(slack.bodies.some((b: { text: string }) => b.text.includes(`<${page}|in the console>`))).toBe(true);
  });


  it('a final failure gets one check run, one comment per pull request and one Slack message; nothing secret leaves', async () => {
    const from = github.requests.length;
    const id = await submit({ test: 'checkout', pullRequests: [12, 13] });
    const rows = await published(id);
    // What publishing asked of GitHub (the rest is reading the run and its log): a look for a
    // check run of this failure, one create; per PR a look for the marker, one create.
    const sha = (await findFailure(tdb.db, id))!.head_sha;
    const asked = github.requests.slice(from).filter((r) => !r.path.includes('/actions/') && !r.path.startsWith('/app/') && !r.path.startsWith('/_blobs/'));
    expect(asked.map((r) => `${r.method} ${r.path.split('?')[0]}`).sort()).toEqual(
      [
        `GET /repos/${OWNER}/${REPO}/commits/${sha}/check-runs`,
        `POST /repos/${OWNER}/${REPO}/check-runs`,
        `GET /repos/${OWNER}/${REPO}/issues/12/comments`,
        `POST /repos/${OWNER}/${REPO}/issues/12/comments`,
        `GET /repos/${OWNER}/${REPO}/issues/13/comments`,
        `POST /repos/${OWNER}/${REPO}/issues/13/comments`,
      ].sort(),
    );
    expect(rows['check-run']).toMatchObject({ status: 'published', attempts: 1, last_error: null });
    expect(rows['pr-comment']).toMatchObject({ status: 'published', attempts: 1 });
    expect(rows['slack']).toMatchObject({ status: 'published', attempts: 1 });
    expect(rows['issue']).toMatchObject({ status: 'skipped', last_error: 'incident seen 1 time(s), escalated at 3' });

    const runs = [...github.checkRuns.values()].filter((c) => c.external_id === id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ name: 'pitcrew / unit', status: 'completed', conclusion: 'neutral', head_sha: (await findFailure(tdb.db, id))!.head_sha });
    expect(rows['check-run']!.external_id).toBe(String(runs[0]!.id));
    expect(runs[0]!.output.title).toContain('test');
    expect(runs[0]!.output.text).toContain('AssertionError: expected 90 to be 81');
    expect(runs[0]!.output.text).toMatch(/```text\n[\s\S]*FAIL {2}src\/checkout\.test\.ts[\s\S]*\n```/);

    const comments = [...github.comments.values()].filter((c) => c.body.startsWith(commentMarker(id)));
    expect(comments.map((c) => c.issue_number).sort()).toEqual([12, 13]);
    expect(comments.every((c) => c.user.type === 'Bot')).toBe(true);
    expect(rows['pr-comment']!.detail).toEqual({ comments: Object.fromEntries(comments.map((c) => [String(c.issue_number), c.id])) });

    const messages = slack.bodies.filter((b) => b.text.includes('checkout'));
    expect(messages).toHaveLength(1);
    expect(messages[0].text).toContain('*pitcrew*');

    // The triage itself is untouched: three stage executions, status triaged.
    expect(await listExecutions(tdb.db, id)).toHaveLength(3);
    expect(await findFailure(tdb.db, id)).toMatchObject({ status: 'triaged', error: null });

    // The token in the log was redacted before anything left.
    expect(JSON.stringify(github.requests.map((r) => r.body))).not.toContain(SECRET);
    expect(JSON.stringify(slack.bodies)).not.toContain(SECRET);
    expect(runs[0]!.output.text).toContain('[REDACTED');
  });

  it('re-running updates every object in place: nothing when unchanged, PATCH when changed, and finds its objects again without the stored ids', async () => {
    const id = await submit({ test: 'rerun', pullRequests: [21] });
    await published(id);
    const before = writes().length;
    const slackBefore = slack.bodies.length;

    // A redelivered publish job with nothing new sends nothing.
    await republish(id);
    await published(id);
    expect(writes().length).toBe(before);

    // New content (a retried triage): the same check run and comment are PATCHed.
    await updateFailure(tdb.db, id, { summary: 'Second opinion: the discount rounding changed.' });
    await republish(id);
    await published(id);
    const patched = writes().slice(before);
    expect(patched.map((r) => `${r.method} ${r.path.replace(/\d+$/, 'N')}`).sort()).toEqual([
      `PATCH /repos/${OWNER}/${REPO}/check-runs/N`,
      `PATCH /repos/${OWNER}/${REPO}/issues/comments/N`,
    ]);
    const run = [...github.checkRuns.values()].filter((c) => c.external_id === id);
    expect(run).toHaveLength(1);
    expect(run[0]!.output.summary).toContain('Second opinion');

    // The rows are lost (a crash after GitHub made the objects): the check run is found by its
    // external_id and the comment by its marker, and both are updated, not duplicated.
    await tdb.db.deleteFrom('publications').where('failure_id', '=', id).where('sink', 'in', ['check-run', 'pr-comment']).execute();
    await updateFailure(tdb.db, id, { summary: 'Third opinion.' });
    await republish(id);
    await published(id);
    expect([...github.checkRuns.values()].filter((c) => c.external_id === id)).toHaveLength(1);
    const comments = [...github.comments.values()].filter((c) => c.body.startsWith(commentMarker(id)));
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('Third opinion.');
    expect(writes().slice(before).filter((r) => r.method === 'POST')).toEqual([]);

    // A comment someone deleted is posted again, once.
    github.comments.delete(comments[0]!.id);
    await updateFailure(tdb.db, id, { summary: 'Fourth opinion.' });
    await republish(id);
    await published(id);
    expect([...github.comments.values()].filter((c) => c.body.startsWith(commentMarker(id)))).toHaveLength(1);

    // A requested retry of the triage (a new round, as the admin API does it) publishes again
    // under new job ids and updates, never adds.
    const round = await requestRetry(tdb.db, id, 'summarize');
    expect(round).toBeGreaterThan(0);
    const triage = new Queue(JOBS.triage.queue, { connection: redis, prefix });
    await triage.add(...jobArgs(JOBS.triage, { v: 1, failureId: id, round: round! }));
    await triage.close();
    const deadline = Date.now() + 15_000;
    while ((await workers.publisher!.queue.getJobState(publishJobId(id, 'check-run', round!))) !== 'completed') {
      if (Date.now() > deadline) throw new Error('retry round not published');
      await sleep(50);
    }
    expect((await listPublications(tdb.db, id)).find((r) => r.sink === 'check-run')).toMatchObject({ status: 'published' });
    expect([...github.checkRuns.values()].filter((c) => c.external_id === id)).toHaveLength(1);
    expect([...github.comments.values()].filter((c) => c.body.startsWith(commentMarker(id)))).toHaveLength(1);
    expect(await listExecutions(tdb.db, id)).toHaveLength(4); // classify, execute, summarize, summarize of the retry round

    // Slack was told once, whatever happened since.
    expect(slack.bodies.length).toBe(slackBefore);
  });

  it("a model's or agent's answer that repeats a secret is redacted at the boundary before any sink sends it", async () => {
    const id = await submit({ test: 'answer', pullRequests: [31] });
    await published(id);
    const from = github.requests.length;
    const slackFrom = slack.bodies.length;
    // The runner's answer is untrusted: it may quote a secret it read in the log or the checkout.
    const leaked = `Set NPM_TOKEN=${SECRET} and retry; the key ${SECRET} is valid.`;
    await updateFailure(tdb.db, id, { summary: leaked });
    await tdb.db
      .updateTable('executions')
      .set({ output: JSON.stringify({ runner: 'llm', model: 'm', markdown: `## Diagnosis\n${leaked}\n## Summary\n${leaked}` }) })
      .where('failure_id', '=', id)
      .where('stage', '=', 'execute')
      .execute();
    await republish(id);
    await published(id);
    const sent = github.requests.slice(from).filter((r) => r.method !== 'GET');
    expect(sent.length).toBeGreaterThan(0);
    expect(JSON.stringify(sent.map((r) => r.body))).not.toContain(SECRET);
    expect(JSON.stringify(sent.map((r) => r.body))).toContain('[REDACTED:');
    expect(JSON.stringify(slack.bodies.slice(slackFrom))).not.toContain(SECRET);
  });

  it('names from the payload (an unnamed step is "Run <its command>", a branch) pass the boundary before any sink shows them', async () => {
    const from = github.requests.length;
    const slackFrom = slack.bodies.length;
    const id = await submit({ test: 'names', pullRequests: [32], stepName: `Run curl -H "Authorization: Bearer ${SECRET}" https://registry.example.com`, branch: `fix/NPM_TOKEN=${SECRET}` });
    const rows = await published(id);
    expect(rows['check-run']).toMatchObject({ status: 'published' });
    expect(rows['slack']).toMatchObject({ status: 'published' });
    const sent = JSON.stringify(github.requests.slice(from).filter((r) => r.method !== 'GET').map((r) => r.body));
    expect(sent).toContain('Authorization: Bearer [REDACTED:');
    expect(sent).not.toContain(SECRET);
    expect(JSON.stringify(slack.bodies.slice(slackFrom))).not.toContain(SECRET);
  });

  it('escalates a recurring breakage once it reaches the threshold: one issue per incident, updated with the count', async () => {
    const issuesOf = () => [...github.issues.values()].filter((i) => i.body?.includes('pitcrew:incident') && i.title.includes('recurring'));
    const ids: string[] = [];
    for (let n = 1; n <= 2; n++) {
      ids.push(await submit({ test: 'ledger' }));
      expect((await published(ids.at(-1)!))['issue']).toMatchObject({ status: 'skipped', last_error: `incident seen ${n} time(s), escalated at 3` });
    }
    expect(issuesOf()).toHaveLength(0);

    ids.push(await submit({ test: 'ledger' }));
    const third = await published(ids.at(-1)!);
    expect(third['issue']).toMatchObject({ status: 'published' });
    expect(issuesOf()).toHaveLength(1);
    const issue = issuesOf()[0]!;
    expect(third['issue']!.external_id).toBe(String(issue.number));
    expect(issue.title).toBe('pitcrew: recurring test failure in unit');
    expect(issue.body).toContain('**3 times**');
    const incident = await tdb.db.selectFrom('incidents').selectAll().where('id', '=', String((await findFailure(tdb.db, ids[0]!))!.incident_id)).executeTakeFirstOrThrow();
    expect(incident).toMatchObject({ occurrences: 3, issue_number: issue.number });

    // Two more at once: still one issue, its body now says 5.
    ids.push(await submit({ test: 'ledger' }), await submit({ test: 'ledger' }));
    await Promise.all(ids.slice(3).map((id) => published(id)));
    expect(issuesOf()).toHaveLength(1);
    expect(issuesOf()[0]!.body).toContain('**5 times**');
    for (const id of ids) expect(issuesOf()[0]!.body).toContain(`\`${id}\``);
    expect(github.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${OWNER}/${REPO}/issues`)).toHaveLength(1);

    // Publishing an occurrence again (redelivery) updates that one issue; never a second.
    await republish(ids[2]!);
    expect(issuesOf()).toHaveLength(1);
    expect(github.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${OWNER}/${REPO}/issues`)).toHaveLength(1);
    expect((await listPublications(tdb.db, ids[2]!)).find((r) => r.sink === 'issue')).toMatchObject({ status: 'published', external_id: String(issue.number) });

    // Another breakage in the same repository is its own incident, below the threshold.
    const other = await submit({ test: 'inventory' });
    expect((await published(other))['issue']).toMatchObject({ status: 'skipped' });
    expect(issuesOf()).toHaveLength(1);
    expect(JSON.stringify(issuesOf())).not.toContain(SECRET);
  });

  it('a failing sink is retried with backoff, a refusing one stops, and neither changes the failure', async () => {
    github.failNext('POST', new RegExp(`^/repos/${OWNER}/${REPO}/check-runs$`), 502, 2);
    github.failNext('POST', new RegExp(`^/repos/${OWNER}/${REPO}/issues/\\d+/comments$`), 403, 1);
    slack.failNext = 1;
    const slackBefore = slack.bodies.length;
    const id = await submit({ test: 'retries', pullRequests: [31] });
    const rows = await published(id);
    expect(rows['check-run']).toMatchObject({ status: 'published', attempts: 3, last_error: null });
    expect([...github.checkRuns.values()].filter((c) => c.external_id === id)).toHaveLength(1);
    expect(rows['pr-comment']).toMatchObject({ status: 'failed', attempts: 1 });
    expect(rows['pr-comment']!.last_error).toContain('403');
    expect(rows['slack']).toMatchObject({ status: 'published', attempts: 2 });
    expect(slack.bodies.length - slackBefore).toBe(2); // one refused with a 500, one delivered
    expect(await findFailure(tdb.db, id)).toMatchObject({ status: 'triaged', error: null, category: 'test' });
    expect(await listExecutions(tdb.db, id)).toHaveLength(3);
  });

  it('a failure that ends failed is published too, saying it could not be triaged, and stays failed', async () => {
    // A broken rules runner is its own fallback, so the run job fails on every attempt.
    const broken: Runner = { name: 'rules', model: null, estimateUsd: () => 0, execute: async () => { throw new Error('always broken'); } };
    const runners: RunnerRegistry = { runners: { rules: broken }, fallback: broken, llm: null, choose: () => ({ runner: 'rules', model: null }) };
    const ownPrefix = testPrefix();
    const api = createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: 'ghs_testinstallationtoken' }, logger, retries: 0 });
    const own = createWorkers({
      connection: redis,
      prefix: ownPrefix,
      db: tdb.db,
      runners,
      logger,
      concurrency: 2,
      attempts: 2,
      publish: { sinks: resolveSinks({ requested: ['check-run'], githubAuth: 'token', slackWebhookUrl: undefined, escalateAfter: 3 }, logger), github: api, attempts: 2, backoffMs: 50 },
    });
    const ownIntake = new Queue(QUEUES.intake, { connection: redis, prefix: ownPrefix });
    try {
      const saved = intake;
      intake = ownIntake;
      const id = await submit({ test: 'broken' }).finally(() => (intake = saved));
      const deadline = Date.now() + 20_000;
      let rows: PublicationRow[] = [];
      while (!rows.some((r) => r.status === 'published') && Date.now() < deadline) {
        await sleep(100);
        rows = await listPublications(tdb.db, id);
      }
      expect(rows).toMatchObject([{ sink: 'check-run', status: 'published' }]);
      const run = [...github.checkRuns.values()].find((c) => c.external_id === id)!;
      expect(run.output.title).toBe('pitcrew could not triage this failure');
      expect(run.output.summary).toContain('always broken');
      expect(await findFailure(tdb.db, id)).toMatchObject({ status: 'failed' });
    } finally {
      await own.close(5_000);
      await ownIntake.close();
      await deleteKeysWithPrefix(redis, ownPrefix);
    }
  });

  it('a workflow_job failure (no pull_requests in its payload) comments on the open pull request whose head is the commit', async () => {
    const id = await submit({ test: 'lookup', openPullRequests: [41] });
    const rows = await published(id);
    expect(rows['pr-comment']).toMatchObject({ status: 'published' });
    const comments = [...github.comments.values()].filter((c) => c.body.startsWith(commentMarker(id)));
    expect(comments.map((c) => c.issue_number)).toEqual([41]);
    const none = await submit({ test: 'lookup-none' });
    expect((await published(none))['pr-comment']).toMatchObject({ status: 'skipped', last_error: 'no open pull request has this commit as its head' });
  });

  it('without a GitHub credential the GitHub sinks are off and one log line says so', () => {
    const lines: any[] = [];
    const capture = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const sinks = resolveSinks({ requested: SINKS, githubAuth: null, slackWebhookUrl: undefined, escalateAfter: 3 }, capture);
    expect(sinks).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'publishing: some sinks are off', sinks: [] });
    expect(lines[0].off['check-run']).toContain('GITHUB_TOKEN');
    expect(lines[0].off['slack']).toContain('PITCREW_SLACK_WEBHOOK_URL');
  });
});
