import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import {
  createDb,
  defaultJobOptions,
  intakeJobId,
  isIgnored,
  normalizeGithubEvent,
  QUEUES,
  type CiFailure,
  type IntakeJobData,
} from '@pitcrew/core';
import { createLlmClient } from '@pitcrew/llm';
import { startFakeLlm } from '@pitcrew/testkit/fake-llm';
import { createLlmRunner, createRunnerRegistry, createWorkers } from '@pitcrew/worker';
import { pino } from 'pino';
import { loadWebhookExamples } from '../demo-deliveries.ts';
import { renderTable } from '../table.ts';
import { referenceProcessor } from './ref-triage.ts';
import { childrenOf, cpuMs, machineInfo, PITCREW_BIN, progress, round, spawnChild, startBenchStack, type BenchChild } from './infra.ts';

/** Options of `pitcrew bench worker`. */
export interface WorkerBenchOptions {
  /** Seconds measured per run, after a warm-up. */
  durationS: number;
  /** One configuration and few jobs: proves the bench works, figures are not meaningful. */
  quick: boolean;
  json?: string;
}

export const WORKER_TARGETS = ['raw', 'reference', 'pitcrew-rules', 'pitcrew-llm'] as const;
export type WorkerTarget = (typeof WORKER_TARGETS)[number];

/** BullMQ jobs one failure takes through pitcrew: intake, triage, run-<runner>. */
export const JOBS_PER_FAILURE = 3;

/** One measured run. CPU figures are ms of CPU per failure (pitcrew) or per job (raw). */
export interface WorkerRun {
  target: WorkerTarget;
  processes: number;
  concurrency: number;
  /** BullMQ jobs completed per second (pitcrew: failures/s × {@link JOBS_PER_FAILURE}). */
  jobsPerSec: number;
  /** Failures triaged end to end per second (pitcrew and the reference). */
  failuresPerSec: number | null;
  /**
   * Postgres statements per failure from intake to its final state, `begin`/`commit` included,
   * counted from Kysely's query log over the same code in this process (see
   * {@link countStatements}); `null` for raw.
   */
  statementsPerFailure: number | null;
  /** Units (jobs or failures) counted in the measured window. */
  measured: number;
  cpuMsPerUnit: { workers: number; redis: number; postgres: number };
  redisCommandsPerUnit: number;
  postgresCommitsPerUnit: number;
  /** Mean wall ms of each stage (executions rows of this run), pitcrew only. */
  stageMs: Record<string, number> | null;
}

export interface WorkerBenchResult {
  bench: 'worker';
  machine: ReturnType<typeof machineInfo>;
  settings: { durationS: number; warmupS: number; quick: boolean; jobsPerFailure: number };
  runs: WorkerRun[];
  /** Per configuration: pitcrew-rules failures/s ÷ the reference's, and jobs/s of each pitcrew target ÷ raw jobs/s. */
  ratios: { processes: number; concurrency: number; rulesToReference: number; rulesToRaw: number; llmToRaw: number }[];
  target: string;
}

const CONFIGS = [
  { processes: 1, concurrency: 1 },
  { processes: 1, concurrency: 10 },
  { processes: 1, concurrency: 50 },
  { processes: 2, concurrency: 10 },
  { processes: 4, concurrency: 10 },
];
const QUICK_CONFIGS = [{ processes: 1, concurrency: 10 }];
const PREFIX = '{pitcrew}';
const RAW_QUEUE = 'bench-raw';
const REFERENCE_QUEUE = 'bench-reference';
/** Failures run through in-process to count statements. */
const STATEMENT_SAMPLE = 40;

/**
 * `pitcrew bench worker`: for each configuration (processes × concurrency), in the same run and
 * interleaved: a raw BullMQ worker with a no-op processor, the pitcrew workers (`pitcrew worker`
 * processes, as production runs them) with the rules runner, and with the llm runner against the
 * test LLM server (0 ms latency, real OpenAI wire format). Each run fills a paused queue, starts
 * the processes, waits until every worker is connected, resumes, and counts completions over a
 * window after a warm-up (or until the queue drains). pitcrew counts failures reaching a final
 * state in Postgres (intake → triage → run-<runner>: {@link JOBS_PER_FAILURE} BullMQ jobs, Postgres
 * writes at each stage); the raw worker counts jobs.
 *
 * Where the time goes: CPU ms per unit of the worker processes, redis-server and all Postgres
 * processes (from /proc), Redis commands and Postgres commits per unit, and the mean wall ms of each
 * stage from the `executions` rows. GitHub is not involved (no token: no log download), nor is
 * publishing (`PITCREW_PUBLISH=none`).
 */
export async function runWorkerBench(options: WorkerBenchOptions): Promise<WorkerBenchResult> {
  const stack = await startBenchStack();
  const llm = await startFakeLlm({ latencyMs: 0, model: 'bench-model' });
  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  const db = createDb(stack.databaseUrl, 2);
  const children: BenchChild[] = [];
  const warmupS = options.quick ? 0.5 : 1;
  try {
    const failurePayload = failureExample();
    const tables = (
      await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public' and tablename not like 'kysely_%'`.execute(db)
    ).rows.map((r) => r.tablename);
    const reset = async () => {
      await redis.flushdb();
      if (tables.length) await sql.raw(`truncate ${tables.map((t) => `"${t}"`).join(', ')} cascade`).execute(db);
      llm.requests.length = 0;
    };
    const cleanEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(GITHUB_|LLM_|PITCREW_|PORT$|HOST$)/.test(k)),
    );
    await reset();
    const statements = {
      reference: await countStatements(stack.databaseUrl, redis, 'reference', failurePayload, llm.url),
      'pitcrew-rules': await countStatements(stack.databaseUrl, redis, 'pitcrew-rules', failurePayload, llm.url),
      'pitcrew-llm': await countStatements(stack.databaseUrl, redis, 'pitcrew-llm', failurePayload, llm.url),
    };
    progress(`statements per failure: reference ${statements.reference}, pitcrew-rules ${statements['pitcrew-rules']}, pitcrew-llm ${statements['pitcrew-llm']}`);
    const runs: WorkerRun[] = [];
    const configs = options.quick ? QUICK_CONFIGS : CONFIGS;
    let order = 0;
    for (const { processes, concurrency } of configs) {
      const targets = WORKER_TARGETS.map((_, i) => WORKER_TARGETS[(i + order) % WORKER_TARGETS.length]!);
      order += 1;
      for (const target of targets) {
        await reset();
        const raw = target === 'raw';
        const reference = target === 'reference';
        const queue = new Queue(raw ? RAW_QUEUE : reference ? REFERENCE_QUEUE : QUEUES.intake, { connection: redis, prefix: PREFIX });
        await queue.pause();
        const total = raw ? (options.quick ? 3_000 : 40_000) : options.quick ? 200 : target === 'pitcrew-llm' ? 2_500 : 4_000;
        await fill(queue, raw, total, failurePayload);
        const spawned: BenchChild[] = [];
        for (let i = 0; i < processes; i++) {
          const env = raw || reference
            ? { ...cleanEnv, REDIS_URL: stack.redisUrl, DATABASE_URL: stack.databaseUrl, BENCH_QUEUE: raw ? RAW_QUEUE : REFERENCE_QUEUE, BENCH_PREFIX: PREFIX, BENCH_CONCURRENCY: String(concurrency) }
            : {
                ...cleanEnv,
                REDIS_URL: stack.redisUrl,
                DATABASE_URL: stack.databaseUrl,
                PITCREW_QUEUE_PREFIX: PREFIX,
                PITCREW_RUNNER: target === 'pitcrew-llm' ? 'llm' : 'rules',
                PITCREW_WORKER_CONCURRENCY: String(concurrency),
                PITCREW_RUNNER_RULES_CONCURRENCY: String(concurrency),
                PITCREW_RUNNER_LLM_CONCURRENCY: String(concurrency),
                PITCREW_PUBLISH: 'none',
                PITCREW_METRICS_PORT: '0',
                PITCREW_SHUTDOWN_TIMEOUT_MS: '1000',
                ...(target === 'pitcrew-llm' ? { LLM_BASE_URL: llm.url, LLM_MODEL: 'bench-model' } : {}),
              };
          const args = raw
            ? [fileURLToPath(new URL('./ref-worker.ts', import.meta.url))]
            : reference
              ? [fileURLToPath(new URL('./ref-triage-main.ts', import.meta.url))]
              : [PITCREW_BIN, 'worker'];
          spawned.push(spawnChild(`${target}-p${processes}-c${concurrency}-${i + 1}`, args, env, stack.dir));
        }
        children.push(...spawned);
        await waitForWorkers(queue, processes, spawned);
        const count = raw
          ? async () => total - (await queue.count()) - (await queue.getActiveCount())
          : async () =>
              Number(
                (await sql<{ n: string }>`select count(*) as n from failures where status in ('triaged', 'failed')`.execute(db)).rows[0]!.n,
              );
        const pids = spawned.map((c) => c.child.pid!).filter(Boolean);
        await queue.resume();
        const t0 = performance.now();
        await sleep(warmupS * 1000);
        let c1 = await count();
        let t1 = performance.now();
        const s1 = await snapshot(redis, db, pids, stack.pids);
        if (c1 >= total) {
          // Drained during the warm-up: the rate over the whole run is all there is.
          c1 = 0;
          t1 = t0;
        }
        let c2 = c1;
        let t2 = t1;
        while (performance.now() - t1 < options.durationS * 1000) {
          await sleep(100);
          c2 = await count();
          t2 = performance.now();
          if (c2 >= total) break;
        }
        const s2 = await snapshot(redis, db, pids, stack.pids);
        const measured = c2 - c1;
        const perSec = measured / ((t2 - t1) / 1000);
        const per = (a: number, b: number) => (measured > 0 ? round((b - a) / measured, 3) : Number.NaN);
        const stageMs = raw || reference
          ? null
          : Object.fromEntries(
              (
                await sql<{ stage: string; ms: number }>`select stage, avg(duration_ms)::float as ms from executions where duration_ms is not null group by stage order by stage`.execute(db)
              ).rows.map((r) => [r.stage, round(r.ms, 2)]),
            );
        const run: WorkerRun = {
          target,
          processes,
          concurrency,
          jobsPerSec: round(raw ? perSec : perSec * JOBS_PER_FAILURE, 0),
          failuresPerSec: raw ? null : round(perSec, 1),
          statementsPerFailure: raw ? null : statements[target as Exclude<WorkerTarget, 'raw'>],
          measured,
          cpuMsPerUnit: {
            workers: per(s1.cpu.workers, s2.cpu.workers),
            redis: per(s1.cpu.redis, s2.cpu.redis),
            postgres: per(s1.cpu.postgres, s2.cpu.postgres),
          },
          redisCommandsPerUnit: per(s1.redisCommands, s2.redisCommands),
          postgresCommitsPerUnit: per(s1.pgCommits, s2.pgCommits),
          stageMs,
        };
        runs.push(run);
        progress(
          `${target} processes=${processes} concurrency=${concurrency}: ${run.jobsPerSec} jobs/s` +
            (run.failuresPerSec !== null ? ` (${run.failuresPerSec} failures/s)` : '') +
            `; cpu ms/unit workers ${run.cpuMsPerUnit.workers} redis ${run.cpuMsPerUnit.redis} postgres ${run.cpuMsPerUnit.postgres}`,
        );
        await Promise.all(spawned.map((c) => c.stop()));
        await queue.close();
      }
    }
    const ratios = configs.map(({ processes, concurrency }) => {
      const find = (t: WorkerTarget) => runs.find((r) => r.target === t && r.processes === processes && r.concurrency === concurrency)!;
      const rawRate = find('raw').jobsPerSec;
      return {
        processes,
        concurrency,
        rulesToReference: round(find('pitcrew-rules').failuresPerSec! / find('reference').failuresPerSec!),
        rulesToRaw: round(find('pitcrew-rules').jobsPerSec / rawRate),
        llmToRaw: round(find('pitcrew-llm').jobsPerSec / rawRate),
      };
    });
    const met = ratios.every((r) => r.rulesToReference >= 0.5);
    // Failures/s must not fall as processes are added, up to the machine's cores, at concurrency 10.
    const scaling = runs
      .filter((r) => r.target === 'pitcrew-rules' && r.concurrency === 10 && r.processes <= machineInfo().nproc)
      .sort((a, b) => a.processes - b.processes);
    const scales = scaling.every((r, i) => i === 0 || r.failuresPerSec! >= scaling[i - 1]!.failuresPerSec! * 0.95);
    const rulesStatements = statements['pitcrew-rules'];
    const result: WorkerBenchResult = {
      bench: 'worker',
      machine: machineInfo(),
      settings: { durationS: options.durationS, warmupS, quick: options.quick, jobsPerFailure: JOBS_PER_FAILURE },
      runs,
      ratios,
      target:
        `pitcrew-rules >= 0.5 x the reference's failures/s in every configuration (${met ? 'met' : 'NOT met'}); ` +
        `failures/s do not fall from 1 to ${machineInfo().nproc} processes (${scales ? 'met' : 'NOT met'}); ` +
        `<= 6 statements per rules-only failure (${rulesStatements <= 6 ? 'met' : 'NOT met'}: ${rulesStatements})`,
    };
    if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await db.destroy();
    await redis.quit().catch(() => redis.disconnect());
    await llm.stop();
    await stack.stop();
  }
}

/** The table `pitcrew bench worker` prints. */
export function renderWorkerTable(result: WorkerBenchResult): string {
  const rows = result.runs.map((r) => [
    r.target,
    r.processes,
    r.concurrency,
    r.jobsPerSec,
    r.failuresPerSec ?? '',
    r.statementsPerFailure ?? '',
    ratioCell(result, r),
    `${r.cpuMsPerUnit.workers} / ${r.cpuMsPerUnit.redis} / ${r.cpuMsPerUnit.postgres}`,
    r.stageMs ? Object.entries(r.stageMs).map(([s, ms]) => `${s} ${ms}`).join(', ') : '',
  ]);
  return [
    renderTable(['target', 'procs', 'conc', 'jobs/s', 'failures/s', 'stmts/failure', 'ratio', 'cpu ms/unit wrk/redis/pg', 'stage wall ms'], rows, 70),
    `pitcrew: ${result.settings.jobsPerFailure} BullMQ jobs per failure (intake, triage, run), the reference 1; unit = failure, job for raw`,
    `target: ${result.target}`,
  ].join('\n');
}

function ratioCell(result: WorkerBenchResult, r: WorkerRun): string {
  const ratio = result.ratios.find((x) => x.processes === r.processes && x.concurrency === r.concurrency)!;
  if (r.target === 'pitcrew-rules') return `${ratio.rulesToReference} x ref, ${ratio.rulesToRaw} x raw`;
  if (r.target === 'pitcrew-llm') return `${ratio.llmToRaw} x raw`;
  return '';
}

/**
 * Postgres statements per failure, from intake to its final state, `begin`/`commit` included:
 * {@link STATEMENT_SAMPLE} intake jobs of distinct failures through the real processors (the
 * pitcrew workers, or the reference processor) in this process, over a Kysely instance whose query
 * log counts every statement (`createDb`'s `onQuery`); no GitHub credential, no budget, no
 * publishing. Counting in-process keeps the query log out of the measured worker processes.
 */
async function countStatements(databaseUrl: string, redis: Redis, target: Exclude<WorkerTarget, 'raw'>, payload: Record<string, any>, llmUrl: string): Promise<number> {
  let statements = 0;
  const counted = createDb(databaseUrl, 4, () => {}, () => (statements += 1));
  const reader = createDb(databaseUrl, 1);
  const prefix = `{bench-stmts-${target}}`;
  const connection = new Redis(redis.options);
  const queue = new Queue(target === 'reference' ? REFERENCE_QUEUE : QUEUES.intake, { connection, prefix });
  const logger = pino({ level: 'silent' });
  let close: () => Promise<void>;
  if (target === 'reference') {
    const workerConnection = new Redis({ ...redis.options, maxRetriesPerRequest: null });
    const worker = new Worker(REFERENCE_QUEUE, referenceProcessor(counted), { connection: workerConnection, prefix, concurrency: 4 });
    close = async () => {
      await worker.close();
      await workerConnection.quit();
    };
  } else {
    const client = target === 'pitcrew-llm' ? createLlmClient({ baseURL: llmUrl, model: 'bench-model' }) : null;
    const runners = client
      ? createRunnerRegistry({ choice: 'llm', llm: createLlmRunner(client, { maxTokens: 512 }), llmClient: client })
      : createRunnerRegistry({ choice: 'rules' });
    const workerConnection = new Redis({ ...redis.options, maxRetriesPerRequest: null });
    const workers = createWorkers({ connection: workerConnection, prefix, db: counted, runners, logger, concurrency: 4, attempts: 5 });
    close = async () => {
      await workers.close(5_000);
      await workerConnection.quit();
    };
  }
  try {
    const before = await finishedFailures(reader);
    // Distinct failures per target: an existing failure would only merge its delivery.
    await fill(queue, false, STATEMENT_SAMPLE, payload, 700_000_000 + WORKER_TARGETS.indexOf(target) * 1_000_000);
    const deadline = Date.now() + 60_000;
    while ((await finishedFailures(reader)) - before < STATEMENT_SAMPLE) {
      if (Date.now() > deadline) throw new Error(`statement count of ${target}: failures not triaged within 60 s`);
      await sleep(50);
    }
    return round(statements / STATEMENT_SAMPLE, 2);
  } finally {
    await close();
    await queue.close();
    await connection.quit();
    await Promise.all([counted.destroy(), reader.destroy()]);
  }
}

async function finishedFailures(db: ReturnType<typeof createDb>): Promise<number> {
  return Number((await sql<{ n: string }>`select count(*) as n from failures where status in ('triaged', 'failed')`.execute(db)).rows[0]!.n);
}

function failureExample(): Record<string, any> {
  const example = (loadWebhookExamples().get('workflow_job') ?? []).find((e) => e.workflow_job?.conclusion === 'failure');
  if (!example) throw new Error('@octokit/webhooks-examples has no failed workflow_job');
  return example;
}

/** Adds `total` jobs in chunks: no-op jobs for raw, intake jobs of distinct failures for pitcrew. */
async function fill(queue: Queue, raw: boolean, total: number, payload: Record<string, any>, idBase = 900_000_000): Promise<void> {
  const options = defaultJobOptions(5);
  for (let start = 0; start < total; start += 500) {
    const jobs = [];
    for (let i = start; i < Math.min(total, start + 500); i++) {
      if (raw) {
        jobs.push({ name: 'noop', data: { i }, opts: options });
        continue;
      }
      const p = structuredClone(payload);
      p.workflow_job.id = idBase + i;
      p.workflow_job.run_id = idBase - 100_000_000 + i;
      p.workflow_job.name = `bench job ${i}`;
      const failure = normalizeGithubEvent('workflow_job', p);
      if (isIgnored(failure)) throw new Error('bench failure example is not a failure');
      const deliveryId = randomUUID();
      const data: IntakeJobData = {
        v: 1,
        deliveryId,
        event: 'workflow_job',
        action: 'completed',
        receivedAt: new Date().toISOString(),
        failure: failure as CiFailure,
        payload: p,
      };
      jobs.push({ name: 'workflow_job', data, opts: { ...options, jobId: intakeJobId(deliveryId) } });
    }
    await queue.addBulk(jobs);
  }
}

async function waitForWorkers(queue: Queue, processes: number, children: BenchChild[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const c of children) {
      if (c.child.exitCode !== null) throw new Error(`${c.name} exited with ${c.child.exitCode}; see ${c.logFile}`);
    }
    if ((await queue.getWorkersCount()) >= processes) return;
    await sleep(100);
  }
  throw new Error(`workers did not connect within 60 s; see ${children[0]?.logFile}`);
}

interface Snapshot {
  cpu: { workers: number; redis: number; postgres: number };
  redisCommands: number;
  pgCommits: number;
}

async function snapshot(
  redis: Redis,
  db: ReturnType<typeof createDb>,
  workerPids: number[],
  stackPids: { redis?: number; postgres?: number },
): Promise<Snapshot> {
  const info = await redis.info('stats');
  const commands = Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  const commits = Number(
    (await sql<{ n: string }>`select xact_commit as n from pg_stat_database where datname = current_database()`.execute(db)).rows[0]?.n ?? Number.NaN,
  );
  return {
    cpu: {
      workers: cpuMs(workerPids),
      redis: stackPids.redis ? cpuMs([stackPids.redis]) : Number.NaN,
      postgres: stackPids.postgres ? cpuMs([stackPids.postgres, ...childrenOf(stackPids.postgres)]) : Number.NaN,
    },
    redisCommands: commands,
    pgCommits: commits,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
