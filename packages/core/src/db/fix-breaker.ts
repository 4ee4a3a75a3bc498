/**
 * The per-repository fix breaker from its run of exhausted loops: open while the run has reached
 * `threshold` and the latest of them ended less than `cooldownMs` ago (the bot plugin pitcrew is
 * measured against: 3 loops, 1 h).
 *
 * @returns whether it is open, and until when (ms precision)
 */
export function fixBreakerState(run: { count: number; lastEndedAt: Date | null }, options: { threshold: number; cooldownMs: number }, now: Date): { open: boolean; until: Date | null } {
  if (run.count < options.threshold || !run.lastEndedAt) return { open: false, until: null };
  const until = new Date(run.lastEndedAt.getTime() + options.cooldownMs);
  return until > now ? { open: true, until } : { open: false, until: null };
}
