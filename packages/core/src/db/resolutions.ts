import { sql, type Transaction } from 'kysely';
import type { Database, Db, FailureRow, FailureRerun, IncidentRow } from './database.ts';

/**
 * Resolution of failures: a success of the same check on the same branch marks the open failures
 * of that check resolved (`resolved_at`, `resolved_by_sha`, `resolved_by_run_id`); time to green
 * is `resolved_at - received_at` ({@link timeToGreenMs}). A failure is resolved once: every
 * function here writes only rows whose `resolved_at` is null, so a redelivered or twin success
 * resolves nothing twice.
 */

/** The success that resolves: the check that passed, where and when. */
export interface ResolvingSuccess {
  owner: string;
  repo: string;
  branch: string;
  headSha: string;
  /** `job` (a check run or workflow job) resolves job failures; `run` (a workflow run) resolves run failures. */
  scope: 'job' | 'run';
  jobName: string | null;
  checkName: string | null;
  workflowName: string | null;
  runId: number | null;
  /** When it went green. */
  at: Date;
}

/**
 * Resolves the open failures of the check that passed: same repository and branch, same scope,
 * same name (a job failure's `job_name` or `check_name` is the passing job's or check run's name;
 * a run failure's `workflow_name` or `check_name` is the passing run's workflow name), and the
 * same workflow when both name one (a `check_run` names none). Failures of CI on a fix branch
 * belong to their loop and are left alone, as are failures received after the success.
 *
 * @returns the failures resolved by this call (none for a redelivery)
 */
export async function resolveOpenFailures(db: Db, success: ResolvingSuccess): Promise<FailureRow[]> {
  const name = success.scope === 'job' ? (success.jobName ?? success.checkName) : (success.workflowName ?? success.checkName);
  if (!name) return [];
  let query = db
    .updateTable('failures')
    .set({ resolved_at: success.at, resolved_by_sha: success.headSha, resolved_by_run_id: success.runId, updated_at: sql`now()` })
    .where('owner', '=', success.owner)
    .where('repo', '=', success.repo)
    .where('branch', '=', success.branch)
    .where('resolved_at', 'is', null)
    .where('fix_loop_id', 'is', null)
    .where('kind', '=', success.scope)
    .where('received_at', '<=', success.at)
    .where(sql<boolean>`${success.scope === 'job' ? sql`coalesce(job_name, check_name)` : sql`coalesce(workflow_name, check_name)`} = ${name}`);
  if (success.scope === 'job' && success.workflowName !== null) {
    query = query.where((eb) => eb.or([eb('workflow_name', 'is', null), eb('workflow_name', '=', success.workflowName)]));
  }
  return query.returningAll().execute();
}

/**
 * Resolves one failure (a fix loop's failure when its verified pull request is merged).
 *
 * @returns the row once resolved, or `undefined` when it does not exist or was resolved already
 */
export async function resolveFailure(db: Db, failureId: string, by: { sha: string | null; runId: number | null; at: Date }): Promise<FailureRow | undefined> {
  return db
    .updateTable('failures')
    .set({ resolved_at: by.at, resolved_by_sha: by.sha, resolved_by_run_id: by.runId, updated_at: sql`now()` })
    .where('id', '=', failureId)
    .where('resolved_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** ms from a failure's receipt to its resolution; `null` while open. */
export function timeToGreenMs(row: Pick<FailureRow, 'received_at' | 'resolved_at'>): number | null {
  if (!row.resolved_at) return null;
  return Math.max(0, new Date(row.resolved_at).getTime() - new Date(row.received_at).getTime());
}

/** Records the re-run pitcrew asked for on the failure it re-runs. */
export async function recordRerun(db: Db, failureId: string, rerun: FailureRerun): Promise<void> {
  await db.updateTable('failures').set({ rerun: JSON.stringify(rerun), updated_at: sql`now()` }).where('id', '=', failureId).execute();
}

/**
 * Whether another failure of the same workflow run attempt was classified into a category outside
 * `transient` without flaky evidence: a run that also failed for a real reason is never re-run.
 */
export async function runHasOtherFailure(db: Db, failure: { id: string; owner: string; repo: string; runId: number; runAttempt: number }, transient: readonly string[]): Promise<boolean> {
  const row = await db
    .selectFrom('failures')
    .select('id')
    .where('owner', '=', failure.owner)
    .where('repo', '=', failure.repo)
    .where('run_id', '=', String(failure.runId))
    .where('run_attempt', '=', failure.runAttempt)
    .where('id', '!=', failure.id)
    .where('category', 'is not', null)
    .where('category', 'not in', [...transient])
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Occurrences of an incident that are still unresolved. */
export async function unresolvedOccurrences(db: Db, incidentId: string): Promise<number> {
  const row = await db
    .selectFrom('failures')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('incident_id', '=', incidentId)
    .where('resolved_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The latest resolution among an incident's occurrences, or `null`. */
export async function lastResolutionOf(db: Db, incidentId: string): Promise<Date | null> {
  const row = await db
    .selectFrom('failures')
    .select((eb) => eb.fn.max('resolved_at').as('at'))
    .where('incident_id', '=', incidentId)
    .executeTakeFirst();
  return row?.at ? new Date(row.at as Date | string) : null;
}

/** Marks an incident's issue closed by pitcrew (inside the lock of `lockIncident`). */
export async function markIncidentClosed(trx: Transaction<Database>, id: string, at: Date): Promise<IncidentRow> {
  return trx.updateTable('incidents').set({ closed_at: at }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

/** Clears an incident's `closed_at` when its issue is reopened (a new occurrence after it was closed). */
export async function reopenIncident(trx: Transaction<Database>, id: string): Promise<void> {
  await trx.updateTable('incidents').set({ closed_at: null }).where('id', '=', id).execute();
}
