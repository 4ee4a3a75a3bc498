import type { Queue } from 'bullmq';
import { DELIVERY_SEEN_TTL_SECONDS, deliverySeenKey, jobArgs, JOBS, loopOfBranch, type FixEventJobData, type RedisConnection } from '@pitcrew/core';
import type { IntakeOutcome } from './intake-producer.ts';

/** Where the webhook route puts fix events (a CI success on a fix branch, a fix PR closed or reopened). */
export interface FixEventProducer {
  /**
   * Durably enqueues one fix event.
   * @returns `accepted` for a new delivery id, `duplicate` for one already enqueued
   * @throws when Redis refuses the write; the caller must not answer 2xx then
   */
  enqueue(event: FixEventJobData): Promise<IntakeOutcome>;
}

/**
 * A {@link FixEventProducer} over the `fix-events` queue, deduplicated by delivery id as failures
 * are (`createIntakeProducer`): the job is added under `fixEventJobId(deliveryId)` (an existing
 * id makes `add` a no-op), then the delivery is marked seen with `SET NX` (value `fix:<loop id>`,
 * {@link DELIVERY_SEEN_TTL_SECONDS}); whoever loses the `SET NX` answers `duplicate`. The job
 * carries its few fields (no payload), so nothing is written beside it.
 *
 * @param queue the `fix-events` queue
 * @param redis the queue's own connection, for the seen marks
 * @param prefix the BullMQ prefix, under which the marks are kept
 */
export function createFixEventProducer(queue: Queue, redis: RedisConnection, prefix: string): FixEventProducer {
  return {
    async enqueue(event) {
      await queue.add(...jobArgs(JOBS.fixEvents, event));
      const marked = await redis.set(deliverySeenKey(prefix, event.deliveryId), `fix:${loopOfBranch(event.branch)}`, 'EX', DELIVERY_SEEN_TTL_SECONDS, 'NX');
      return marked === 'OK' ? 'accepted' : 'duplicate';
    },
  };
}
