import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the fault suite (tests/faults/*.faults.test.ts) and the fix loop end to
 * end (tests/fix/*.e2e.test.ts and the fix corpus, the `.slow.test.ts` files of apps; both also
 * `npm run test:fix`). Each fault test kills,
 * restarts or cuts off real processes (workers, ingest, redis-server, Postgres, network links),
 * so files run one at a time, never in parallel with each other or with `npm test` files (the
 * root config does not include tests/). The testkit globalSetup gives the shared redis-server and
 * embedded Postgres; tests that stop a server start their own.
 */
export default defineConfig({
  test: {
    include: ['tests/faults/**/*.faults.test.ts', 'tests/fix/**/*.e2e.test.ts', 'apps/*/src/**/*.slow.test.ts'],
    globalSetup: ['./packages/testkit/src/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
  },
});
