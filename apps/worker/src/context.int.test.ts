import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listExecutions, findFailure, normalizeGithubEvent, QUEUES, type CiFailure } from '@pitcrew/core';
import { createLlmClient } from '@pitcrew/llm';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { createGithubApi } from './github/github-api.ts';
import { createGithubLogSource } from './github/log-source.ts';
import { processIntake } from './jobs/intake.ts';
import { LeaderPendingError } from './errors.ts';
import { claimScope, classifiedScope, classify, executeAndSummarize, triageFailure, type ClassifyOutput, type StageDeps, type TriageRun } from './stages/index.ts';
import { createLlmRunner } from './runners/llm-runner.ts';
import { createRunnerRegistry } from './runners/registry.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const logger = pino({ level: 'silent' });
const SECRET = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';

let tdb: TestDatabase;
let github: FakeGithub;
let llm: FakeLlm;
let deps: StageDeps;
const prefix = testPrefix();
const redis = createTestRedis();

/** A GitHub Actions log of a failing test step; `n` varies timestamps and durations like a re-run would. */
function actionsLog(n: number): string {
  const t = (s: number) => `2024-05-0${n}T10:00:${String(s).padStart(2, '0')}.1234567Z`;
  return [
    `${t(1)} ##[group]Run actions/checkout@v4`,
    `${t(2)} Syncing repository: octo-org/octo-repo`,
    `${t(3)} ##[endgroup]`,
    `${t(4)} ##[group]Run npm test`,
    `${t(5)} npm test`,
    `${t(6)} env: NPM_TOKEN=${SECRET}`,
    ...Array.from({ length: 40 }, (_, i) => `${t(7)}  ✓ src/module${i}.test.ts (${i + n} tests) ${10 + n}ms`),
    `${t(8)}  FAIL  src/cart.test.ts > totals > applies the discount`,
    `${t(8)} AssertionError: expected 90 to be 81 // Object.is equality`,
    `${t(8)}  ❯ src/cart.test.ts:42:${17 + n}`,
    `${t(9)}  Test Files  1 failed | 40 passed (41)`,
    `${t(9)}       Tests  1 failed | ${300 + n} passed (${301 + n})`,
    `${t(9)} ##[error]Process completed with exit code 1.`,
  ].join('\n');
}

function failureOn(jobId: number, runId: number): { data: Parameters<typeof processIntake>[2] } {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  Object.assign(payload.workflow_job, { id: jobId, run_id: runId, run_attempt: 1, name: 'unit', steps: [{ name: 'Run npm test', status: 'completed', conclusion: 'failure', number: 4 }] });
  Object.assign(payload.repository, { name: 'octo-repo' });
  payload.repository.owner.login = 'octo-org';
  payload.installation = { id: 7, node_id: 'x' };
  return {
    data: { v: 1, deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), failure: normalizeGithubEvent('workflow_job', payload) as CiFailure, payload },
  };
}

async function record(jobId: number, runId: number, log: string | 'expired'): Promise<string> {
  github.setRun('octo-org', 'octo-repo', runId, 1, [{ id: jobId, name: 'unit', conclusion: 'failure', steps: [{ name: 'Run npm test', conclusion: 'failure', number: 4 }], log }]);
  const { data } = failureOn(jobId, runId);
  const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
  await processIntake(tdb.db, triage, data);
  await triage.close();
  return data.failure.id;
}
const run = (failureId: string): TriageRun => ({ failureId, attempt: 1, finalAttempt: false, signal: new AbortController().signal });
/** What the triage job does: claim, classify. */
async function classified(stageDeps: StageDeps, r: TriageRun) {
  const scope = await claimScope(stageDeps, r);
  return { scope, classification: await classify(stageDeps, scope) };
}
/** What a run job does with the classification carried (or, without it, read back). */
async function executed(stageDeps: StageDeps, r: TriageRun, from?: Awaited<ReturnType<typeof classified>>) {
  const { scope, classify: c } = from ? { scope: from.scope, classify: from.classification } : await classifiedScope(stageDeps, r, undefined);
  return executeAndSummarize(stageDeps, scope, c);
}

beforeAll(async () => {
  [tdb, github, llm] = await Promise.all([createTestDatabase(), startFakeGithub(), startFakeLlm()]);
  const client = createLlmClient({ baseURL: llm.url, model: 'test-model' });
  deps = {
    db: tdb.db,
    logger,
    runners: createRunnerRegistry({ choice: 'llm', llm: createLlmRunner(client, { maxTokens: 512 }), llmClient: client }),
    logs: createGithubLogSource(createGithubApi({ baseUrl: github.url, auth: { kind: 'token', token: 'ghp_readonly' }, logger })),
    incidentWindowHours: 24,
  };
});
afterAll(async () => {
  await Promise.all([tdb.destroy(), github.stop(), llm.stop(), deleteKeysWithPrefix(redis, prefix)]);
  await redis.quit();
});

describe('failure context from GitHub logs', () => {
  it('classifies from the extracted excerpt, redacts secrets everywhere, and two failures of one breakage share one diagnosis', async () => {
    const first = await record(9001, 501, actionsLog(1));
    const second = await record(9002, 502, actionsLog(2));
    const before = llm.requests.length;

    const a = await classified(deps, run(first));
    expect(a.classification).toMatchObject({ category: 'test', log: { status: 'ok', jobId: 9001, failedStep: expect.stringContaining('npm test') } });
    expect(a.classification.logExcerpt).toContain('AssertionError: expected 90 to be 81');
    expect(a.classification.logExcerpt).not.toContain(SECRET);
    // The classify output counts the replacements per rule, one per marker in the excerpt.
    const markers = a.classification.logExcerpt!.match(/\[REDACTED:/g)?.length ?? 0;
    expect(Object.values(a.classification.redactions ?? {}).reduce((x, y) => x + y, 0)).toBe(markers);
    expect(a.classification.evidence.some((e) => e.source === 'log')).toBe(true);

    // The follower waits while its leader has not executed yet...
    const b = await classified(deps, run(second));
    expect(b.classification.signature).toBe(a.classification.signature);
    expect(b.classification.incident).toMatchObject({ leaderFailureId: first, occurrences: 2 });
    await expect(executed(deps, run(second), b)).rejects.toBeInstanceOf(LeaderPendingError);

    // ...then reuses the leader's execution: one model call for the breakage.
    await executed(deps, run(first), a);
    const result = await executed(deps, run(second));
    expect(llm.requests.length - before).toBe(1);
    expect(result.runner).toBe('llm');
    const shared = (await listExecutions(tdb.db, second)).find((e) => e.stage === 'execute')!;
    expect(shared).toMatchObject({ tokens_in: 0, tokens_out: 0, output: { sharedFrom: first } });
    // Its summary names its own job and the leader's, whose diagnosis it shares.
    const [leaderRow, followerRow] = [await findFailure(tdb.db, first), await findFailure(tdb.db, second)];
    expect(followerRow!.summary!.startsWith(`\`${followerRow!.job_name}\` failed the same way as \`${leaderRow!.job_name}\` (one incident, one diagnosis): `)).toBe(true);
    expect(leaderRow!.summary).not.toContain('failed the same way');
    expect(await findFailure(tdb.db, second)).toMatchObject({ status: 'triaged', incident_id: a.classification.incident!.id });

    const incident = await tdb.db.selectFrom('incidents').selectAll().where('id', '=', a.classification.incident!.id).executeTakeFirstOrThrow();
    expect(incident).toMatchObject({ occurrences: 2, leader_failure_id: first, category: 'test' });

    // No secret in any prompt or row.
    expect(JSON.stringify(llm.requests.slice(before).map((r) => r.body))).not.toContain(SECRET);
    const rows = await tdb.db.selectFrom('executions').select('output').where('failure_id', 'in', [first, second]).execute();
    expect(JSON.stringify(rows)).not.toContain(SECRET);
    expect(JSON.stringify(llm.requests.slice(before).map((r) => r.body))).toContain('AssertionError');
  });

  it('an expired log (410) is recorded and the triage goes on from the payload', async () => {
    const id = await record(9101, 601, 'expired');
    const result = await triageFailure(deps, run(id));
    expect(result.category).toBe('test');
    const classify = (await listExecutions(tdb.db, id)).find((e) => e.stage === 'classify')!.output as ClassifyOutput;
    expect(classify.log).toMatchObject({ status: 'expired', jobId: 9101 });
    expect(classify.logExcerpt).toBeNull();
    expect(classify.incident).toBeUndefined();
  });

  it('GitHub unreachable: recorded as an error, triaged from the payload', async () => {
    const offline = { ...deps, logs: createGithubLogSource(createGithubApi({ baseUrl: 'http://127.0.0.1:1', auth: { kind: 'token', token: 't' }, logger, retries: 0 })) };
    const id = await record(9201, 701, actionsLog(3));
    const result = await triageFailure(offline, run(id));
    expect(result.category).toBe('test');
    const classify = (await listExecutions(tdb.db, id)).find((e) => e.stage === 'classify')!.output as ClassifyOutput;
    expect(classify.log?.status).toBe('error');
  });

  it('flaky evidence: the same job passed on the same commit in another run; none without a passing twin', async () => {
    const flakyDeps = { ...deps, incidentWindowHours: 0 };
    const before = llm.requests.length;
    const { data } = failureOn(9301, 801);
    const { headSha, workflowName } = data.failure;
    const meta = { headSha, workflowName: workflowName ?? 'CI' };
    github.setRun('octo-org', 'octo-repo', 801, 1, [{ id: 9301, name: 'unit', conclusion: 'failure', log: actionsLog(4) }], meta);
    // The pull_request run of the same commit: `unit` passed there; `lint` failed (irrelevant).
    const passing = actionsLog(4).split('\n').filter((line) => !/FAIL|Assertion|❯|failed|##\[error\]/.test(line)).join('\n');
    github.setRun('octo-org', 'octo-repo', 802, 1, [{ id: 9302, name: 'unit', conclusion: 'success', log: passing }, { id: 9303, name: 'lint', conclusion: 'failure' }], meta);
    const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
    await processIntake(tdb.db, triage, data);
    await triage.close();

    await triageFailure(flakyDeps, run(data.failure.id));
    const rows = await listExecutions(tdb.db, data.failure.id);
    const classify = rows.find((e) => e.stage === 'classify')!.output as ClassifyOutput;
    expect(classify.flaky).toMatchObject({ headSha, passed: { runId: 802, attempt: 1, jobId: 9302, jobName: 'unit' } });
    // The twin's log was diffed against the failing one; the failure's own lines survive.
    expect(classify.log).toMatchObject({ status: 'ok', jobId: 9301, comparedWithJobId: 9302 });
    expect(classify.logExcerpt).toContain('AssertionError: expected 90 to be 81');
    // The llm runner's prompt carries the evidence.
    expect(JSON.stringify(llm.requests.slice(before).map((r) => r.body))).toContain('the same job passed on this commit');
    expect((await findFailure(tdb.db, data.failure.id))?.summary).toBeTruthy();

    // A different commit where no run of `unit` passed: no flaky evidence.
    const other = failureOn(9401, 901);
    other.data.failure = { ...other.data.failure, headSha: 'f'.repeat(40) };
    github.setRun('octo-org', 'octo-repo', 901, 1, [{ id: 9401, name: 'unit', conclusion: 'failure', log: actionsLog(5) }], { headSha: 'f'.repeat(40), workflowName: meta.workflowName });
    github.setRun('octo-org', 'octo-repo', 902, 1, [{ id: 9402, name: 'unit', conclusion: 'failure' }], { headSha: 'f'.repeat(40), workflowName: meta.workflowName });
    const triage2 = new Queue(QUEUES.triage, { connection: redis, prefix });
    await processIntake(tdb.db, triage2, other.data);
    await triage2.close();
    const { classification } = await classified(flakyDeps, run(other.data.failure.id));
    expect(classification.flaky).toBeUndefined();
  });
});
