import { inject, type ProvidedContext } from 'vitest';
import './provided-context.ts';

/**
 * `inject(key)`, checked.
 *
 * @throws {Error} when the value was not provided, i.e. the test runs without the root
 *   vitest config and its testkit globalSetup
 */
export function injectProvided<K extends keyof ProvidedContext & string>(key: K): ProvidedContext[K] {
  const value = inject(key) as ProvidedContext[K] | undefined;
  if (value === undefined) {
    throw new Error(
      `@pitcrew/testkit: "${key}" was not provided. Run tests with the root vitest config ` +
        '(npx vitest run <path> from the repo root), which starts the servers in its globalSetup.',
    );
  }
  return value;
}
