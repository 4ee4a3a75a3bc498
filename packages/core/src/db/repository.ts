import { sql, type Kysely, type Transaction } from 'kysely';
import type { CiFailure } from '../failure.ts';
import type {
  Database,
  DeliveryOutcome,
  ExecutionRow,
  FailureRow,
  FailureStatus,
  FailureUpdate,
} from './database.ts';

/** A Kysely instance or a transaction; every repository function takes one first. */
export type Db = Kysely<Database> | Transaction<Database>;

/** A failure delivery as ingest received it. */
export interface DeliveryRecord {
  deliveryId: string;
  event: string;
  action: string | null;
  receivedAt: string | Date;
  payload: unknown;
}

/**
 * Records a failure delivery and its failure in one transaction, idempotently: a repeated call
 * (job retried, redelivery) changes nothing. The first delivery of a failure is `accepted`; a
 * different delivery of the same failure (e.g. the `workflow_job` twin of a `check_run`) is
 * `merged`.
 *
 * @returns the failure's current status and whether this call created it
 */
export async function recordFailureDelivery(
  db: Kysely<Database>,
  delivery: DeliveryRecord,
  failure: CiFailure,
): Promise<{ created: boolean; status: FailureStatus; outcome: DeliveryOutcome }> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('failures')
      .values({
        id: failure.id,
        provider: failure.provider,
        kind: failure.kind,
        owner: failure.owner,
        repo: failure.repo,
        branch: failure.branch,
        head_sha: failure.headSha,
        run_id: failure.runId,
        run_attempt: failure.runAttempt,
        job_id: failure.jobId,
        check_suite_id: failure.checkSuiteId,
        workflow_name: failure.workflowName,
        job_name: failure.jobName,
        check_name: failure.checkName,
        html_url: failure.htmlUrl,
        conclusion: failure.conclusion,
        failed_steps: JSON.stringify(failure.failedSteps),
        installation_id: failure.installationId,
        data: JSON.stringify(failure),
        status: 'queued',
        first_delivery_id: delivery.deliveryId,
        received_at: delivery.receivedAt,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning(['status'])
      .executeTakeFirst();
    const existing = inserted
      ? undefined
      : await trx
          .selectFrom('failures')
          .select(['status', 'first_delivery_id'])
          .where('id', '=', failure.id)
          .executeTakeFirstOrThrow();
    const outcome: DeliveryOutcome =
      inserted || existing?.first_delivery_id === delivery.deliveryId ? 'accepted' : 'merged';
    await trx
      .insertInto('deliveries')
      .values({
        id: delivery.deliveryId,
        event: delivery.event,
        action: delivery.action,
        received_at: delivery.receivedAt,
        outcome,
        failure_id: failure.id,
        payload: JSON.stringify(delivery.payload ?? null),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return {
      created: inserted !== undefined,
      status: (inserted?.status ?? existing!.status) as FailureStatus,
      outcome,
    };
  });
}

/** One failure by id, or `undefined`. */
export async function findFailure(db: Db, id: string): Promise<FailureRow | undefined> {
  return db.selectFrom('failures').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Updates a failure and bumps `updated_at`. */
export async function updateFailure(db: Db, id: string, patch: FailureUpdate): Promise<void> {
  await db
    .updateTable('failures')
    .set({ ...patch, updated_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/**
 * Thrown by {@link startExecution} when this (failure, stage, attempt) already succeeded: another
 * worker ran the same attempt to the end (this one lost its lock, e.g. behind a network
 * partition). The caller should reuse that execution's output instead of running the stage.
 */
export class ExecutionAlreadySucceededError extends Error {
  constructor(readonly failureId: string, readonly stage: string, readonly attempt: number) {
    super(`execution ${failureId}/${stage}/${attempt} already succeeded in another worker`);
    this.name = 'ExecutionAlreadySucceededError';
  }
}

/**
 * Marks the start of one execution of a stage. Keyed by (failure, stage, attempt): when the same
 * attempt runs again (a stalled job picked up by another worker), the row is reset to `running`
 * rather than duplicated — unless it already succeeded, which is never undone.
 *
 * `startedAt` (default now) is also the run's claim on the row: pass it to
 * {@link finishExecution} so that a worker whose row was taken over cannot overwrite the result
 * of the worker that took it.
 *
 * @returns the execution id
 * @throws {ExecutionAlreadySucceededError} when the row already succeeded
 */
export async function startExecution(
  db: Db,
  row: { failureId: string; stage: string; attempt: number; runner: string; model: string | null; startedAt?: Date },
): Promise<string> {
  const now = row.startedAt ?? new Date();
  const result = await db
    .insertInto('executions')
    .values({
      failure_id: row.failureId,
      stage: row.stage,
      attempt: row.attempt,
      runner: row.runner,
      model: row.model,
      status: 'running',
      started_at: now,
    })
    .onConflict((oc) =>
      oc.columns(['failure_id', 'stage', 'attempt']).doUpdateSet({
        runner: row.runner,
        model: row.model,
        status: 'running',
        started_at: now,
        finished_at: null,
        duration_ms: null,
        error: null,
        output: null,
      }).where('executions.status', '!=', 'succeeded'),
    )
    .returning('id')
    .executeTakeFirst();
  if (!result) throw new ExecutionAlreadySucceededError(row.failureId, row.stage, row.attempt);
  return result.id;
}

/** What an execution produced; tokens and USD as reported/computed, durations in ms. */
export interface ExecutionResult {
  status: 'succeeded' | 'failed';
  runner?: string;
  model?: string | null;
  tokensIn?: number;
  tokensOut?: number;
  costUsd?: number;
  durationMs: number;
  output?: unknown;
  error?: string | null;
}

/**
 * Records the end of an execution started with {@link startExecution}. With `startedAt` (the
 * claim given to `startExecution`), only a row still `running` under that claim is updated: a run
 * that was taken over by another worker records nothing.
 *
 * @returns whether the row was updated
 */
export async function finishExecution(db: Db, id: string, result: ExecutionResult, startedAt?: Date): Promise<boolean> {
  let query = db
    .updateTable('executions')
    .set({
      status: result.status,
      ...(result.runner !== undefined ? { runner: result.runner } : {}),
      ...(result.model !== undefined ? { model: result.model } : {}),
      tokens_in: result.tokensIn ?? 0,
      tokens_out: result.tokensOut ?? 0,
      cost_usd: result.costUsd ?? 0,
      duration_ms: Math.round(result.durationMs),
      finished_at: new Date(),
      output: result.output === undefined ? null : JSON.stringify(result.output),
      error: result.error ?? null,
    })
    .where('id', '=', id);
  if (startedAt) query = query.where('started_at', '=', startedAt).where('status', '=', 'running');
  const updated = await query.executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0;
}

/**
 * The latest succeeded execution of a stage for a failure with `attempt > minAttempt` (0 = any
 * attempt; a retry from a stage passes the failure's `attempt_base` for that stage and later ones).
 */
export async function findSucceededExecution(
  db: Db,
  failureId: string,
  stage: string,
  minAttempt = 0,
): Promise<ExecutionRow | undefined> {
  return db
    .selectFrom('executions')
    .selectAll()
    .where('failure_id', '=', failureId)
    .where('stage', '=', stage)
    .where('status', '=', 'succeeded')
    .where('attempt', '>', minAttempt)
    .orderBy('attempt', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Prepares a failure for a requested retry from `fromStage`: the next triage round numbers its
 * attempts after every attempt so far (history is kept, one row per (failure, stage, attempt)),
 * and stages from `fromStage` on run again while earlier ones keep their results.
 *
 * @returns false when the failure does not exist or is being triaged right now
 */
export async function requestRetry(db: Kysely<Database>, failureId: string, fromStage: string): Promise<boolean> {
  const result = await db
    .updateTable('failures')
    .set(() => ({
      attempt_base: sql<number>`coalesce((select max(attempt) from executions where failure_id = ${failureId}), 0)`,
      retry_from_stage: fromStage,
      status: 'queued',
      error: null,
      finished_at: null,
      updated_at: sql`now()`,
    }))
    .where('id', '=', failureId)
    .where('status', '!=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Every execution of a failure, oldest first. */
export async function listExecutions(db: Db, failureId: string): Promise<ExecutionRow[]> {
  return db
    .selectFrom('executions')
    .selectAll()
    .where('failure_id', '=', failureId)
    .orderBy('started_at')
    .orderBy('id')
    .execute();
}
