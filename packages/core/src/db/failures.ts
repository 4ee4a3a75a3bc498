import { sql, type Kysely } from 'kysely';
import type { Database, Db, FailureRow, FailureStatus, FailureUpdate } from './database.ts';

/**
 * The `failures` table: one row per CI failure (job attempt or run), keyed by its idempotency key.
 * Every change of a failure's status is a named function here (or a patch built here and folded
 * into an execution's final write by `executions.ts`), so the status machine lives in one file:
 *
 * ```
 * queued ──claimFailure──▶ running ──triageCompleted──▶ triaged
 *    │                        │
 *    └──────failIfInProgress──┴──▶ failed        (requestRetry: any but running ──▶ queued)
 * ```
 */

/** One failure by id, or `undefined`. */
export async function findFailure(db: Db, id: string): Promise<FailureRow | undefined> {
  return db.selectFrom('failures').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Claims a failure for triage and reads it, in one statement: `queued` becomes `running`; any
 * other status is left as it is (compare-and-set under the row lock, so a worker that read
 * `queued` before a network partition cannot turn a failure another worker has since triaged back
 * into `running`).
 *
 * @returns the row after the claim, or `undefined` when there is no such failure
 */
export async function claimFailure(db: Db, id: string): Promise<FailureRow | undefined> {
  return db
    .updateTable('failures')
    .set({
      status: sql`case when status = 'queued' then 'running' else status end`,
      updated_at: sql`case when status = 'queued' then now() else updated_at end`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/**
 * The failure's patch once classify has recorded its verdict (folded into that execution's
 * write). It claims the failure too (`queued` → `running`, see {@link failureSet}) for a triage job
 * that carried the failure and so skipped {@link claimFailure}.
 */
export function classificationRecorded(verdict: { category: string; confidence: number }): FailureUpdate {
  return { status: 'running', category: verdict.category, confidence: verdict.confidence };
}

/**
 * The `SET` of a failure patch: `updated_at` bumped, and `status: 'running'` written as the claim
 * it is, `queued` → `running` only (compare-and-set, as {@link claimFailure}), so a late write
 * never turns a triaged or failed failure back into `running`.
 */
export function failureSet(patch: FailureUpdate): FailureUpdate {
  const { status, ...rest } = patch;
  // Kysely's update types take values, not expressions, for a table's own update type; the two
  // expressions here are valid for their columns.
  const claim = sql`case when status = 'queued' then 'running' else status end` as unknown as FailureStatus;
  return { ...rest, ...(status === 'running' ? { status: claim } : status !== undefined ? { status } : {}), updated_at: sql`now()` as unknown as FailureUpdate['updated_at'] };
}

/** The failure's patch once summarize has finished triage (folded into that execution's write). */
export function triageCompleted(result: { runner: string; summary: string; budgetSkipped: boolean }): FailureUpdate {
  return {
    status: 'triaged',
    runner: result.runner,
    summary: result.summary,
    error: null,
    finished_at: new Date(),
    ...(result.budgetSkipped ? { budget_skipped: true } : {}),
  };
}

/**
 * Marks a failure `failed` with `error`, only while it is still in progress (`queued`,
 * `running`): a worker that lost its job to another one (network partition, stall) must not turn
 * the other's `triaged` into `failed`.
 *
 * @param error one line, already described (`describeError`)
 * @returns whether the failure was marked
 */
export async function failIfInProgress(db: Db, failureId: string, error: string): Promise<boolean> {
  const result = await db
    .updateTable('failures')
    .set({ status: 'failed', error, finished_at: new Date(), updated_at: sql`now()` })
    .where('id', '=', failureId)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Prepares a failure for a requested retry from `fromStage`: the next triage round numbers its
 * attempts after every attempt so far (history is kept, one row per (failure, stage, attempt)),
 * and stages from `fromStage` on run again while earlier ones keep their results.
 *
 * @param options.model `strong`: classify picks the strong model for this round (`/pitcrew explain`); default the strategy's choice
 * @returns the new round (`attempt_base`), or `null` when the failure does not exist or is being
 *   triaged right now
 */
export async function requestRetry(db: Kysely<Database>, failureId: string, fromStage: string, options: { model?: 'strong' } = {}): Promise<number | null> {
  const row = await db
    .updateTable('failures')
    .set(() => ({
      attempt_base: sql<number>`coalesce((select max(attempt) from executions where failure_id = ${failureId}), 0)`,
      retry_from_stage: fromStage,
      retry_model: options.model ?? null,
      status: 'queued',
      error: null,
      finished_at: null,
      updated_at: sql`now()`,
    }))
    .where('id', '=', failureId)
    .where('status', '!=', 'running')
    .returning('attempt_base')
    .executeTakeFirst();
  return row ? row.attempt_base : null;
}

/** Links a failure to its incident and records the breakage's signature (inside `joinIncident`'s transaction). */
export async function linkFailureToIncident(db: Db, failureId: string, link: { signature: string; incidentId: string }): Promise<void> {
  await db
    .updateTable('failures')
    .set({ signature: link.signature, incident_id: link.incidentId, updated_at: sql`now()` })
    .where('id', '=', failureId)
    .execute();
}

/**
 * Updates a failure and bumps `updated_at`. For tests and operator tools that set a field
 * directly; the worker's status changes go through the named functions above.
 */
export async function updateFailure(db: Db, id: string, patch: FailureUpdate): Promise<void> {
  await db
    .updateTable('failures')
    .set({ ...patch, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}
