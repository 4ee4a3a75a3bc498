import { startIngest } from '@pitcrew/ingest';
import { startWorker } from '@pitcrew/worker';
import { closeOnSignals } from '../signals.ts';

/** `pitcrew ingest`: the webhook server, until SIGINT/SIGTERM. */
export async function runIngest(): Promise<void> {
  const ingest = await startIngest(process.env);
  closeOnSignals(() => ingest.close());
}

/** `pitcrew worker`: the BullMQ workers, until SIGINT/SIGTERM (graceful, see PITCREW_SHUTDOWN_TIMEOUT_MS). */
export async function runWorker(): Promise<void> {
  const worker = await startWorker(process.env);
  closeOnSignals(() => worker.close());
}
