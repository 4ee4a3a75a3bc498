import { withTimeout } from './timeout.ts';

/** Longest one readiness check may take before it counts as failed, ms. */
export const READINESS_TIMEOUT_MS = 2_000;

/** One dependency's answer in a `/readyz` body. */
export type ReadinessCheck = { ok: true } | { ok: false; error: string };

/**
 * Runs every readiness check at once, each bounded by {@link READINESS_TIMEOUT_MS}, for a
 * `/readyz` route (ingest's and the console's): `ready` only when every check resolved.
 *
 * @param readiness a check per dependency name (`redis`, `postgres`): a promise that rejects when
 *   the dependency cannot be used
 * @returns `{ready, checks}`, `checks[name]` `{ok: true}` or `{ok: false, error}` (the rejection's
 *   message, `no answer within 2000 ms` on a time-out)
 */
export async function checkReadiness(readiness: Record<string, () => Promise<unknown>>): Promise<{ ready: boolean; checks: Record<string, ReadinessCheck> }> {
  const entries = await Promise.all(
    Object.entries(readiness).map(async ([name, check]): Promise<[string, ReadinessCheck]> => {
      try {
        await withTimeout(check(), READINESS_TIMEOUT_MS);
        return [name, { ok: true }];
      } catch (error) {
        return [name, { ok: false, error: (error as Error).message }];
      }
    }),
  );
  return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
}
