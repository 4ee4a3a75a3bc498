import { sql } from 'kysely';
import { createUuidv7, deriveUuidv7 } from '../uuidv7.ts';
import type { Db, FixAttemptRow, FixLoopRow } from './database.ts';

/** The branch prefix of pitcrew's fix branches: `pitcrew/fix/<failure id of the loop>`. */
export const FIX_BRANCH_PREFIX = 'pitcrew/fix/';

/** The loop a branch belongs to (`pitcrew/fix/<id>` → `<id>`), or `null` for any other branch. */
export function loopOfBranch(branch: string | null | undefined): string | null {
  if (!branch?.startsWith(FIX_BRANCH_PREFIX)) return null;
  const id = branch.slice(FIX_BRANCH_PREFIX.length);
  return id.length > 0 ? id : null;
}

/**
 * The fix loop a failure belongs to: `<id>` for a failure of CI on `pitcrew/fix/<id>` (what
 * `failures.fix_loop_id` records), else the failure's own id (the loop its own fix would start).
 */
export function loopIdOf(failure: { id: string; branch: string | null }): string {
  return loopOfBranch(failure.branch) ?? failure.id;
}

/**
 * The TensorZero episode of a failure's fix loop: one episode groups every model call of the loop
 * (the failure's own triage and that of each CI failure on its fix branch), so the loop's outcome
 * can be given as episode-level feedback. The id is derived, not shared: the UUIDv7 stamped with
 * the loop failure's `received_at` whose random bits are sha256(`pitcrew-fix-loop:<loop id>`)
 * ({@link deriveUuidv7}). Every worker and retry computes the same id without a write or a race;
 * it is stored on each execution row (`executions.episode_id`) as the gateway echoes it back. One
 * primary-key read; a loop failure not (or no longer) stored gets a fresh random UUIDv7.
 *
 * TensorZero accepts client-made episode ids that are UUIDv7 stamped in the past (its
 * `validate_tensorzero_uuid`), though its docs advise reusing ids it returned
 * (https://www.tensorzero.com/docs/gateway/api-reference/inference-openai-compatible).
 */
export async function loopEpisodeId(db: Db, failure: { id: string; branch: string | null }): Promise<string> {
  const loopId = loopIdOf(failure);
  const row = await db.selectFrom('failures').select('received_at').where('id', '=', loopId).executeTakeFirst();
  if (!row) return createUuidv7();
  return deriveUuidv7(new Date(row.received_at as unknown as string).getTime(), `pitcrew-fix-loop:${loopId}`);
}

/** One model call of a loop, with TensorZero's ids (either may be null, not both). */
export interface LoopInference {
  failureId: string;
  stage: string;
  attempt: number;
  inferenceId: string | null;
  episodeId: string | null;
}

/**
 * The model calls of a fix loop that carry a TensorZero inference or episode id: executions of
 * the loop's own failure and of the failures with `fix_loop_id = loopId`, oldest first.
 */
export async function listLoopInferences(db: Db, loopId: string): Promise<LoopInference[]> {
  const rows = await db
    .selectFrom('executions')
    .select(['failure_id', 'stage', 'attempt', 'inference_id', 'episode_id'])
    .where((eb) =>
      eb.or([eb('failure_id', '=', loopId), eb('failure_id', 'in', eb.selectFrom('failures').select('id').where('fix_loop_id', '=', loopId))]),
    )
    .where((eb) => eb.or([eb('inference_id', 'is not', null), eb('episode_id', 'is not', null)]))
    .orderBy('started_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ failureId: r.failure_id, stage: r.stage, attempt: r.attempt, inferenceId: r.inference_id, episodeId: r.episode_id }));
}

/** One loop from the `fix_loops` view. */
export async function findLoop(db: Db, loopId: string): Promise<FixLoopRow | undefined> {
  return db.selectFrom('fix_loops').selectAll().where('loop_id', '=', loopId).executeTakeFirst();
}

/** The loop's latest iteration. */
export async function latestFixAttempt(db: Db, loopId: string): Promise<FixAttemptRow | undefined> {
  return db.selectFrom('fix_attempts').selectAll().where('failure_id', '=', loopId).orderBy('iteration', 'desc').limit(1).executeTakeFirst();
}

/** The loop's iteration that pushed commit `commitSha`, if any. */
export async function fixAttemptOfCommit(db: Db, loopId: string, commitSha: string): Promise<FixAttemptRow | undefined> {
  return db.selectFrom('fix_attempts').selectAll().where('failure_id', '=', loopId).where('commit_sha', '=', commitSha).orderBy('iteration', 'desc').limit(1).executeTakeFirst();
}

/**
 * Records CI's verdict on a fix commit: the iteration of `loopId` whose pushed commit is
 * `headSha` gets `passed` or `failed` (a verdict already recorded is kept: the first completed
 * run of the checks decides). One statement.
 *
 * @returns the iteration's row when this call recorded it
 */
export async function recordCiVerdict(db: Db, verdict: { loopId: string; headSha: string; passed: boolean }): Promise<FixAttemptRow | undefined> {
  return db
    .updateTable('fix_attempts')
    .set({ ci_verdict: verdict.passed ? 'passed' : 'failed', ci_verdict_at: sql`now()` })
    .where('failure_id', '=', verdict.loopId)
    .where('commit_sha', '=', verdict.headSha)
    .where('ci_verdict', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Records how a loop's pull request ended on its latest proposed iteration: `merged` (with who
 * merged it) or `closed`; a reopened PR clears it. One statement.
 *
 * @returns the iteration's row, `undefined` when the loop has no proposed iteration
 */
export async function recordPullRequestOutcome(
  db: Db,
  event: { loopId: string; outcome: 'merged' | 'closed' | null; mergedBy: string | null; at: Date },
): Promise<FixAttemptRow | undefined> {
  const latest = db.selectFrom('fix_attempts').select('id').where('failure_id', '=', event.loopId).where('pr_number', 'is not', null).orderBy('iteration', 'desc').limit(1);
  return db
    .updateTable('fix_attempts')
    .set({ outcome: event.outcome, merged_by: event.outcome === 'merged' ? event.mergedBy : null, outcome_at: event.outcome ? event.at : null })
    .where('id', '=', latest)
    .returningAll()
    .executeTakeFirst();
}

/** Marks the iteration as CI-verified and (when `ready`) its PR as marked ready for review. */
export async function markReadyForReview(db: Db, attemptId: string): Promise<void> {
  await db.updateTable('fix_attempts').set({ ready_for_review: true }).where('id', '=', attemptId).execute();
}

/**
 * The repository's fix-loop breaker: how many of its latest loops in a row ended exhausted
 * (escalated for iterations or budget), and when the latest of them ended. Loops still open
 * are skipped; any other ending breaks the run.
 *
 * @param limit loops looked at (the breaker's threshold)
 */
export async function exhaustedLoopsInARow(db: Db, repository: { owner: string; repo: string }, limit: number): Promise<{ count: number; lastEndedAt: Date | null }> {
  const loops = await db
    .selectFrom('fix_loops')
    .select(['status', 'escalation', 'finished_at'])
    .where('owner', '=', repository.owner)
    .where('repo', '=', repository.repo)
    .where('status', '!=', 'open')
    .orderBy('finished_at', 'desc')
    .limit(limit)
    .execute();
  let count = 0;
  for (const loop of loops) {
    if (loop.status !== 'escalated' || (loop.escalation !== 'iterations' && loop.escalation !== 'budget')) break;
    count++;
  }
  const last = loops[0]?.finished_at;
  return { count, lastEndedAt: last ? new Date(last as unknown as string) : null };
}
