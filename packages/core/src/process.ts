import { ConfigError } from './config.ts';

/** A started long-lived role (ingest server, workers) that can be stopped gracefully. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * Runs a long-lived role as the whole process, the way container entry points need it: starts
 * it, then on the first SIGINT or SIGTERM runs `close` once and exits 0 (1 when `close` throws).
 * A second signal exits 1 at once. A {@link ConfigError} at start prints the invalid variables
 * and exits 2, like the `pitcrew` CLI; any other start error exits 1.
 *
 * @param start starts the role and resolves when it is serving
 */
export async function runUntilSignal(start: () => Promise<Closable>): Promise<void> {
  let handle: Closable;
  try {
    handle = await start();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  }
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(1);
    stopping = true;
    handle.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
