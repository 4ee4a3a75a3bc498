import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishFixAttempt, QUEUES, recordPullRequestOutcome, startFixAttempt } from '@pitcrew/core';
import { createAdminApi, createConsoleApp } from '@pitcrew/console';
import { createApp, createIntakeProducer } from '@pitcrew/ingest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { createRunnerRegistry, createWorkers, type Workers } from '@pitcrew/worker';
import { AdminApiError, createAdminClient, type AdminClient } from './admin/client.ts';
import { failuresLs, failuresRetry, failuresShow } from './commands/failures.ts';
import { fixesBreakers, fixesLoop, fixesLoops, fixesLs, fixesShow, fixesSummary } from './commands/fixes.ts';
import { breakers, incidentsLs } from './commands/incidents.ts';
import { readDeliveryFile, replayFile, replayStored } from './commands/replay.ts';
import { spend } from './commands/spend.ts';

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const jobFailure = (jobId: number) => {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = jobId;
  return payload;
};
const BIN = fileURLToPath(new URL('../bin/pitcrew.mjs', import.meta.url));
const SECRET = 'cli-test-webhook-secret-0123';
const TOKEN = 'cli-test-admin-token-0123456789';
const logger = pino({ level: 'silent' });

let tdb: TestDatabase;
let redis: Redis;
let workerConnection: Redis;
let prefix: string;
let intake: Queue;
let triage: Queue;
let workers: Workers;
let servers: ServerType[] = [];
/** The console's URL (the admin API). */
let baseUrl: string;
/** Ingest's URL (`replay FILE` posts to its webhook route). */
let ingestUrl: string;
let client: AdminClient;
let dir: string;

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const failureRow = (id: string) => tdb.db.selectFrom('failures').selectAll().where('id', '=', id).executeTakeFirst();
const deliveriesOf = (id: string) => tdb.db.selectFrom('deliveries').select(['id', 'outcome']).where('failure_id', '=', id).orderBy('recorded_at').execute();

beforeAll(async () => {
  tdb = await createTestDatabase();
  redis = createTestRedis();
  workerConnection = createTestRedis();
  prefix = testPrefix();
  intake = new Queue(QUEUES.intake, { connection: redis, prefix });
  triage = new Queue(QUEUES.triage, { connection: redis, prefix });
  const producer = createIntakeProducer(intake, redis, prefix);
  const ingest = createApp({ secrets: [SECRET], maxBodyBytes: 1024 * 1024, producer, logger, readiness: {} });
  const console_ = createConsoleApp({ api: createAdminApi({ db: tdb.db, redis, prefix, triage, producer, logger }), session: { adminToken: TOKEN }, readiness: {}, logger });
  const listen = async (fetch: (request: Request) => Response | Promise<Response>) => {
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    servers.push(server);
    const address = server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  };
  baseUrl = await listen(console_.fetch);
  ingestUrl = await listen(ingest.fetch);
  client = createAdminClient({ baseUrl, token: TOKEN });
  workers = createWorkers({ connection: workerConnection, prefix, db: tdb.db, runners: createRunnerRegistry({ choice: 'rules' }), logger, concurrency: 2, attempts: 2 });
  dir = mkdtempSync(join(tmpdir(), 'pitcrew-cli-'));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  await workers.close(5_000);
  await Promise.all([intake.close(), triage.close()]);
  await deleteKeysWithPrefix(redis, prefix);
  await Promise.all([redis.quit(), workerConnection.quit(), tdb.destroy()]);
});

describe('operator commands over the admin API', () => {
  let failureId: string;
  let deliveryId: string;

  it('replay FILE signs a saved {headers, payload} delivery and POSTs it to ingest; the worker triages it', async () => {
    const path = join(dir, 'delivery.json');
    const originalId = randomUUID();
    writeFileSync(path, JSON.stringify({ headers: { 'X-GitHub-Event': 'workflow_job', 'X-GitHub-Delivery': originalId }, payload: jobFailure(Math.floor(Math.random() * 1e12)) }));
    const file = readDeliveryFile(path);
    expect(file).toMatchObject({ event: 'workflow_job', originalDeliveryId: originalId });
    const sent = await replayFile({ baseUrl: ingestUrl, secret: SECRET, file, json: true });
    expect(sent.status).toBe(202);
    const body = JSON.parse(sent.text);
    expect(body).toMatchObject({ replayOf: originalId, answer: { accepted: true } });
    failureId = body.answer.failureId;
    deliveryId = body.deliveryId;
    await until('triaged', () => failureRow(failureId), (f) => f?.status === 'triaged');
    // A wrong secret is refused by ingest, exactly as for GitHub.
    expect((await replayFile({ baseUrl: ingestUrl, secret: 'not-the-secret', file })).status).toBe(401);
    expect(() => readDeliveryFile(join(dir, 'bare.json'))).toThrow(/not a JSON file/);
    writeFileSync(join(dir, 'bare.json'), JSON.stringify(file.payload));
    expect(() => readDeliveryFile(join(dir, 'bare.json'))).toThrow(/--event/);
    expect(readDeliveryFile(join(dir, 'bare.json'), 'workflow_job').event).toBe('workflow_job');
  });

  it('failures ls and show print tables, and --json the API answer', async () => {
    const table = await failuresLs(client, { status: 'triaged' });
    expect(table).toContain(failureId);
    expect(table).toMatch(/triaged\s*│\s*lint\s*│\s*rules/);
    const json = JSON.parse(await failuresLs(client, { json: true, limit: 1 }));
    expect(json.items).toHaveLength(1);
    const shown = await failuresShow(client, failureId);
    expect(shown).toContain(`failure         ${failureId}`);
    expect(shown).toMatch(/classify\s*│\s*1\s*│\s*succeeded\s*│\s*rules/);
    expect(shown).toContain(deliveryId);
    await expect(failuresShow(client, 'gh-job-nope')).rejects.toThrow(/404 not_found: no failure gh-job-nope/);
  });

  it('failures retry --wait re-runs the stage on a worker and shows the new attempts', async () => {
    const out = await failuresRetry(client, failureId, { stage: 'summarize', wait: true, timeoutMs: 15_000 });
    expect(out).toMatch(/^retry queued: \S+ from summarize \(new attempts after 1/);
    expect(out).toMatch(/summarize\s*│\s*2\s*│\s*succeeded/);
    expect((await tdb.db.selectFrom('executions').select('stage').where('failure_id', '=', failureId).where('attempt', '=', 2).execute()).map((r) => r.stage)).toEqual(['summarize']);
  });

  it('replay DELIVERY_ID replays the stored delivery without a second failure', async () => {
    const out = await replayStored(client, deliveryId, { waitMs: 10_000 });
    expect(out).toMatch(/recorded\s+merged, failure triaged/);
    expect(await tdb.db.selectFrom('failures').select('id').where('id', '=', failureId).execute()).toHaveLength(1);
    expect((await deliveriesOf(failureId)).map((d) => d.outcome)).toEqual(['accepted', 'merged']);
  });

  it('fixes ls, show and summary print the attempts the core repository recorded, and --json the API answer', async () => {
    const refused = await startFixAttempt(tdb.db, { failureId, iteration: 1, fixer: 'agent' });
    await finishFixAttempt(tdb.db, refused.id, { status: 'refused', guardRule: 'workflow-edit', guardDetail: ".github/workflows/ci.yml: a fix does not edit CI's own workflow", filesChanged: 1, linesChanged: 3, tokensIn: 900, tokensOut: 100, costUsd: 0.2 });
    const proposed = await startFixAttempt(tdb.db, { failureId, iteration: 2, fixer: 'agent' });
    await finishFixAttempt(tdb.db, proposed.id, {
      status: 'proposed',
      filesChanged: 1,
      linesChanged: 4,
      verify: { command: 'npm run lint', exitCode: 0, ms: 3_100, output: 'lint ok\n0 problems' },
      branch: 'pitcrew/fix-lint',
      prNumber: 7,
      prUrl: 'https://github.example/o/r/pull/7',
      tokensIn: 2100,
      tokensOut: 400,
      costUsd: 0.4,
    });

    const table = await fixesLs(client, {});
    expect(table).toMatch(new RegExp(`${proposed.id}\\s*│\\s*${failureId}\\s*│\\s*\\S+\\s*│\\s*lint\\s*│\\s*2\\s*│\\s*agent\\s*│\\s*proposed`));
    expect(table).toMatch(/refused\s*│\s*workflow-edit\s*│\s*1\/3/);
    expect(table).toContain('exit 0, 3100 ms');
    expect(await fixesLs(client, { status: 'verified' })).toBe('no fix attempts match');
    const page = JSON.parse(await fixesLs(client, { json: true, limit: 1 }));
    expect(page.items.map((f: { id: string }) => f.id)).toEqual([proposed.id]);
    expect(await fixesLs(client, { limit: 1 })).toContain(`more: pitcrew fixes ls --cursor ${page.nextCursor}`);

    const shown = await fixesShow(client, proposed.id);
    expect(shown).toContain(`fix attempt   ${proposed.id}`);
    expect(shown).toContain(`failure       ${failureId} (iteration 2)`);
    expect(shown).toContain('verify        npm run lint → exit 0, 3100 ms');
    expect(shown).toContain('pull request  https://github.example/o/r/pull/7');
    expect(shown).toContain('verify output\n  lint ok\n  0 problems');
    expect(await fixesShow(client, refused.id)).toContain('guard         refused by workflow-edit: .github/workflows/ci.yml');
    expect(JSON.parse(await fixesShow(client, proposed.id, { json: true }))).toMatchObject({ id: proposed.id, pr: { number: 7 } });
    await expect(fixesShow(client, '999999999')).rejects.toThrow(/404 not_found: no fix attempt 999999999/);

    const summary = await fixesSummary(client, { since: '1h' });
    expect(summary).toMatch(/attempts\s+2\n/);
    expect(summary).toMatch(/USD per proposed fix\s+0\.6000/);
    expect(summary).toMatch(/│ running │ proposed │ refused │ verify_failed │ verified │ escalated │ failed │\n.*\n│ 0\s*│ 1\s*│ 1\s*│ 0/);
    expect(summary).toMatch(/refused by guard rule\n.*\n│ workflow-edit │\n.*\n│ 1\s*│/);
    expect(await fixesSummary(client, { fixer: 'rules' })).toMatch(/USD per proposed fix\s+- \(none proposed\)/);
    expect(JSON.parse(await fixesSummary(client, { since: '1h', json: true }))).toMatchObject({ attempts: 2, proposed: 1, costUsd: 0.6, usdPerProposedFix: 0.6 });

    // The failure shows its attempts; the binary has the commands.
    expect(await failuresShow(client, failureId)).toMatch(new RegExp(`${refused.id}\\s*│\\s*1\\s*│\\s*agent\\s*│\\s*refused\\s*│\\s*workflow-edit`));
    const run = promisify(execFile);
    const env = { PATH: process.env.PATH, PITCREW_API_URL: baseUrl, PITCREW_ADMIN_TOKEN: TOKEN };
    const ls = await run(process.execPath, [BIN, 'fixes', 'ls', '--json', '--status', 'refused', '--repo', 'Hello-World'], { cwd: dir, env });
    expect(JSON.parse(ls.stdout).items.map((f: { id: string }) => f.id)).toEqual([refused.id]);
  });

  it('fixes loops, loop, breakers and the summary loop table print the loop the core repository recorded', async () => {
    // The two attempts above are the loop's iterations; its pull request is merged.
    expect(await recordPullRequestOutcome(tdb.db, { loopId: failureId, outcome: 'merged', mergedBy: 'octocat', at: new Date() })).toMatchObject({ iteration: 2 });
    const loops = await fixesLoops(client, {});
    expect(loops).toMatch(new RegExp(`${failureId}\\s*│\\s*\\S+\\s*│\\s*lint\\s*│\\s*merged\\s*│\\s*2\\s*│\\s*agent\\s*│\\s*-\\s*│\\s*-\\s*│\\s*https://github.example/o/r/pull/7\\s*│\\s*merged by octocat`));
    expect(loops).toMatch(/3000\/500\s*│\s*0\.6000/);
    expect(await fixesLoops(client, { status: 'open' })).toBe('no fix loops match');
    expect(JSON.parse(await fixesLoops(client, { json: true }))).toMatchObject({ items: [{ id: failureId, status: 'merged', iterations: 2, costUsd: 0.6 }], nextCursor: null });

    const shown = await fixesLoop(client, failureId);
    expect(shown).toMatch(new RegExp(`fix loop\\s+${failureId}\n`));
    expect(shown).toMatch(/status\s+merged\n/);
    expect(shown).toContain('pull request  https://github.example/o/r/pull/7 (merged by octocat, ');
    expect(shown).toMatch(/│ 1\s*│ agent\s*│ refused\s*│ workflow-edit .*│ -\s*│ -\s*│/);
    await expect(fixesLoop(client, 'gh-job-nope')).rejects.toThrow(/404 not_found: no fix loop gh-job-nope/);

    const summary = await fixesSummary(client, { since: '1h' });
    expect(summary).toContain('fix loops (merge rate = merged / (merged + closed)');
    expect(summary).toMatch(/│ agent\s*│ -\s*│ lint\s*│ 1\s*│ 0\s*│ 0\s*│ 0\s*│ 1\s*│ 0\s*│ 0\s*│ 100\.0%\s*│ 2\.00\s*│ 0\.6000 │ 0\.6000\s*│/);
    expect(summary).toMatch(/│ total\s*│\s*│\s*│ 1\s*│/);
    expect(await fixesSummary(client, { fixer: 'rules' })).toContain('fix loops: none started in the window');

    expect(await fixesBreakers(client)).toMatch(/Hello-World\s*│\s*0\s*│\s*3\s*│\s*closed\s*│\s*-\s*│/);
    expect(await fixesBreakers(client)).toContain('1 repositories, 0 breakers open (threshold 3 exhausted loops in a row, cool-down 3600000 ms)');
    const run = promisify(execFile);
    const env = { PATH: process.env.PATH, PITCREW_API_URL: baseUrl, PITCREW_ADMIN_TOKEN: TOKEN };
    const bin = async (...args: string[]) => JSON.parse((await run(process.execPath, [BIN, 'fixes', ...args, '--json'], { cwd: dir, env })).stdout);
    expect((await bin('loops', '--status', 'merged', '--repo', 'Hello-World')).items.map((l: { id: string }) => l.id)).toEqual([failureId]);
    expect(await bin('breakers')).toMatchObject({ threshold: 3, open: 0 });
  });

  it('spend, incidents ls and breakers print their tables', async () => {
    expect(await spend(client, {})).toMatch(/total\s*│\s*│\s*\d+\s*│\s*0\s*│\s*0\s*│\s*0\.0000/);
    expect(await incidentsLs(client, {})).toBe('no incidents match');
    expect(await breakers(client)).toMatch(/no worker has published/);
  });

  it('a wrong token, ingest\'s URL for the console\'s, or an unreachable API is one clear error', async () => {
    const ingestForConsole = createAdminClient({ baseUrl: ingestUrl, token: TOKEN });
    await expect(failuresLs(ingestForConsole, {})).rejects.toThrow(/404 not_found: no route for GET \/api\/failures \(is PITCREW_API_URL the console's URL\? ingest serves no \/api\)/);
    const wrong = createAdminClient({ baseUrl, token: 'wrong-token-0123456789abc' });
    await expect(failuresLs(wrong, {})).rejects.toThrow(/401 unauthorized.*PITCREW_ADMIN_TOKEN/);
    const gone = createAdminClient({ baseUrl: 'http://127.0.0.1:9', token: TOKEN });
    const error = await failuresLs(gone, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AdminApiError);
    expect((error as Error).message).toMatch(/cannot reach the admin API at http:\/\/127\.0\.0\.1:9/);
  });

  it('the pitcrew binary has the commands and reads PITCREW_API_URL and PITCREW_ADMIN_TOKEN', async () => {
    const run = promisify(execFile);
    const env = { PATH: process.env.PATH, PITCREW_API_URL: baseUrl, PITCREW_ADMIN_TOKEN: TOKEN };
    const { stdout } = await run(process.execPath, [BIN, 'failures', 'ls', '--json', '--repo', 'Hello-World'], { cwd: dir, env });
    expect(JSON.parse(stdout).items.map((f: { id: string }) => f.id)).toContain(failureId);
  });
});
