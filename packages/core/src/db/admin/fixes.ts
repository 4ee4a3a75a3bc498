import { sql } from 'kysely';
import type { FixAttemptRow, FixAttemptStatus } from '../database.ts';
import type { Db } from '../database.ts';
import { listFixAttempts } from '../fix-attempts.ts';
import { BadCursorError, cursorTime, decodeCursor, iso, keysetPage, outText, repoCondition, type RepoFilter } from './shared.ts';

/** Every `fix_attempts.status`, in the order the fix loop reaches them: filters and summaries list them all. */
export const FIX_ATTEMPT_STATUSES = ['running', 'proposed', 'refused', 'verify_failed', 'verified', 'escalated', 'failed'] as const satisfies readonly FixAttemptStatus[];

/**
 * One fix attempt (one iteration of one failure's fix loop) as the admin API shows it. Texts a
 * fixer, a guard or a verification wrote (the verify command and output, the guard's detail, the
 * error, the branch) pass the outgoing boundary: they quote the workspace and its logs.
 */
export interface FixAttemptView {
  id: string;
  failureId: string;
  /** 1 for the first fix, then one per CI verdict it iterates on. */
  iteration: number;
  /** `rules` or `agent`. */
  fixer: string;
  status: FixAttemptStatus;
  /** The guard rule that refused the diff (`GUARD_RULES`), `null` unless `refused`. */
  guardRule: string | null;
  guardDetail: string | null;
  filesChanged: number;
  /** Lines added plus deleted. */
  linesChanged: number;
  verify: {
    command: string | null;
    exitCode: number | null;
    /** Wall time of the verification, ms. */
    ms: number | null;
    /** The redacted tail of the verification's output; `null` in lists ({@link listFixes}). */
    output: string | null;
  };
  /** The fix branch pushed for the pull request. */
  branch: string | null;
  pr: { number: number | null; url: string | null };
  /** `merged` or `closed` once the pull request ends (fix loop part 2). */
  outcome: string | null;
  /** Who merged the pull request (login), `null` unless `merged`. */
  mergedBy: string | null;
  /** When the pull request was merged or closed, ISO 8601. */
  outcomeAt: string | null;
  /** The commit this iteration started from (the failing SHA, then the fix branch's head CI failed on). */
  headSha: string | null;
  /** The fix commit it pushed (or committed in a dry run). */
  commitSha: string | null;
  /**
   * CI on the fix branch: `failureId` is the CI failure this iteration answers (iterations after
   * the first); `verdict` is CI's verdict on this iteration's commit (`passed`, `failed`, `null`
   * while pending), recorded at `at` (ISO 8601).
   */
  ci: { failureId: string | null; verdict: 'passed' | 'failed' | null; at: string | null };
  /** Why the loop ended escalated here: `fixer` (it gave up), `iterations` or `budget` (exhausted). */
  escalation: 'fixer' | 'iterations' | 'budget' | null;
  /** Whether pitcrew marked the draft PR ready for review once CI passed. */
  readyForReview: boolean;
  /** Why it ended as it did, in a sentence. */
  reason: string | null;
  tokensIn: number;
  tokensOut: number;
  /** USD. */
  costUsd: number;
  error: string | null;
  /** ISO 8601. */
  startedAt: string;
  /** ISO 8601; `null` while running. */
  finishedAt: string | null;
  /** From start to finish, ms; `null` while running. */
  durationMs: number | null;
}

/** The failure a fix attempt is for, as the fix list and detail show it. */
export interface FixFailure {
  owner: string;
  repo: string;
  /** The failing branch (the fix branch is the attempt's `branch`). */
  branch: string | null;
  category: string | null;
}

/** A fix attempt with its failure ({@link listFixes}, {@link getFix}). */
export interface FixListItem extends FixAttemptView {
  failure: FixFailure;
}

/** Filters of {@link listFixes}. */
export interface FixListFilter {
  status?: FixAttemptStatus;
  fixer?: string;
  /** The failure's repository. */
  repo?: RepoFilter;
  /** Only attempts started at or after this time. */
  since?: Date;
  /** Rows per page, 1-500. */
  limit: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** A `fix_attempts` row as the admin API shows it. */
function toFixAttemptView(r: FixAttemptRow): FixAttemptView {
  const startedAt = iso(r.started_at)!;
  const finishedAt = iso(r.finished_at);
  return {
    id: r.id,
    failureId: r.failure_id,
    iteration: r.iteration,
    fixer: r.fixer,
    status: r.status,
    guardRule: r.guard_rule,
    guardDetail: outText(r.guard_detail),
    filesChanged: r.files_changed,
    linesChanged: r.lines_changed,
    verify: { command: outText(r.verify_command), exitCode: r.verify_exit_code, ms: r.verify_ms, output: outText(r.verify_output) },
    branch: outText(r.branch),
    pr: { number: r.pr_number, url: r.pr_url },
    outcome: r.outcome,
    mergedBy: r.merged_by,
    outcomeAt: iso(r.outcome_at),
    headSha: r.head_sha,
    commitSha: r.commit_sha,
    ci: { failureId: r.ci_failure_id, verdict: r.ci_verdict, at: iso(r.ci_verdict_at) },
    escalation: r.escalation,
    readyForReview: r.ready_for_review,
    reason: outText(r.reason),
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    costUsd: Number(r.cost_usd),
    error: outText(r.error),
    startedAt,
    finishedAt,
    durationMs: finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : null,
  };
}

/** Every fix attempt of a failure, first iteration first (the failure detail's `fixAttempts`, a loop's `attempts`). */
export async function listFixAttemptViews(db: Db, failureId: string): Promise<FixAttemptView[]> {
  return (await listFixAttempts(db, failureId)).map(toFixAttemptView);
}

/** Fix attempts joined with their failure's repository, branch and category. */
function fixesQuery(db: Db) {
  return db
    .selectFrom('fix_attempts')
    .innerJoin('failures', 'failures.id', 'fix_attempts.failure_id')
    .selectAll('fix_attempts')
    .select(['failures.owner', 'failures.repo', 'failures.branch as failure_branch', 'failures.category', cursorTime('fix_attempts.started_at').as('cursor_time')]);
}

type FixQueryRow = Awaited<ReturnType<ReturnType<typeof fixesQuery>['execute']>>[number];

function toFixListItem(r: FixQueryRow): FixListItem {
  return {
    ...toFixAttemptView(r),
    failure: { owner: r.owner, repo: r.repo, branch: outText(r.failure_branch), category: r.category },
  };
}

/**
 * Fix attempts, newest started first, each with its failure's repository, branch and category.
 * Keyset pagination on (`started_at`, `id`) descending, like `listFailures`: pass `nextCursor`
 * back as `cursor`; it is `null` on the last page.
 *
 * @throws {BadCursorError} when `cursor` is not one this function produced
 */
export async function listFixes(db: Db, filter: FixListFilter): Promise<{ items: FixListItem[]; nextCursor: string | null }> {
  const repo = repoCondition('failures', filter.repo);
  let query = fixesQuery(db).orderBy('fix_attempts.started_at', 'desc').orderBy('fix_attempts.id', 'desc').limit(filter.limit + 1);
  if (repo) query = query.where(repo);
  if (filter.status) query = query.where('fix_attempts.status', '=', filter.status);
  if (filter.fixer) query = query.where('fix_attempts.fixer', '=', filter.fixer);
  if (filter.since) query = query.where(sql<boolean>`fix_attempts.started_at >= ${filter.since}`);
  if (filter.cursor) {
    const c = decodeCursor(filter.cursor);
    // Fix attempt ids are bigserial: a cursor of another list does not hold one.
    if (!/^\d{1,18}$/.test(c.id)) throw new BadCursorError(filter.cursor);
    query = query.where(sql<boolean>`(fix_attempts.started_at, fix_attempts.id) < (${c.time}::timestamptz, ${c.id}::bigint)`);
  }
  // The list leaves out the verification's output (`getFix` has it), so it is not redacted for nothing.
  return keysetPage(await query.execute(), filter.limit, (r) => toFixListItem({ ...r, verify_output: null }), (r) => r.id);
}

/** One fix attempt with its verification output, pull request and failure; `undefined` when unknown. */
export async function getFix(db: Db, id: string): Promise<FixListItem | undefined> {
  const row = await fixesQuery(db).where('fix_attempts.id', '=', id).executeTakeFirst();
  return row ? toFixListItem(row) : undefined;
}
