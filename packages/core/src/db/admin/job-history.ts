import { sql } from 'kysely';
import type { Db } from '../database.ts';
import { iso } from './shared.ts';

/**
 * One outcome of a job in its history: `fail` (a failure pitcrew received) or `pass` (the
 * success that resolved it: the same check went green on the branch, or its fix PR was merged).
 * Passes of a job that never failed are not stored, so the history is the failures and their
 * resolutions.
 */
export interface JobHistoryEvent {
  outcome: 'fail' | 'pass';
  /** ISO 8601: when the failure was received, or when it was resolved. */
  at: string;
  /** The commit that failed, or the one that went green (`null` when GitHub named none). */
  sha: string | null;
  /** The failure this event is of. */
  failureId: string;
  /** The failure's category (`lint`, `test`, …); `null` before classify. */
  category: string | null;
}

/**
 * The recent history of the job a failure belongs to: the failures of the same repository, kind
 * and job (`coalesce(job_name, check_name)` for a job, `coalesce(workflow_name, check_name)` for a
 * run, as `resolveOpenFailures` matches a success) and workflow, on any branch, each with its
 * resolution, newest first. At most `limit` failures are read (1-100), so at most `2 × limit`
 * events come back.
 *
 * @returns `[]` when the failure is unknown
 */
export async function listJobHistory(db: Db, failureId: string, limit = 20): Promise<JobHistoryEvent[]> {
  const f = await db.selectFrom('failures').select(['owner', 'repo', 'kind', 'job_name', 'check_name', 'workflow_name']).where('id', '=', failureId).executeTakeFirst();
  if (!f) return [];
  const name = f.kind === 'job' ? (f.job_name ?? f.check_name) : (f.workflow_name ?? f.check_name);
  const nameOf = f.kind === 'job' ? sql`coalesce(job_name, check_name)` : sql`coalesce(workflow_name, check_name)`;
  let query = db
    .selectFrom('failures')
    .select(['id', 'head_sha', 'received_at', 'resolved_at', 'resolved_by_sha', 'category'])
    .where('owner', '=', f.owner)
    .where('repo', '=', f.repo)
    .where('kind', '=', f.kind)
    .orderBy('received_at', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.min(100, Math.max(1, limit)));
  query = name === null ? query.where('id', '=', failureId) : query.where(sql<boolean>`${nameOf} = ${name}`);
  if (f.kind === 'job' && f.workflow_name !== null) query = query.where((eb) => eb.or([eb('workflow_name', 'is', null), eb('workflow_name', '=', f.workflow_name)]));
  const rows = await query.execute();
  const events = rows.flatMap((r): JobHistoryEvent[] => [
    ...(r.resolved_at ? [{ outcome: 'pass' as const, at: iso(r.resolved_at)!, sha: r.resolved_by_sha, failureId: r.id, category: r.category }] : []),
    { outcome: 'fail' as const, at: iso(r.received_at)!, sha: r.head_sha, failureId: r.id, category: r.category },
  ]);
  return events.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}
