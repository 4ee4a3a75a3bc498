import { sql } from 'kysely';
import type { CiFailure } from '../failure.ts';
import type { Db, DeliveryOutcome, FailureStatus } from './database.ts';
import { loopOfBranch } from './fix-loops.ts';

/**
 * The `deliveries` table: every failure delivery GitHub sent, with its raw payload, kept for
 * traceability and replay. A delivery arrives with the failure it describes, so the two are
 * recorded together here.
 */

/** A failure delivery as ingest received it. */
export interface DeliveryRecord {
  deliveryId: string;
  event: string;
  action: string | null;
  receivedAt: string | Date;
  payload: unknown;
  /** The payload as the JSON text GitHub sent, stored as is instead of `payload` when given. */
  payloadText?: string;
}

/**
 * Records a failure delivery and its failure in one statement, idempotently: a repeated call (job
 * retried, redelivery) changes nothing. The first delivery of a failure is `accepted`; a different
 * delivery of the same failure (the `workflow_job` twin of a `check_run`) is `merged`.
 *
 * One `INSERT … ON CONFLICT DO UPDATE` on `failures` whose update writes nothing new: unlike
 * `DO NOTHING` it returns the existing row, also when a concurrent intake of the twin delivery
 * inserted it a moment earlier (the statement waits for that one's commit, then reads its row),
 * and `xmax = 0` tells an insert from an existing row. The delivery is inserted by a
 * data-modifying CTE of the same statement (PostgreSQL docs, "WITH Queries", 7.8.4). A failure on
 * a `pitcrew/fix/<id>` branch is recorded with `fix_loop_id = <id>` ({@link loopOfBranch}): CI's
 * failure of a fix belongs to that loop.
 *
 * @returns the failure's current status, whether this call created it, and the delivery's outcome
 */
export async function recordFailureDelivery(
  db: Db,
  delivery: DeliveryRecord,
  failure: CiFailure,
): Promise<{ created: boolean; status: FailureStatus; outcome: DeliveryOutcome }> {
  const receivedAt = delivery.receivedAt instanceof Date ? delivery.receivedAt.toISOString() : delivery.receivedAt;
  const row = await db
    .with('f', (q) =>
      q
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
          fix_loop_id: loopOfBranch(failure.branch),
          data: JSON.stringify(failure),
          status: 'queued',
          first_delivery_id: delivery.deliveryId,
          received_at: receivedAt,
        })
        .onConflict((oc) => oc.column('id').doUpdateSet({ first_delivery_id: sql`failures.first_delivery_id` }))
        .returning([
          'status',
          sql<boolean>`xmax = 0`.as('created'),
          sql<DeliveryOutcome>`case when xmax = 0 or first_delivery_id = ${delivery.deliveryId} then 'accepted' else 'merged' end`.as('outcome'),
        ]),
    )
    .with('d', (q) =>
      q
        .insertInto('deliveries')
        .columns(['id', 'event', 'action', 'received_at', 'outcome', 'failure_id', 'payload'])
        .expression((eb) =>
          eb
            .selectFrom('f')
            .select([
              sql<string>`${delivery.deliveryId}::text`.as('id'),
              sql<string>`${delivery.event}::text`.as('event'),
              sql<string | null>`${delivery.action}::text`.as('action'),
              sql<string>`${receivedAt}::timestamptz`.as('received_at'),
              sql<DeliveryOutcome>`f.outcome`.as('outcome'),
              sql<string>`${failure.id}::text`.as('failure_id'),
              sql<string>`${delivery.payloadText ?? JSON.stringify(delivery.payload ?? null)}::jsonb`.as('payload'),
            ]),
        )
        .onConflict((oc) => oc.column('id').doNothing()),
    )
    .selectFrom('f')
    .select(['status', 'created', 'outcome'])
    .executeTakeFirstOrThrow();
  return { created: row.created, status: row.status as FailureStatus, outcome: row.outcome };
}
