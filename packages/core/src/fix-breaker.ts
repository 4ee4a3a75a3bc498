import { z } from 'zod';

/**
 * The per-repository fix-loop breaker: after `threshold` loops in a row of one repository ended
 * exhausted (escalated for iterations or budget; `exhaustedLoopsInARow` in `db/fix-loops.ts`
 * counts them), no new loop starts there for `cooldownMs` after the latest of them ended. Once the
 * cool-down is over one loop may start again; if it is exhausted too, the run is still
 * `threshold` long and the breaker opens for another cool-down (it half-opens, like a circuit
 * breaker).
 */

/** The breaker's settings, shared by the ingest (admin API) and worker schemas: spread `FixBreakerEnv.shape`. */
export const FixBreakerEnv = z.object({
  /** Exhausted fix loops in a row (escalated for iterations or budget) after which a repository gets no new loop for the cool-down. */
  PITCREW_FIX_BREAKER_THRESHOLD: z.coerce.number().int().min(1).max(100).default(3),
  /** ms after the latest exhausted loop ended during which an open breaker starts no new loop in its repository (default 1 h). */
  PITCREW_FIX_BREAKER_COOLDOWN_MS: z.coerce.number().int().min(0).default(3_600_000),
});
export type FixBreakerEnv = z.infer<typeof FixBreakerEnv>;

/** What the breaker knows of one repository: `exhaustedLoopsInARow`'s answer. */
export interface FixBreakerRun {
  /** Latest loops in a row that ended exhausted (at most the threshold: the query stops there). */
  count: number;
  /** When the latest loop that ended (exhausted or not) ended; `null` when none has. */
  lastEndedAt: Date | null;
}

/** The breaker's settings. */
export interface FixBreakerSettings {
  /** Exhausted loops in a row that open the breaker, ≥ 1. */
  threshold: number;
  /** How long it stays open after the latest of them ended, ms. */
  cooldownMs: number;
}

/** Whether a repository's fix-loop breaker is open, and until when. */
export interface FixBreakerState {
  /** `true`: no new loop starts in the repository before `until`. */
  open: boolean;
  /** When the open breaker closes again (`lastEndedAt + cooldownMs`); `null` while closed. */
  until: Date | null;
}

/**
 * The breaker's state at `now`: open when at least `threshold` loops in a row ended exhausted and
 * the latest ended less than `cooldownMs` before `now`; `until` is then when it closes. Pure: the
 * admin API (`GET /api/fix-breakers`) and the worker (before a loop starts) decide alike.
 *
 * @example fixBreakerState({ count: 3, lastEndedAt: t }, { threshold: 3, cooldownMs: 3_600_000 }, now) // open until t + 1 h when now < t + 1 h
 */
export function fixBreakerState(run: FixBreakerRun, settings: FixBreakerSettings, now: Date): FixBreakerState {
  if (run.count < settings.threshold || run.lastEndedAt === null) return { open: false, until: null };
  const until = new Date(run.lastEndedAt.getTime() + settings.cooldownMs);
  return now.getTime() < until.getTime() ? { open: true, until } : { open: false, until: null };
}
