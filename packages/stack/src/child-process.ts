import type { ChildProcess } from 'node:child_process';

/** True once `child` has exited or was killed by a signal, or when it never started. */
export function hasExited(child: ChildProcess): boolean {
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
}

/**
 * Waits for `child` to exit.
 *
 * @param timeoutMs resolve `false` after this many milliseconds if it is still running
 * @returns true when the process has exited
 */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * Stops `child`: sends `signal`, waits up to `graceMs`, then sends SIGKILL and waits for the exit.
 * Does nothing when the process has already exited.
 *
 * @param signal the polite signal (SIGTERM for redis-server, SIGINT = "fast shutdown" for Postgres)
 * @param graceMs milliseconds to wait before SIGKILL
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  child.kill(signal);
  if (await waitForExit(child, graceMs)) return;
  child.kill('SIGKILL');
  await waitForExit(child, 5_000);
}

/**
 * Kills `child` with `signal` when the Node process exits normally (the `exit` event is
 * synchronous, so the child is signalled but not awaited).
 *
 * @returns a function that removes the hook (call it once the child has been stopped)
 */
export function killOnExit(child: ChildProcess, signal: NodeJS.Signals): () => void {
  const hook = (): void => {
    if (!hasExited(child)) child.kill(signal);
  };
  process.on('exit', hook);
  return () => process.off('exit', hook);
}
