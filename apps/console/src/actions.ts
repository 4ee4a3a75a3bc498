import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Kysely } from 'kysely';
import { CI_EVENTS, findDelivery, findFailure, isIgnored, jobArgs, JOBS, normalizeGithubEvent, PayloadShapeError, requestRetry, type CiEvent, type Database, type Logger, TRIAGE_STAGES } from '@pitcrew/core';
import type { IntakeOutcome, IntakeProducer } from '@pitcrew/ingest';

/** A stage a retry may start from: `classify`, `execute` or `summarize`. */
export type TriageStageName = (typeof TRIAGE_STAGES)[number];

/**
 * The console's state-changing actions, one implementation behind both the admin API's
 * `POST /api/failures/:id/retry` and `POST /api/deliveries/:id/replay` and the pages' forms (core's `requestRetry`, the
 * triage job catalog, the intake producer), answering with what happened instead of HTTP errors.
 */

/** What a retry did: `queued` (a new triage round from `fromStage`), or why it was refused. */
export type RetryResult =
  | { outcome: 'queued'; failureId: string; fromStage: TriageStageName; attemptBase: number; jobId: string }
  | { outcome: 'not_found'; failureId: string }
  | { outcome: 'conflict'; failureId: string; reason: string };

/**
 * Retries a failure's triage from `fromStage`: earlier stages keep their results, this stage and
 * the later ones run again as new attempts on a worker (core `requestRetry`, then one triage job
 * per round, `jobArgs(JOBS.triage, …)`). Refused while the failure is queued or being triaged.
 */
export async function retryFailure(deps: { db: Kysely<Database>; triage: Pick<Queue, 'getJob' | 'add'>; logger: Logger }, failureId: string, fromStage: TriageStageName, via: 'api' | 'pages' = 'pages'): Promise<RetryResult> {
  const failure = await findFailure(deps.db, failureId);
  if (!failure) return { outcome: 'not_found', failureId };
  // A queued failure already has a triage job coming; a second one would race it.
  const attemptBase = failure.status === 'queued' || failure.status === 'running' ? null : await requestRetry(deps.db, failureId, fromStage);
  if (attemptBase === null) {
    return { outcome: 'conflict', failureId, reason: `failure ${failureId} is ${failure.status === 'queued' ? 'queued' : 'being triaged'}; retry once it is triaged or failed` };
  }
  const args = jobArgs(JOBS.triage, { v: 1, failureId, round: attemptBase });
  const jobId = args[2].jobId;
  // A finished job of that id (kept for the board) would turn `add` into a no-op, so it goes first.
  const old = await deps.triage.getJob(jobId);
  if (old && ((await old.isCompleted()) || (await old.isFailed()))) await old.remove();
  await deps.triage.add(...args);
  deps.logger.info({ failureId, fromStage, attemptBase, jobId, via }, 'retry requested');
  return { outcome: 'queued', failureId, fromStage, attemptBase, jobId };
}

/** What a replay did: the stored payload enqueued under a new delivery id, or why not. */
export type ReplayResult =
  | { outcome: 'enqueued'; replayOf: string; deliveryId: string; failureId: string; intake: IntakeOutcome; failureExisted: boolean }
  | { outcome: 'not_found'; replayOf: string }
  | { outcome: 'not_a_failure'; replayOf: string; reason: string };

/**
 * Replays a stored delivery: its payload as a new intake job under a new delivery id
 * (`<id>-replay-<hex>`; the original id is remembered as seen and would be dropped). Idempotent by
 * failure id, so an existing failure records a `merged` delivery and is not triaged again.
 *
 * @throws when Redis refuses the intake job
 */
export async function replayDelivery(deps: { db: Kysely<Database>; producer: IntakeProducer; logger: Logger; now?: () => Date }, deliveryId: string, via: 'api' | 'pages' = 'pages'): Promise<ReplayResult> {
  const delivery = await findDelivery(deps.db, deliveryId);
  if (!delivery) return { outcome: 'not_found', replayOf: deliveryId };
  if (!(CI_EVENTS as readonly string[]).includes(delivery.event)) return { outcome: 'not_a_failure', replayOf: deliveryId, reason: `a ${delivery.event} event, not a CI event` };
  let failure;
  try {
    failure = normalizeGithubEvent(delivery.event, delivery.payload);
  } catch (error) {
    if (error instanceof PayloadShapeError) return { outcome: 'not_a_failure', replayOf: deliveryId, reason: error.message };
    throw error;
  }
  if (isIgnored(failure)) return { outcome: 'not_a_failure', replayOf: deliveryId, reason: `it no longer describes a failure: ${failure.reason}` };
  const existing = await findFailure(deps.db, failure.id);
  const replayId = `${deliveryId}-replay-${randomBytes(4).toString('hex')}`;
  // A new delivery id: the original's is remembered as seen for days and would be dropped.
  const intake = await deps.producer.enqueue({
    deliveryId: replayId,
    event: delivery.event as CiEvent,
    action: delivery.action ?? 'completed',
    receivedAt: (deps.now ?? (() => new Date()))(),
    failure,
    payload: delivery.payload,
  });
  deps.logger.info({ replayOf: deliveryId, deliveryId: replayId, failureId: failure.id, intake, via }, 'delivery replayed');
  return { outcome: 'enqueued', replayOf: deliveryId, deliveryId: replayId, failureId: failure.id, intake, failureExisted: existing !== undefined };
}
