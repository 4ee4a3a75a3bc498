import { listFlaky } from '../flaky.ts';
import type { Db } from '../database.ts';
import { iso, outText } from './shared.ts';

/** One row of the flaky registry as the admin API shows it. */
export interface FlakyView {
  owner: string;
  repo: string;
  workflow: string;
  job: string;
  /** The failing test; `null` for the job's own row. */
  test: string | null;
  /** occurrences / observations, in [0, 1]. */
  score: number;
  /** Fails then passes on the same commit. */
  occurrences: number;
  /** Resolved failures seen. */
  observations: number;
  /** ISO 8601. */
  firstSeenAt: string;
  /** ISO 8601. */
  lastSeenAt: string;
  lastFailureId: string | null;
}

/**
 * The flaky registry, most flaky first (`listFlaky`); names from logs pass the outgoing boundary.
 *
 * @param filter `repository` as `owner/repo`; `tests: false` = only per-job rows; `limit` 1-500
 */
export async function listFlakyViews(db: Db, filter: { repository?: string; tests?: boolean; limit: number }): Promise<FlakyView[]> {
  const rows = await listFlaky(db, filter);
  return rows.map((r) => ({
    owner: r.owner,
    repo: r.repo,
    workflow: outText(r.workflow) ?? '',
    job: outText(r.job) ?? '',
    test: r.test ? outText(r.test) : null,
    score: r.score,
    occurrences: r.occurrences,
    observations: r.observations,
    firstSeenAt: iso(r.first_seen_at)!,
    lastSeenAt: iso(r.last_seen_at)!,
    lastFailureId: r.last_failure_id,
  }));
}
