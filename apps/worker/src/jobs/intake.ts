import type { Job, Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import { IntakeJobData, jobArgs, JOBS, loopOfBranch, OPEN_FAILURES_TTL_SECONDS, recordFailureDelivery, type Database, type RedisConnection } from '@pitcrew/core';
import { markOpen } from '../resolution/resolve.ts';
import { parseJobData } from './parse.ts';

/**
 * The `intake` job: records the delivery and its failure in Postgres (one statement; a failure on
 * a `pitcrew/fix/<id>` branch gets `fix_loop_id = <id>`, see `recordFailureDelivery`), then adds
 * the failure's triage job under the failure id, carrying the failure when this delivery created it. Idempotent: run twice, it records nothing new,
 * and the triage job is only (re)added while the failure is still `queued` (an existing job id
 * makes `add` a no-op), so a finished failure is never triaged twice by a redelivery.
 *
 * The payload is `data.payload` in jobs of older releases; ingest now writes it beside the job
 * (`data.payloadKey`, same Redis), read here as the JSON text GitHub sent (stored as is, never
 * parsed) and deleted once the job's work is done. A payload gone from Redis (its job waited past
 * `INTAKE_PAYLOAD_TTL_SECONDS`) is recorded as JSON `null`: the failure is still triaged, only
 * that delivery cannot be replayed.
 *
 * A failure still open (not on a fix branch) joins its branch's open-failure set
 * (`markOpen`), so ingest turns the branch's next success into a resolution job.
 *
 * @returns whether the failure was new, its status and the delivery's outcome
 */
export async function processIntake(db: Kysely<Database>, triage: Queue, data: IntakeJobData): Promise<{ created: boolean; status: string; outcome: string }> {
  const redis = data.payloadKey === undefined ? undefined : await triage.getBackend().client;
  const payloadText = data.payloadKey === undefined ? null : await redis!.get(data.payloadKey);
  const recorded = await recordFailureDelivery(
    db,
    {
      deliveryId: data.deliveryId,
      event: data.event,
      action: data.action,
      receivedAt: data.receivedAt,
      payload: data.payload ?? null,
      ...(payloadText !== null ? { payloadText } : {}),
    },
    data.failure,
  );
  if ((recorded.created || recorded.status === 'queued') && !loopOfBranch(data.failure.branch)) await markOpen((await triage.getBackend().client) as unknown as RedisConnection, triage.opts.prefix ?? 'bull', data.failure, OPEN_FAILURES_TTL_SECONDS);
  if (recorded.status === 'queued') {
    const carried = recorded.created ? { failure: data.failure, recordedAt: data.receivedAt } : undefined;
    await triage.add(...jobArgs(JOBS.triage, { v: 1, failureId: data.failure.id, round: 0, ...(carried ? { carried } : {}) }));
  }
  if (data.payloadKey !== undefined) await redis!.del(data.payloadKey);
  return recorded;
}

/** The processor of the `intake` queue. */
export function intakeProcessor(db: Kysely<Database>, triage: Queue) {
  return async function processIntakeJob(job: Job) {
    return processIntake(db, triage, parseJobData(IntakeJobData, job));
  };
}
