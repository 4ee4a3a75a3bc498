/**
 * Runs `close` once on the first SIGINT or SIGTERM, then exits 0 (1 if `close` throws). A second
 * signal exits 1 at once, for an operator who does not want to wait.
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
