import type { Queue } from 'bullmq';
import { DELIVERY_SEEN_TTL_SECONDS, deliverySeenKey, jobArgs, JOBS, type RepoEventJobData, type RedisConnection } from '@pitcrew/core';
import type { IntakeOutcome } from './intake-producer.ts';

/** Where the webhook route puts repository events (a push of `.github/pitcrew.yml`, a `/pitcrew` PR command). */
export interface RepoEventProducer {
  /**
   * Durably enqueues one repository event.
   * @returns `accepted` for a new delivery id, `duplicate` for one already enqueued
   * @throws when Redis refuses the write; the caller must not answer 2xx then
   */
  enqueue(event: RepoEventJobData): Promise<IntakeOutcome>;
}

/**
 * A {@link RepoEventProducer} over the `repo-events` queue, deduplicated by delivery id as fix
 * events are (`createFixEventProducer`): the job is added under `repoEventJobId(deliveryId)` (an
 * existing id makes `add` a no-op), then the delivery is marked seen with `SET NX` (value
 * `repo:<kind>`, {@link DELIVERY_SEEN_TTL_SECONDS}); whoever loses the `SET NX` answers `duplicate`.
 *
 * @param queue the `repo-events` queue
 * @param redis the queue's own connection, for the seen marks
 * @param prefix the BullMQ prefix, under which the marks are kept
 */
export function createRepoEventProducer(queue: Queue, redis: RedisConnection, prefix: string): RepoEventProducer {
  return {
    async enqueue(event) {
      await queue.add(...jobArgs(JOBS.repoEvents, event));
      const marked = await redis.set(deliverySeenKey(prefix, event.deliveryId), `repo:${event.kind}`, 'EX', DELIVERY_SEEN_TTL_SECONDS, 'NX');
      return marked === 'OK' ? 'accepted' : 'duplicate';
    },
  };
}
