import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
    // Slow suites (the fix corpus, tens of seconds of sandboxed tool runs) run with the fault suite.
    exclude: ['**/node_modules/**', '**/*.slow.test.ts'],
    // One redis-server and one embedded Postgres for the whole run; each test file clones its
    // own database from a migrated template and uses its own Redis key prefix (@pitcrew/testkit).
    globalSetup: ['./packages/testkit/src/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // Child processes rather than threads: tests spawn processes and start servers.
    pool: 'forks',
    // Files mostly wait on Redis/Postgres, so use at least 2 workers even on 2 cores, and at
    // most 4 so the shared Postgres (max_connections 100) is never exhausted.
    maxWorkers: Math.min(4, Math.max(2, availableParallelism())),
  },
});
