import type { Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import { recordFailureDelivery, type Database, type IntakeJobData, type TriageJobData } from '@pitcrew/core';

/**
 * Processes one intake job: records the delivery and its failure in Postgres, then enqueues the
 * failure's triage job under the failure id. Idempotent: run twice, it records nothing new, and
 * the triage job is only (re)added while the failure is still `queued` (an existing job id makes
 * `add` a no-op), so a finished failure is never triaged twice by a redelivery.
 *
 * The payload is `data.payload` in jobs of older releases; ingest now writes it beside the job
 * (`data.payloadKey`, same Redis), read here and deleted once the job's work is done. A payload
 * gone from Redis (its job waited past `INTAKE_PAYLOAD_TTL_SECONDS`) is recorded as JSON `null`:
 * the failure is still triaged, only that delivery cannot be replayed.
 *
 * @returns whether the failure was new and its status
 */
export async function processIntake(
  db: Kysely<Database>,
  triage: Queue,
  data: IntakeJobData,
): Promise<{ created: boolean; status: string; outcome: string }> {
  const redis = data.payloadKey === undefined ? undefined : await triage.getBackend().client;
  const payloadJson = data.payloadKey === undefined ? undefined : await redis!.get(data.payloadKey);
  const recorded = await recordFailureDelivery(
    db,
    {
      deliveryId: data.deliveryId,
      event: data.event,
      action: data.action,
      receivedAt: data.receivedAt,
      payload: payloadJson == null ? (data.payload ?? null) : JSON.parse(payloadJson),
    },
    data.failure,
  );
  if (recorded.status === 'queued') {
    const job: TriageJobData = { v: 1, failureId: data.failure.id };
    await triage.add('triage', job, { jobId: data.failure.id });
  }
  if (data.payloadKey !== undefined) await redis!.del(data.payloadKey);
  return recorded;
}
