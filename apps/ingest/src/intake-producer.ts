import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  DELIVERY_SEEN_TTL_SECONDS,
  deliverySeenKey,
  intakeJobId,
  type CiFailure,
  type IntakeJobData,
} from '@pitcrew/core';

/** One failure delivery, verified and normalized, as the webhook route hands it over. */
export interface FailureDelivery {
  deliveryId: string;
  event: CiFailure['event'];
  action: string;
  receivedAt: Date;
  failure: CiFailure;
  payload: unknown;
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
 * Order matters for "never lose, never double": the intake job is added first, under a job id
 * derived from the delivery id (an existing id makes `add` a no-op), and only then is the
 * delivery marked seen with `SET NX`. A crash between the two leaves a job and no mark, so a
 * redelivery is answered `accepted` again but adds nothing; the reverse order could mark a
 * delivery seen whose job was never written, and its redelivery would be dropped as a duplicate.
 * Two concurrent copies of one delivery both reach `SET NX`; exactly one wins.
 *
 * Give it a Redis client with `enableAutoPipelining` (as `main.ts` does): the commands of all
 * deliveries in flight then share one write and one round trip.
 *
 * @param queue the `intake` queue
 * @param redis a connection for the seen marks (may be the queue's own client)
 * @param prefix the BullMQ prefix, under which the marks are kept
 */
export function createIntakeProducer(queue: Queue, redis: Redis, prefix: string): IntakeProducer {
  return {
    async enqueue(delivery) {
      const seenKey = deliverySeenKey(prefix, delivery.deliveryId);
      const data: IntakeJobData = {
        v: 1,
        deliveryId: delivery.deliveryId,
        event: delivery.event,
        action: delivery.action,
        receivedAt: delivery.receivedAt.toISOString(),
        failure: delivery.failure,
        payload: delivery.payload,
      };
      // Two round trips, add then mark (see above), never a third: an `EXISTS` fast path for
      // redeliveries would cost every new delivery one more round trip, and the hot path is
      // bound by round trips to Redis, not CPU (see README, Performance). A redelivery of a job
      // still kept is a no-op `add`; of one already removed it adds a job in which the worker's
      // intake finds the delivery already recorded and writes nothing.
      await queue.add(delivery.event, data, { jobId: intakeJobId(delivery.deliveryId) });
      const marked = await redis.set(
        seenKey,
        delivery.failure.id,
        'EX',
        DELIVERY_SEEN_TTL_SECONDS,
        'NX',
      );
      return marked === 'OK' ? 'accepted' : 'duplicate';
    },
  };
}
