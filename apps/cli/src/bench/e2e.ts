import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { allQueueNames, createDb } from '@pitcrew/core';
import { findFreePort } from '@pitcrew/stack';
import { startFakeLlm } from '@pitcrew/testkit/fake-llm';
import { renderTable } from '../table.ts';
import { childrenOf, cpuMs, machineInfo, percentile, PITCREW_BIN, progress, round, spawnChild, startBenchStack, waitForHttp, type BenchChild } from './infra.ts';

/** Options of `pitcrew bench e2e`. */
export interface E2eBenchOptions {
  /** Seconds of sustained deliveries (default 60). */
  durationS: number;
  /** Deliveries sent per second, at fixed intervals (default 20). */
  rate: number;
  /** Worker processes (default 2). */
  workers: number;
  /** ms the test LLM server waits before answering (default 200). */
  llmLatencyMs: number;
  /** Seconds to wait after the last delivery for every accepted failure to be final (default 60). */
  drainS: number;
  json?: string;
}

/** One sample of the queues: jobs waiting, delayed or active over every queue, `t` s from the start. */
export interface DepthSample {
  t: number;
  depth: number;
}

/** What `pitcrew bench e2e` measured. Times in ms, CPU in % of one core. */
export interface E2eBenchResult {
  bench: 'e2e';
  machine: ReturnType<typeof machineInfo>;
  settings: Omit<E2eBenchOptions, 'json'> & { ingestProcesses: 1; runners: string };
  /** Deliveries sent (each a distinct failure). */
  sent: number;
  /** Answered 202 accepted. */
  accepted: number;
  /** Accepted failures in a final state (triaged or failed) in Postgres by the end of the drain. */
  finished: number;
  triaged: number;
  failed: number;
  /** Accepted failures not final after the drain. */
  lost: number;
  /** Failures with more than one succeeded execution of a stage, or rows for failures never sent. */
  duplicated: number;
  /** Accepted deliveries per second over the sending window. */
  deliveriesPerSec: number;
  /** Failures reaching a final state per second, first delivery to last final state. */
  finishedPerSec: number;
  ingestP50Ms: number;
  ingestP99Ms: number;
  /** Delivery sent → failure's `finished_at` in Postgres. */
  e2eP50Ms: number;
  e2eP99Ms: number;
  e2eMaxMs: number;
  /** Chat requests the test LLM server answered (the llm runner's share). */
  llmCalls: number;
  /** Non-202 answers by status. */
  refused: Record<string, number>;
  queueDepth: DepthSample[];
  /** CPU of redis-server and of Postgres (postmaster and its backends) over the sending window and drain. */
  cpu: { redisPct: number | null; postgresPct: number | null; seconds: number };
}

const SECRET = 'bench-e2e-secret-0123456789';

/** CPU ms of redis-server, and of Postgres with every backend (see `cpuMs`, `childrenOf`); null when not started here. */
function stackCpuMs(pids: { redis?: number; postgres?: number }): { redis: number | null; postgres: number | null } {
  return {
    redis: pids.redis ? cpuMs([pids.redis]) : null,
    postgres: pids.postgres ? cpuMs([pids.postgres, ...childrenOf(pids.postgres)]) : null,
  };
}

/** A small text chart of queue depth: one row per bucket, bar width proportional to the depth. */
export function depthChart(samples: DepthSample[], rows = 12, width = 40): string {
  if (samples.length === 0) return '(no samples)';
  const bucket = Math.max(1, Math.ceil(samples.length / rows));
  const lines: string[] = [];
  const max = Math.max(1, ...samples.map((s) => s.depth));
  for (let i = 0; i < samples.length; i += bucket) {
    const slice = samples.slice(i, i + bucket);
    const peak = Math.max(...slice.map((s) => s.depth));
    const bar = '#'.repeat(Math.round((peak / max) * width));
    lines.push(`${String(Math.round(slice[0]!.t)).padStart(4)} s | ${bar.padEnd(width)} ${peak}`);
  }
  return lines.join('\n');
}

/**
 * Sustained deliveries at a fixed rate through one ingest process and `workers` worker processes
 * (real redis-server with AOF and durable embedded Postgres, from {@link startBenchStack}). Half of
 * the failures are lint failures, triaged by the rules runner; the other half are test failures,
 * sent to the llm runner on the test LLM server with a fixed latency. Measures ingest answer
 * times, end-to-end time from sending a delivery to the failure's `finished_at`, queue depth every
 * second, Redis and Postgres CPU from /proc, and checks that every accepted failure reached a final
 * state exactly once.
 */
export async function runE2eBench(options: E2eBenchOptions): Promise<E2eBenchResult> {
  const stack = await startBenchStack();
  const llm = await startFakeLlm({ model: 'bench-model', latencyMs: options.llmLatencyMs });
  const children: BenchChild[] = [];
  const db = createDb(stack.databaseUrl, 2);
  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  const queues = allQueueNames().map((name) => new Queue(name, { connection: redis, prefix: '{pitcrew}' }));
  try {
    const port = await findFreePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: stack.redisUrl,
      DATABASE_URL: stack.databaseUrl,
      GITHUB_WEBHOOK_SECRET: SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      LLM_BASE_URL: llm.url,
      LLM_MODEL: 'bench-model',
      PITCREW_RUNNER: 'llm',
      PITCREW_STRATEGY: JSON.stringify({ lint: { runner: 'rules' } }),
      PITCREW_LLM_CLASSIFY_BELOW: '0',
    };
    const ingest = spawnChild('ingest', [PITCREW_BIN, 'ingest'], env, stack.dir);
    children.push(ingest);
    for (let i = 1; i <= options.workers; i++) children.push(spawnChild(`worker-${i}`, [PITCREW_BIN, 'worker'], env, stack.dir));
    const ingestUrl = `http://127.0.0.1:${port}`;
    await waitForHttp(`${ingestUrl}/readyz`, 60_000, ingest);
    await new Promise((r) => setTimeout(r, 2_000)); // workers connected
    progress(`sending ${options.rate}/s for ${options.durationS} s to ${ingestUrl} (${options.workers} workers, llm latency ${options.llmLatencyMs} ms)`);

    const example = structuredClone(
      (createRequire(import.meta.url)('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[])
        .find((s) => s.name === 'workflow_job')!
        .examples.find((e) => e.action === 'completed' && e.workflow_job.conclusion === 'failure'),
    );
    const runTag = Date.now() % 1_000_000;
    const sentAt = new Map<string, number>();
    const answers: { status: number; ms: number; failureId: string }[] = [];
    const inFlight: Promise<void>[] = [];
    const depth: DepthSample[] = [];
    const startCpu = stackCpuMs(stack.pids);
    const start = performance.now();
    const wallStart = Date.now();
    const sampler = setInterval(() => {
      void Promise.all(queues.map((q) => q.getJobCounts('waiting', 'delayed', 'active', 'prioritized'))).then((counts) => {
        depth.push({ t: (performance.now() - start) / 1000, depth: counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0) });
      });
    }, 1_000);

    const total = Math.round(options.durationS * options.rate);
    for (let n = 0; n < total; n++) {
      const due = start + (n * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const payload = structuredClone(example);
      const jobId = 9_000_000_000 + runTag * 100_000 + n;
      payload.workflow_job.id = jobId;
      payload.workflow_job.run_id = 9_500_000_000 + runTag * 100_000 + n;
      payload.workflow_job.name = n % 2 ? `test (shard ${n})` : `lint (${n})`;
      if (n % 2) payload.workflow_job.steps = payload.workflow_job.steps.map((s: any) => (s.conclusion === 'failure' ? { ...s, name: 'Run npm test' } : s));
      const failureId = `gh-job-${jobId}`;
      const body = JSON.stringify(payload);
      const t0 = performance.now();
      sentAt.set(failureId, Date.now());
      inFlight.push(
        sign(SECRET, body)
          .then((signature) =>
            fetch(`${ingestUrl}/webhooks/github`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature },
              body,
            }),
          )
          .then(async (res) => {
            await res.arrayBuffer();
            answers.push({ status: res.status, ms: performance.now() - t0, failureId });
          })
          .catch(() => {
            answers.push({ status: 0, ms: performance.now() - t0, failureId });
          }),
      );
    }
    await Promise.all(inFlight);
    const sendingS = (performance.now() - start) / 1000;
    const accepted = new Set(answers.filter((a) => a.status === 202).map((a) => a.failureId));
    progress(`sent ${total} in ${round(sendingS, 1)} s, ${accepted.size} accepted; draining`);

    const drainDeadline = Date.now() + options.drainS * 1000;
    let finishedRows: { id: string; status: string; finished_at: Date | null }[] = [];
    while (Date.now() < drainDeadline) {
      finishedRows = await db.selectFrom('failures').select(['id', 'status', 'finished_at']).where('status', 'in', ['triaged', 'failed']).execute();
      if (finishedRows.length >= accepted.size) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    clearInterval(sampler);
    const elapsedS = (performance.now() - start) / 1000;
    const endCpu = stackCpuMs(stack.pids);
    const pct = (a: number | null, b: number | null) => (a === null || b === null ? null : round(((b - a) / 1000 / elapsedS) * 100, 1));

    const finishedIds = new Set(finishedRows.map((r) => r.id));
    const lost = [...accepted].filter((id) => !finishedIds.has(id));
    const allRows = await db.selectFrom('failures').select('id').execute();
    const strangers = allRows.filter((r) => !sentAt.has(r.id)).length;
    const doubled = await sql<{ n: string }>`select count(distinct failure_id) as n from (
        select failure_id, stage from executions where status = 'succeeded' group by failure_id, stage having count(*) > 1) d`.execute(db);
    const e2e = finishedRows.filter((r) => accepted.has(r.id) && r.finished_at).map((r) => new Date(r.finished_at!).getTime() - sentAt.get(r.id)!);
    const lastFinished = Math.max(...finishedRows.map((r) => (r.finished_at ? new Date(r.finished_at).getTime() : 0)));
    const ingestMs = answers.filter((a) => a.status === 202).map((a) => a.ms);
    const refused: Record<string, number> = {};
    for (const a of answers) if (a.status !== 202) refused[a.status] = (refused[a.status] ?? 0) + 1;

    const result: E2eBenchResult = {
      bench: 'e2e',
      machine: machineInfo(),
      settings: { durationS: options.durationS, rate: options.rate, workers: options.workers, llmLatencyMs: options.llmLatencyMs, drainS: options.drainS, ingestProcesses: 1, runners: 'lint → rules, test → llm (test LLM server)' },
      sent: total,
      accepted: accepted.size,
      finished: [...accepted].filter((id) => finishedIds.has(id)).length,
      triaged: finishedRows.filter((r) => r.status === 'triaged').length,
      failed: finishedRows.filter((r) => r.status === 'failed').length,
      lost: lost.length,
      duplicated: Number(doubled.rows[0]?.n ?? 0) + strangers,
      deliveriesPerSec: round(accepted.size / sendingS, 1),
      finishedPerSec: round(finishedRows.length / ((lastFinished - wallStart) / 1000), 1),
      ingestP50Ms: round(percentile(ingestMs, 50), 1),
      ingestP99Ms: round(percentile(ingestMs, 99), 1),
      e2eP50Ms: Math.round(percentile(e2e, 50)),
      e2eP99Ms: Math.round(percentile(e2e, 99)),
      e2eMaxMs: Math.round(Math.max(...e2e)),
      llmCalls: llm.requests.length,
      refused,
      queueDepth: depth.map((d) => ({ t: round(d.t, 1), depth: d.depth })),
      cpu: { redisPct: pct(startCpu.redis, endCpu.redis), postgresPct: pct(startCpu.postgres, endCpu.postgres), seconds: round(elapsedS, 1) },
    };
    if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await redis.quit().catch(() => redis.disconnect());
    await db.destroy();
    await Promise.all(children.map((c) => c.stop()));
    await llm.stop();
    await stack.stop();
  }
}

/** The human-readable report of {@link runE2eBench}. */
export function renderE2eReport(r: E2eBenchResult): string {
  const table = renderTable(
    ['sent', 'accepted', 'finished', 'lost', 'duplicated', 'deliveries/s', 'finished/s', 'ingest p50/p99 ms', 'e2e p50/p99/max ms', 'redis CPU', 'postgres CPU'],
    [[
      r.sent,
      r.accepted,
      r.finished,
      r.lost,
      r.duplicated,
      r.deliveriesPerSec,
      r.finishedPerSec,
      `${r.ingestP50Ms} / ${r.ingestP99Ms}`,
      `${r.e2eP50Ms} / ${r.e2eP99Ms} / ${r.e2eMaxMs}`,
      r.cpu.redisPct === null ? 'n/a' : `${r.cpu.redisPct}%`,
      r.cpu.postgresPct === null ? 'n/a' : `${r.cpu.postgresPct}%`,
    ]],
  );
  const verdict = r.lost === 0 && r.duplicated === 0 ? 'zero lost, zero duplicated' : `LOST ${r.lost}, DUPLICATED ${r.duplicated}`;
  return [
    table,
    `queue depth (jobs waiting, delayed or active over all queues; peak per bucket):`,
    depthChart(r.queueDepth),
    `check: ${verdict}${Object.keys(r.refused).length ? `; non-202 answers ${JSON.stringify(r.refused)}` : ''}`,
  ].join('\n');
}
