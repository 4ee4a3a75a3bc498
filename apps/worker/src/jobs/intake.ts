import type { Job, Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import { IntakeJobData, jobArgs, JOBS, recordFailureDelivery, type Database } from '@pitcrew/core';
import { parseJobData } from './parse.ts';

/**
 * The `intake` job: records the delivery and its failure in Postgres (one statement), then adds
 * the failure's triage job under the failure id, carrying the failure when this delivery created it. Idempotent: run twice, it records nothing new,
 * and the triage job is only (re)added while the failure is still `queued` (an existing job id
 * makes `add` a no-op), so a finished failure is never triaged twice by a redelivery.
 *
 * @returns whether the failure was new, its status and the delivery's outcome
 */
export async function processIntake(db: Kysely<Database>, triage: Queue, data: IntakeJobData): Promise<{ created: boolean; status: string; outcome: string }> {
  const recorded = await recordFailureDelivery(
    db,
    { deliveryId: data.deliveryId, event: data.event, action: data.action, receivedAt: data.receivedAt, payload: data.payload },
    data.failure,
  );
  if (recorded.status === 'queued') {
    const carried = recorded.created ? { failure: data.failure, recordedAt: data.receivedAt } : undefined;
    await triage.add(...jobArgs(JOBS.triage, { v: 1, failureId: data.failure.id, round: 0, ...(carried ? { carried } : {}) }));
  }
  return recorded;
}

/** The processor of the `intake` queue. */
export function intakeProcessor(db: Kysely<Database>, triage: Queue) {
  return async function processIntakeJob(job: Job) {
    return processIntake(db, triage, parseJobData(IntakeJobData, job));
  };
}
