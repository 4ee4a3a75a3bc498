import { sql } from 'kysely';
import type { Db, FlakyTestRow } from './database.ts';

/**
 * The flaky registry (`flaky_tests`): one row per (repository, workflow, job) with `test = ''`,
 * and one per failing test named in an excerpt (`failingTestNames`). Each resolved failure is an
 * observation of its job (and its tests); one resolved on the very commit that failed (a fail
 * then a pass on the same SHA, a re-run or the `push`/`pull_request` twin) is also a flaky
 * occurrence. `score` = occurrences / observations, in [0, 1].
 */

/** One resolved failure, as the registry counts it. */
export interface FlakyObservation {
  owner: string;
  repo: string;
  /** The workflow name; `''` when unknown (a check run from another app). */
  workflow: string;
  job: string;
  /** Failing test names from the failure's excerpt (may be empty). */
  tests: string[];
  /** True when it passed on the commit it failed on. */
  flaky: boolean;
  failureId: string;
  at: Date;
}

/**
 * Counts one resolved failure into the registry, one upsert for the job and its tests.
 *
 * @returns the rows after the upsert (the job's first)
 */
export async function recordFlakyObservation(db: Db, o: FlakyObservation): Promise<FlakyTestRow[]> {
  const tests = ['', ...new Set(o.tests.filter(Boolean).map((t) => t.slice(0, 500)))];
  const add = o.flaky ? 1 : 0;
  return db
    .insertInto('flaky_tests')
    .values(tests.map((test) => ({ owner: o.owner, repo: o.repo, workflow: o.workflow, job: o.job, test, observations: 1, occurrences: add, first_seen_at: o.at, last_seen_at: o.at, last_failure_id: o.failureId })))
    .onConflict((oc) =>
      oc.constraint('flaky_tests_key').doUpdateSet({
        observations: sql`flaky_tests.observations + 1`,
        occurrences: sql`flaky_tests.occurrences + ${add}`,
        last_seen_at: sql`greatest(flaky_tests.last_seen_at, excluded.last_seen_at)`,
        last_failure_id: sql`excluded.last_failure_id`,
      }),
    )
    .returningAll()
    .execute();
}

/** A registry row with its score. */
export type FlakyEntry = FlakyTestRow & { score: number };

/** `occurrences / observations`, rounded to 2 decimals; 0 before any observation. */
export function flakyScore(row: Pick<FlakyTestRow, 'occurrences' | 'observations'>): number {
  return row.observations > 0 ? Math.round((row.occurrences / row.observations) * 100) / 100 : 0;
}

/**
 * Registry rows with at least one flaky occurrence, most flaky first (score, then occurrences).
 *
 * @param filter `repository` as `owner/repo`; `tests: false` leaves out per-test rows
 */
export async function listFlaky(db: Db, filter: { repository?: string; tests?: boolean; limit?: number } = {}): Promise<FlakyEntry[]> {
  let query = db.selectFrom('flaky_tests').selectAll().where('occurrences', '>', 0);
  if (filter.repository) {
    const [owner, repo] = filter.repository.split('/');
    query = query.where('owner', '=', owner ?? '').where('repo', '=', repo ?? '');
  }
  if (filter.tests === false) query = query.where('test', '=', '');
  const rows = await query
    .orderBy(sql`occurrences::float / greatest(observations, 1)`, 'desc')
    .orderBy('occurrences', 'desc')
    .orderBy('id')
    .limit(filter.limit ?? 100)
    .execute();
  return rows.map((r) => ({ ...r, score: flakyScore(r) }));
}

/**
 * The registry's most flaky row for a failure's job or one of its tests (the job matched with
 * `workflow = ''` too, for failures recorded from check runs), or `undefined`.
 */
export async function flakyHistoryOf(db: Db, key: { owner: string; repo: string; workflow: string | null; job: string; tests: string[] }): Promise<FlakyEntry | undefined> {
  const rows = await db
    .selectFrom('flaky_tests')
    .selectAll()
    .where('owner', '=', key.owner)
    .where('repo', '=', key.repo)
    .where('job', '=', key.job)
    .where('workflow', 'in', [...new Set([key.workflow ?? '', ''])])
    .where('test', 'in', ['', ...key.tests])
    .where('occurrences', '>', 0)
    .execute();
  return rows.map((r) => ({ ...r, score: flakyScore(r) })).sort((a, b) => b.score - a.score || b.occurrences - a.occurrences)[0];
}
