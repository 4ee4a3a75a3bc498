import { ConfigError } from './config.ts';

/** A started long-lived role (ingest server, workers) that can be stopped gracefully. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * Ends the process for an error that stopped a command or a role from starting: a
 * {@link ConfigError} prints the invalid variables and exits 2; anything else prints its stack and
 * exits 1.
 */
export function exitOnStartError(error: unknown): never {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
}

/**
 * Runs `close` once on the first SIGINT or SIGTERM, then exits 0 (1 if `close` throws). A second
 * signal exits 1 at once, for an operator who does not want to wait.
 *
 * @param log told of each signal (default: nothing)
 */
export function closeOnSignals(close: () => Promise<void>, log: (message: string) => void = () => {}): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: shutting down`);
    close().then(
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

/**
 * Runs a long-lived role as the whole process, the way container entry points need it: starts
 * it, then stops it gracefully on SIGINT or SIGTERM ({@link closeOnSignals}). A start error ends
 * the process like the `pitcrew` CLI does ({@link exitOnStartError}: 2 for bad configuration).
 *
 * @param start starts the role and resolves when it is serving
 */
export async function runUntilSignal(start: () => Promise<Closable>): Promise<void> {
  let handle: Closable;
  try {
    handle = await start();
  } catch (error) {
    exitOnStartError(error);
  }
  closeOnSignals(() => handle.close());
}
