import type { Queue } from 'bullmq';
import { DELIVERY_SEEN_TTL_SECONDS, deliverySeenKey, jobArgs, JOBS, openFailuresKey, type ResolutionJobData, type RedisConnection } from '@pitcrew/core';
import type { IntakeOutcome } from './intake-producer.ts';

/** What a resolution job carries from a success delivery. */
export type SuccessDelivery = Extract<ResolutionJobData, { kind: 'ci-success' }>;

/** Where the webhook route looks up and sends completed successes (resolution of open failures). */
export interface ResolutionProducer {
  /**
   * Whether `owner/repo` has open failures on `branch` (the workers' set, {@link openFailuresKey}):
   * one `EXISTS`, sent on the queues' connection.
   * @throws when Redis refuses the read
   */
  hasOpenFailures(repository: string, branch: string): Promise<boolean>;
  /**
   * Durably enqueues one resolution job.
   * @returns `accepted` for a new delivery id, `duplicate` for one already enqueued
   * @throws when Redis refuses the write; the caller must not answer 2xx then
   */
  enqueue(data: SuccessDelivery): Promise<IntakeOutcome>;
}

/**
 * A {@link ResolutionProducer} over the `resolutions` queue, deduplicated by delivery id as fix
 * events are (`createFixEventProducer`): the job is added under `resolutionJobId` (an existing id
 * makes `add` a no-op), then the delivery is marked seen with `SET NX` (value `resolution`).
 *
 * @param queue the `resolutions` queue
 * @param redis the queue's own connection, for the lookups and seen marks
 * @param prefix the BullMQ prefix, under which the open-failure sets and marks are kept
 */
export function createResolutionProducer(queue: Queue, redis: RedisConnection, prefix: string): ResolutionProducer {
  return {
    async hasOpenFailures(repository, branch) {
      const slash = repository.indexOf('/');
      return (await redis.exists(openFailuresKey(prefix, repository.slice(0, slash), repository.slice(slash + 1), branch))) > 0;
    },
    async enqueue(data) {
      await queue.add(...jobArgs(JOBS.resolutions, data));
      const marked = await redis.set(deliverySeenKey(prefix, data.deliveryId), 'resolution', 'EX', DELIVERY_SEEN_TTL_SECONDS, 'NX');
      return marked === 'OK' ? 'accepted' : 'duplicate';
    },
  };
}
