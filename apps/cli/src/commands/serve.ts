import cluster from 'node:cluster';
import { closeOnSignals, createLogger, parseEnv } from '@pitcrew/core';
import { startConsole } from '@pitcrew/console';
import { IngestEnv, startIngest, startIngestCluster } from '@pitcrew/ingest';
import { startWorker } from '@pitcrew/worker';

/**
 * `pitcrew ingest`: the webhook server, until SIGINT/SIGTERM; `PITCREW_INGEST_PROCESSES` > 1
 * runs that many on one port under `node:cluster`.
 */
export async function runIngest(): Promise<void> {
  const config = parseEnv(IngestEnv, process.env);
  if (config.PITCREW_INGEST_PROCESSES > 1 && cluster.isPrimary) {
    startIngestCluster(config.PITCREW_INGEST_PROCESSES, createLogger('ingest', config.LOG_LEVEL));
    return;
  }
  const ingest = await startIngest(process.env);
  closeOnSignals(() => ingest.close());
}

/**
 * `pitcrew console`: the operator's console (admin API at /api, Bull Board at /admin/queues, the
 * pages at /) on PITCREW_CONSOLE_PORT, until SIGINT/SIGTERM.
 */
export async function runConsole(): Promise<void> {
  const console_ = await startConsole(process.env);
  closeOnSignals(() => console_.close());
}

/** `pitcrew worker`: the BullMQ workers, until SIGINT/SIGTERM (graceful, see PITCREW_SHUTDOWN_TIMEOUT_MS). */
export async function runWorker(): Promise<void> {
  const worker = await startWorker(process.env);
  closeOnSignals(() => worker.close());
}
