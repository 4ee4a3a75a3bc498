import type { Queue } from 'bullmq';
import {
  DELIVERY_SEEN_TTL_SECONDS,
  deliverySeenKey,
  INTAKE_PAYLOAD_TTL_SECONDS,
  intakeJobId,
  intakePayloadKey,
  type CiFailure,
  type IntakeJobData,
  type RedisConnection,
} from '@pitcrew/core';

/** One failure delivery, verified and normalized, as the webhook route hands it over. */
export interface FailureDelivery {
  deliveryId: string;
  event: CiFailure['event'];
  action: string;
  receivedAt: Date;
  failure: CiFailure;
  /** The parsed payload. */
  payload: unknown;
  /**
   * The payload's JSON text (or its UTF-8 bytes) as received, when at hand (the webhook has it):
   * stored as is, so the payload is not serialized again. Default `JSON.stringify(payload)`.
   */
  payloadJson?: string | Buffer;
}

/** Whether the delivery was new or a redelivery of one already enqueued. */
export type IntakeOutcome = 'accepted' | 'duplicate';

/** Where the webhook route puts failures. */
export interface IntakeProducer {
  /**
   * Durably enqueues a failure delivery.
   * @throws when Redis refuses the write; the caller must not answer 2xx then
   */
  enqueue(delivery: FailureDelivery): Promise<IntakeOutcome>;
}

/**
 * An {@link IntakeProducer} over a BullMQ queue.
 *
 * Per delivery, in this order:
 * 1. the payload's JSON text is `SET` under {@link intakePayloadKey} (7 days) and the intake job,
 *    which names that key instead of carrying the payload, is added under a job id derived from
 *    the delivery id (an existing id makes `add` a no-op). Both go on the queue's own connection
 *    (`redis`) in one round trip; Redis runs one connection's commands in order, so the job is
 *    written after its payload (a failed `add` can leave a payload without a job, which expires).
 * 2. then, once the job is written, the delivery is marked seen with `SET NX`. A crash between
 *    the two leaves a job and no mark, so a redelivery is answered `accepted` again but adds
 *    nothing; the reverse order could mark a delivery seen whose job was never written, and its
 *    redelivery would be dropped as a duplicate. Two concurrent copies of one delivery both
 *    reach `SET NX`; exactly one wins.
 *
 * Why the payload is beside the job and not in it: a 10-20 KiB payload inside the job data is
 * stringified again (escaped) by BullMQ and copied through its Lua script; as a plain string it
 * is written as received (README, "The ingest hot path").
 *
 * `main.ts` gives it a connection without auto-pipelining: on the queues' connection ioredis'
 * per-tick Pipeline costs more than the writes it saves (see the comment there).
 *
 * @param queue the `intake` queue
 * @param redis the queue's own connection (its `connection` option), for the payloads and marks
 * @param prefix the BullMQ prefix, under which the payloads and marks are kept
 * @throws {TypeError} at construction when `redis` is not the queue's connection
 */
export function createIntakeProducer(queue: Queue, redis: RedisConnection, prefix: string): IntakeProducer {
  if (queue.opts.connection !== redis) {
    throw new TypeError('createIntakeProducer needs the queue\'s own connection: a payload must be written on the connection its job is added on');
  }
  return {
    async enqueue(delivery) {
      const payloadKey = intakePayloadKey(prefix, delivery.deliveryId);
      const data: IntakeJobData = {
        v: 1,
        deliveryId: delivery.deliveryId,
        event: delivery.event,
        action: delivery.action,
        receivedAt: delivery.receivedAt.toISOString(),
        failure: delivery.failure,
        payloadKey,
      };
      const stored = redis.set(
        payloadKey,
        delivery.payloadJson ?? JSON.stringify(delivery.payload),
        'EX',
        INTAKE_PAYLOAD_TTL_SECONDS,
      );
      const added = queue.add(delivery.event, data, { jobId: intakeJobId(delivery.deliveryId) });
      await Promise.all([stored, added]);
      const marked = await redis.set(
        deliverySeenKey(prefix, delivery.deliveryId),
        delivery.failure.id,
        'EX',
        DELIVERY_SEEN_TTL_SECONDS,
        'NX',
      );
      return marked === 'OK' ? 'accepted' : 'duplicate';
    },
  };
}
