import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { renderE2eReport, runE2eBench } from '../bench/e2e.ts';
import { renderIngestTable, runIngestBench } from '../bench/ingest.ts';
import { renderLlmTable, runLlmBench } from '../bench/llm.ts';
import { renderRedactTable, runRedactBench } from '../bench/redact.ts';
import { progress } from '../bench/infra.ts';
import { renderWorkerTable, runWorkerBench } from '../bench/worker.ts';

/** Options shared by the `pitcrew bench` subcommands. */
export interface BenchCommandOptions {
  /** Write the result as JSON to this file. */
  json?: string;
  /** Seconds of load per measured run (default per bench). */
  duration?: number;
  /** Small, fast runs (smoke test of the bench itself; figures are not meaningful). */
  quick?: boolean;
}

/** `pitcrew bench ingest`. */
export async function runBenchIngest(
  opts: BenchCommandOptions & { connections: number; rounds?: number; ingestProcesses?: number },
): Promise<void> {
  const result = await runIngestBench({
    durationS: opts.duration ?? (opts.quick ? 1 : 5),
    connections: opts.connections,
    rounds: opts.rounds ?? (opts.quick ? 1 : 3),
    ingestProcesses: opts.ingestProcesses ?? 1,
    ...(opts.json ? { json: opts.json } : {}),
  });
  console.log('ingest: pitcrew vs the floor reference, bare Hono and the minimal peer (autocannon)');
  console.log(renderIngestTable(result));
}

/** `pitcrew bench worker`. */
export async function runBenchWorker(opts: BenchCommandOptions): Promise<void> {
  const result = await runWorkerBench({
    durationS: opts.duration ?? (opts.quick ? 1.5 : 4),
    quick: opts.quick ?? false,
    ...(opts.json ? { json: opts.json } : {}),
  });
  console.log('worker: pitcrew pipeline (rules, llm against the test LLM server) vs the naive reference worker and a raw BullMQ no-op worker');
  console.log(renderWorkerTable(result));
}

/** `pitcrew bench llm`. */
export async function runBenchLlm(opts: BenchCommandOptions & { calls?: number }): Promise<void> {
  const result = await runLlmBench({
    calls: opts.calls ?? (opts.quick ? 100 : 2_000),
    ...(opts.json ? { json: opts.json } : {}),
  });
  console.log('llm: @pitcrew/llm client vs the raw openai SDK, same test LLM server (0 ms latency)');
  console.log(renderLlmTable(result));
}

/**
 * `pitcrew bench e2e`: sustained deliveries through ingest, workers and Postgres.
 *
 * @returns the exit code: 0 when nothing accepted was lost or duplicated, else 1
 */
export async function runBenchE2e(
  opts: { json?: string; duration: number; rate: number; workers: number; llmLatency: number; drain: number },
): Promise<number> {
  const result = await runE2eBench({
    durationS: opts.duration,
    rate: opts.rate,
    workers: opts.workers,
    llmLatencyMs: opts.llmLatency,
    drainS: opts.drain,
    ...(opts.json ? { json: opts.json } : {}),
  });
  console.log('e2e: deliveries → ingest → workers → Postgres, sustained');
  console.log(renderE2eReport(result));
  return result.lost === 0 && result.duplicated === 0 ? 0 : 1;
}

/** `pitcrew bench redact`. */
export async function runBenchRedact(opts: BenchCommandOptions & { runs?: number }): Promise<void> {
  const result = await runRedactBench({
    runs: opts.runs ?? (opts.quick ? 50 : 2_000),
    onProgress: progress,
    ...(opts.json ? { json: opts.json } : {}),
  });
  console.log("redact: pitcrew redactSecrets vs secretlint's own lintSource (same recommended preset), same text");
  console.log(renderRedactTable(result));
}

/** `pitcrew bench` with no subcommand: every bench in turn, JSON files in `jsonDir` when given. */
export async function runBenchAll(opts: { jsonDir?: string; quick?: boolean }): Promise<void> {
  const file = (name: string) => (opts.jsonDir ? { json: join(opts.jsonDir, `${name}.json`) } : {});
  if (opts.jsonDir) mkdirSync(opts.jsonDir, { recursive: true });
  const quick = opts.quick ? { quick: true } : {};
  await runBenchIngest({ ...file('ingest'), connections: 50, ...quick });
  await runBenchWorker({ ...file('worker'), ...quick });
  await runBenchLlm({ ...file('llm'), ...quick });
  await runBenchRedact({ ...file('redact'), ...quick });
}
