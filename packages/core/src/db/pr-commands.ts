import type { Db, FailureRow } from './database.ts';

/**
 * Records `/pitcrew quiet` on a pull request (idempotent: the first request is kept).
 *
 * @returns `true` when this call made the pull request quiet, `false` when it already was
 */
export async function markPullRequestQuiet(db: Db, quiet: { owner: string; repo: string; prNumber: number; requestedBy: string; commentId: number }): Promise<boolean> {
  const rows = await db
    .insertInto('pr_quiet')
    .values({ owner: quiet.owner, repo: quiet.repo, pr_number: quiet.prNumber, requested_by: quiet.requestedBy, comment_id: quiet.commentId })
    .onConflict((oc) => oc.doNothing())
    .returning('pr_number')
    .execute();
  return rows.length > 0;
}

/** Which of `prNumbers` of `owner/repo` were made quiet (`/pitcrew quiet`). */
export async function quietPullRequests(db: Db, owner: string, repo: string, prNumbers: readonly number[]): Promise<Set<number>> {
  if (prNumbers.length === 0) return new Set();
  const rows = await db.selectFrom('pr_quiet').select('pr_number').where('owner', '=', owner).where('repo', '=', repo).where('pr_number', 'in', [...prNumbers]).execute();
  return new Set(rows.map((r) => r.pr_number));
}

/**
 * The latest failure of a pull request, for its commands: the newest failure of `owner/repo`
 * on the PR's head commit, else the newest on its head branch (an earlier push), excluding
 * failures of pitcrew's own fix loops. `withRun` keeps only failures with a workflow run id
 * (`/pitcrew rerun`).
 *
 * @returns `undefined` when pitcrew has no failure of that pull request
 */
export async function findLatestFailureOfPullRequest(db: Db, pr: { owner: string; repo: string; headSha: string; headRef: string }, options: { withRun?: boolean } = {}): Promise<FailureRow | undefined> {
  const base = () => {
    let q = db.selectFrom('failures').selectAll().where('owner', '=', pr.owner).where('repo', '=', pr.repo).where('fix_loop_id', 'is', null);
    if (options.withRun) q = q.where('run_id', 'is not', null);
    return q.orderBy('received_at', 'desc').orderBy('created_at', 'desc').limit(1);
  };
  return (await base().where('head_sha', '=', pr.headSha).executeTakeFirst()) ?? (await base().where('branch', '=', pr.headRef).executeTakeFirst());
}
