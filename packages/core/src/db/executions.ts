import { sql } from 'kysely';
import type { Db, ExecutionRow, FailureUpdate } from './database.ts';
import { failureSet } from './failures.ts';

/**
 * The `executions` table: one row per (failure, stage, attempt), with the runner and model, tokens
 * in/out, USD and wall time of that execution. The worker's stage runner is the only writer; it
 * uses one of two protocols per execution:
 *
 * - **claimed** ({@link startExecution} then {@link finishExecution}): a `running` row is written
 *   before the stage runs, so a slow stage (a model or agent call, seconds to minutes) is visible
 *   while it runs, and the row's `started_at` is the run's claim: a worker that lost the attempt to
 *   another one cannot overwrite that one's result.
 * - **recorded** ({@link recordExecutions}): written once done, for stages that take milliseconds
 *   (rules): nothing to watch while they run, and a duplicate run of the same attempt computes the
 *   same result, so the first write wins and the second reads it back. The recorded stages of one
 *   job are written together, in one statement.
 *
 * Either final write can carry the failure's own patch (`classificationRecorded`,
 * `triageCompleted` from `failures.ts`), applied in the same statement and only when the execution
 * was written.
 */

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

/** The key and attribution of one execution. */
export interface ExecutionKey {
  failureId: string;
  stage: string;
  attempt: number;
  runner: string;
  model: string | null;
  /** When the run began (default now); the claim of a claimed execution. */
  startedAt?: Date;
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
  /** TensorZero's inference id of the stage's model call (a UUIDv7), when its gateway answered it. */
  inferenceId?: string | null;
  /** TensorZero's episode id of that call (the fix loop's episode, see `loopEpisodeId`). */
  episodeId?: string | null;
}

/** The failure's own change written with an execution (see `failures.ts`). */
export interface FailurePatch {
  failureId: string;
  patch: FailureUpdate;
}

/**
 * Marks the start of a claimed execution. When the same attempt runs again (a stalled job picked
 * up by another worker) the row is reset to `running` rather than duplicated, unless it already
 * succeeded, which is never undone. One statement.
 *
 * @returns the execution id
 * @throws {ExecutionAlreadySucceededError} when the row already succeeded
 */
export async function startExecution(db: Db, row: ExecutionKey): Promise<string> {
  const now = row.startedAt ?? new Date();
  const result = await db
    .insertInto('executions')
    .values({ failure_id: row.failureId, stage: row.stage, attempt: row.attempt, runner: row.runner, model: row.model, status: 'running', started_at: now })
    .onConflict((oc) =>
      oc
        .columns(['failure_id', 'stage', 'attempt'])
        .doUpdateSet({ runner: row.runner, model: row.model, status: 'running', started_at: now, finished_at: null, duration_ms: null, error: null, output: null, inference_id: null, episode_id: null })
        .where('executions.status', '!=', 'succeeded'),
    )
    .returning('id')
    .executeTakeFirst();
  if (!result) throw new ExecutionAlreadySucceededError(row.failureId, row.stage, row.attempt);
  return result.id;
}

function resultColumns(result: ExecutionResult) {
  return {
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
    inference_id: result.inferenceId ?? null,
    episode_id: result.episodeId ?? null,
  };
}

/**
 * Records the end of a claimed execution. With `claim` (the `startedAt` given to
 * {@link startExecution}) only a row still `running` under that claim is updated: a run that was
 * taken over by another worker records nothing. `failure`, when given, is applied in the same
 * statement, and only when the execution row was updated. One statement.
 *
 * @returns whether the execution row was updated
 */
export async function finishExecution(db: Db, id: string, result: ExecutionResult, claim?: Date, failure?: FailurePatch): Promise<boolean> {
  const update = (q: Db) => {
    let query = q.updateTable('executions').set(resultColumns(result)).where('id', '=', id);
    if (claim) query = query.where('started_at', '=', claim).where('status', '=', 'running');
    return query;
  };
  if (!failure) return Number((await update(db).executeTakeFirst()).numUpdatedRows) > 0;
  const row = await db
    .with('e', (q) => update(q as Db).returning('id'))
    .updateTable('failures')
    .set(failureSet(failure.patch))
    .where('id', '=', failure.failureId)
    .where(({ exists, selectFrom }) => exists(selectFrom('e').select('e.id')))
    .returning('failures.id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Writes finished executions in one statement (the recorded protocol): each inserted, or
 * replacing a row of the same attempt that did not succeed (a dead run's `running` or `failed`
 * row). A row that already succeeded wins: it is left as it is. `failure` is applied in the same
 * statement when at least one execution was written. A worker's rules stages of one job (classify,
 * or execute and summarize) land in one such statement.
 *
 * @returns the keys (`stage`) of the executions this call wrote; a stage missing from it had
 *   already succeeded in another run, whose output the caller reads ({@link findSucceededExecution})
 */
export async function recordExecutions(db: Db, rows: readonly { key: ExecutionKey; result: ExecutionResult }[], failure?: FailurePatch): Promise<string[]> {
  if (rows.length === 0) return [];
  const values = rows.map(({ key, result }) => {
    const columns = resultColumns(result);
    return { failure_id: key.failureId, stage: key.stage, attempt: key.attempt, runner: key.runner, model: key.model, started_at: key.startedAt ?? new Date(), ...columns };
  });
  // Every row sets the same columns, so `excluded.<column>` replaces a failed or running row.
  const upsert = (q: Db) =>
    q
      .insertInto('executions')
      .values(values)
      .onConflict((oc) =>
        oc
          .columns(['failure_id', 'stage', 'attempt'])
          .doUpdateSet((eb) => ({
            runner: eb.ref('excluded.runner'),
            model: eb.ref('excluded.model'),
            status: eb.ref('excluded.status'),
            started_at: eb.ref('excluded.started_at'),
            finished_at: eb.ref('excluded.finished_at'),
            duration_ms: eb.ref('excluded.duration_ms'),
            tokens_in: eb.ref('excluded.tokens_in'),
            tokens_out: eb.ref('excluded.tokens_out'),
            cost_usd: eb.ref('excluded.cost_usd'),
            output: eb.ref('excluded.output'),
            error: eb.ref('excluded.error'),
            inference_id: eb.ref('excluded.inference_id'),
            episode_id: eb.ref('excluded.episode_id'),
          }))
          .where('executions.status', '!=', 'succeeded'),
      )
      .returning('stage');
  if (!failure) return (await upsert(db).execute()).map((r) => r.stage);
  const written = await db
    .with('e', (q) => upsert(q as Db))
    .with('f', (q) =>
      q
        .updateTable('failures')
        .set(failureSet(failure.patch))
        .where('id', '=', failure.failureId)
        .where(({ exists, selectFrom }) => exists(selectFrom('e').select('e.stage'))),
    )
    .selectFrom('e')
    .select('e.stage')
    .execute();
  return written.map((r) => r.stage);
}

/**
 * The latest succeeded execution of a stage for a failure with `attempt > minAttempt` (0 = any
 * attempt; a retry from a stage passes the failure's `attempt_base` for that stage and later ones).
 */
export async function findSucceededExecution(db: Db, failureId: string, stage: string, minAttempt = 0): Promise<ExecutionRow | undefined> {
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
 * Marks `running` rows of earlier attempts of one stage `failed`: attempts that died between
 * starting and recording the stage (worker killed, Postgres gone before the result was written).
 */
export async function sweepAbandonedExecutions(db: Db, failureId: string, stage: string, beforeAttempt: number): Promise<void> {
  await db
    .updateTable('executions')
    .set({ status: 'failed', error: 'abandoned: that attempt ended without recording a result', finished_at: new Date() })
    .where('failure_id', '=', failureId)
    .where('stage', '=', stage)
    .where('attempt', '<', beforeAttempt)
    .where('status', '=', 'running')
    .execute();
}

/** Marks every `running` execution of a failure `failed` with `abandoned: <reason>` (its job failed outside the processor). */
export async function abandonRunningExecutions(db: Db, failureId: string, reason: string): Promise<void> {
  await db
    .updateTable('executions')
    .set({ status: 'failed', error: `abandoned: ${reason}`, finished_at: new Date() })
    .where('failure_id', '=', failureId)
    .where('status', '=', 'running')
    .execute();
}

/** Every execution of a failure, oldest first. */
export async function listExecutions(db: Db, failureId: string): Promise<ExecutionRow[]> {
  return db.selectFrom('executions').selectAll().where('failure_id', '=', failureId).orderBy('started_at').orderBy('id').execute();
}
