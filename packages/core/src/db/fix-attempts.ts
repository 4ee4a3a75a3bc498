import { sql } from 'kysely';
import type { Db, FixAttemptRow, FixAttemptStatus } from './database.ts';

/** What one fix attempt decided, written when it ends. Lines = added + deleted; ms; USD. */
export interface FixAttemptResult {
  status: Exclude<FixAttemptStatus, 'running'>;
  guardRule?: string | null;
  guardDetail?: string | null;
  filesChanged?: number;
  linesChanged?: number;
  verify?: { command: string | null; exitCode: number | null; ms: number | null; output: string | null };
  branch?: string | null;
  prNumber?: number | null;
  prUrl?: string | null;
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
  error?: string | null;
  /** Why it ended so, in a sentence. */
  reason?: string | null;
  /** The fixer that ran (it is chosen after the checkout). */
  fixer?: string;
  dryRun?: boolean;
  proposalPath?: string | null;
  commitSha?: string | null;
  escalation?: 'fixer' | 'iterations' | 'budget' | null;
}

/**
 * Starts fix attempt `iteration` of a failure (`running`), or finds the one that exists: keyed by
 * (failure, iteration), so a retried job starts no second attempt. One statement.
 *
 * @returns the attempt's row
 */
export async function startFixAttempt(db: Db, key: { failureId: string; iteration: number; fixer: string; headSha?: string; ciFailureId?: string | null }): Promise<FixAttemptRow> {
  return db
    .insertInto('fix_attempts')
    .values({ failure_id: key.failureId, iteration: key.iteration, fixer: key.fixer, status: 'running', head_sha: key.headSha ?? null, ci_failure_id: key.ciFailureId ?? null })
    .onConflict((oc) => oc.columns(['failure_id', 'iteration']).doUpdateSet({ fixer: sql`fix_attempts.fixer` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Records how fix attempt `id` ended; an attempt already ended keeps its result. @returns the row when it was recorded, `undefined` when it had ended already */
export async function finishFixAttempt(db: Db, id: string, result: FixAttemptResult): Promise<FixAttemptRow | undefined> {
  return db
    .updateTable('fix_attempts')
    .set({
      status: result.status,
      guard_rule: result.guardRule ?? null,
      guard_detail: result.guardDetail ?? null,
      files_changed: result.filesChanged ?? 0,
      lines_changed: result.linesChanged ?? 0,
      verify_command: result.verify?.command ?? null,
      verify_exit_code: result.verify?.exitCode ?? null,
      verify_ms: result.verify?.ms ?? null,
      verify_output: result.verify?.output ?? null,
      branch: result.branch ?? null,
      pr_number: result.prNumber ?? null,
      pr_url: result.prUrl ?? null,
      tokens_in: result.tokensIn ?? 0,
      tokens_out: result.tokensOut ?? 0,
      cost_usd: result.costUsd ?? 0,
      error: result.error ?? null,
      reason: result.reason ?? null,
      dry_run: result.dryRun ?? false,
      proposal_path: result.proposalPath ?? null,
      commit_sha: result.commitSha ?? null,
      escalation: result.escalation ?? null,
      ...(result.fixer ? { fixer: result.fixer } : {}),
      finished_at: sql`now()`,
    })
    .where('id', '=', id)
    .where('status', '=', 'running')
    .returningAll()
    .executeTakeFirst();
}

/** Every fix attempt of a failure, first iteration first. */
export async function listFixAttempts(db: Db, failureId: string): Promise<FixAttemptRow[]> {
  return db.selectFrom('fix_attempts').selectAll().where('failure_id', '=', failureId).orderBy('iteration').execute();
}
