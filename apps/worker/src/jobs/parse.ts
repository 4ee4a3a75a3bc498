import { UnrecoverableError, type Job } from 'bullmq';
import { describeIssues, type ShapeIssue } from '@pitcrew/core';

/**
 * A job's data parsed with its catalog schema (`JOBS` in `@pitcrew/core`).
 *
 * @throws {UnrecoverableError} for data this release cannot read (written by another release):
 *   retrying cannot help, so BullMQ fails the job at once, with the issues listed
 */
export function parseJobData<T>(
  schema: { safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: readonly ShapeIssue[] } } },
  job: Pick<Job, 'id' | 'queueName' | 'data'>,
): T {
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(`job ${job.id} of ${job.queueName} has invalid data (written by another release?): ${describeIssues(parsed.error.issues)}`);
  }
  return parsed.data;
}
