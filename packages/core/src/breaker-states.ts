import { z } from 'zod';

/**
 * The contract between workers, which publish their circuit-breaker states, and the admin API,
 * which reads them. Breakers live in each worker process's memory (cockatiel), so each process
 * writes its own fields into one Redis hash under the BullMQ prefix:
 *
 * - key: `<prefix>:breakers` ({@link breakerStatesKey})
 * - field: `<worker id>/<runner>`, the worker id being `<hostname>:<pid>`
 * - value: JSON {@link BreakerStateEntry}
 *
 * Redis 7.0 has no per-field expiry (`HEXPIRE` needs 7.4), so each value carries its own
 * `expiresAt`: readers ignore expired fields and may delete them, and a live worker rewrites its
 * fields (new `expiresAt`) every refresh interval. The key's own TTL is refreshed on every write,
 * so the whole hash disappears once no worker is left to refresh it.
 */
export function breakerStatesKey(prefix: string): string {
  return `${prefix}:breakers`;
}

/** States a cockatiel breaker can be in, by name. */
export const BreakerStateName = z.enum(['closed', 'open', 'half-open', 'isolated']);
export type BreakerStateName = z.infer<typeof BreakerStateName>;

/** One runner's breaker in one worker process, as stored in the hash. Times are ISO 8601. */
export const BreakerStateEntry = z.object({
  state: BreakerStateName,
  /** When the breaker entered this state (or when the worker started, for a breaker never tripped). */
  since: z.string(),
  /** When the worker last wrote this field. */
  updatedAt: z.string(),
  /** After this the field counts as a dead worker's and is ignored. */
  expiresAt: z.string(),
});
export type BreakerStateEntry = z.infer<typeof BreakerStateEntry>;

/** One live breaker, as the admin API answers it. */
export interface BreakerStateView {
  worker: string;
  runner: string;
  state: BreakerStateName;
  since: string;
  updatedAt: string;
}

/** Hash field of a worker's runner. */
export function breakerStateField(workerId: string, runner: string): string {
  return `${workerId}/${runner}`;
}

/**
 * Splits the hash into live breakers (sorted by worker, then runner) and the fields to delete
 * (expired, or not parseable by this release).
 */
export function parseBreakerStates(
  hash: Record<string, string>,
  now = new Date(),
): { live: BreakerStateView[]; stale: string[] } {
  const live: BreakerStateView[] = [];
  const stale: string[] = [];
  for (const [field, value] of Object.entries(hash)) {
    const slash = field.lastIndexOf('/');
    let entry: BreakerStateEntry | undefined;
    try {
      const parsed = BreakerStateEntry.safeParse(JSON.parse(value));
      if (parsed.success) entry = parsed.data;
    } catch {
      entry = undefined;
    }
    if (!entry || slash <= 0 || Date.parse(entry.expiresAt) <= now.getTime()) {
      stale.push(field);
      continue;
    }
    live.push({ worker: field.slice(0, slash), runner: field.slice(slash + 1), state: entry.state, since: entry.since, updatedAt: entry.updatedAt });
  }
  live.sort((a, b) => a.worker.localeCompare(b.worker) || a.runner.localeCompare(b.runner));
  return { live, stale };
}
