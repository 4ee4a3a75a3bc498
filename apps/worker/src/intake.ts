import type { Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import { recordFailureDelivery, type Database, type IntakeJobData, type TriageJobData } from '@pitcrew/core';

/**
 * Processes one intake job: records the delivery and its failure in Postgres, then enqueues the
 * failure's triage job under the failure id. Idempotent: run twice, it records nothing new, and
 * the triage job is only (re)added while the failure is still `queued` (an existing job id makes
 * `add` a no-op), so a finished failure is never triaged twice by a redelivery.
 *
 * @returns whether the failure was new and its status
 */
export async function processIntake(
  db: Kysely<Database>,
  triage: Queue,
  data: IntakeJobData,
): Promise<{ created: boolean; status: string; outcome: string }> {
  const recorded = await recordFailureDelivery(
    db,
    {
      deliveryId: data.deliveryId,
      event: data.event,
      action: data.action,
      receivedAt: data.receivedAt,
      payload: data.payload,
    },
    data.failure,
  );
  if (recorded.status === 'queued') {
    const job: TriageJobData = { v: 1, failureId: data.failure.id };
    await triage.add('triage', job, { jobId: data.failure.id });
  }
  return recorded;
}
