import { fixBreakerState, type FixBreakerSettings } from '../../fix-breaker.ts';
import type { Db } from '../database.ts';
import { exhaustedLoopsInARow } from '../fix-loops.ts';
import { iso } from './shared.ts';

/** One repository's fix-loop breaker as the admin API shows it. Times ISO 8601. */
export interface FixBreakerView {
  owner: string;
  repo: string;
  /** Its latest loops in a row that ended exhausted (escalated for iterations or budget), counted up to `threshold`. */
  exhaustedInARow: number;
  /** Exhausted loops in a row that open the breaker (`PITCREW_FIX_BREAKER_THRESHOLD`). */
  threshold: number;
  /** `open`: no new loop starts in the repository before `until`. */
  state: 'open' | 'closed';
  /** When the open breaker closes; `null` while closed. */
  until: string | null;
  /** When its latest loop that ended ended; `null` when every loop is still open. */
  lastEndedAt: string | null;
}

/**
 * The fix-loop breaker of every repository that has loops, ordered by owner and repository: the
 * run of exhausted loops `exhaustedLoopsInARow` counts (as the worker does before a loop) and
 * {@link fixBreakerState} at `now`. One query for the repositories, then one per repository.
 */
export async function listFixBreakers(db: Db, settings: FixBreakerSettings, now: Date): Promise<FixBreakerView[]> {
  const repositories = await db.selectFrom('fix_loops').select(['owner', 'repo']).distinct().orderBy('owner').orderBy('repo').execute();
  return Promise.all(
    repositories.map(async (repository) => {
      const run = await exhaustedLoopsInARow(db, repository, settings.threshold);
      const state = fixBreakerState(run, settings, now);
      return {
        owner: repository.owner,
        repo: repository.repo,
        exhaustedInARow: run.count,
        threshold: settings.threshold,
        state: state.open ? 'open' : 'closed',
        until: iso(state.until),
        lastEndedAt: iso(run.lastEndedAt),
      } satisfies FixBreakerView;
    }),
  );
}
