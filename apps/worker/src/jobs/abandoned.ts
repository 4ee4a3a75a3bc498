import type { Job, Worker } from 'bullmq';
import { abandonRunningExecutions, failIfInProgress } from '@pitcrew/core';
import { describeError } from '../errors.ts';
import type { JobEnvironment } from './retry-policy.ts';

/**
 * A job failed without its processor running (stalled more than `maxStalledCount` times, i.e. it
 * crashed its worker each time) never reaches the retry policy: this marks its failure `failed`
 * so it does not stay `running` forever, and the dead worker's `running` execution rows
 * `failed` with `abandoned: <error>`, in one transaction, then publishes. Failures already final
 * are left alone.
 */
export function watchAbandoned(env: JobEnvironment, worker: Worker): void {
  worker.on('failed', (job: Job | undefined, error: Error) => {
    const failureId = (job?.data as { failureId?: unknown } | undefined)?.failureId;
    if (!job || job.finishedOn === undefined || typeof failureId !== 'string') return;
    env.db
      .transaction()
      .execute(async (trx) => {
        if (!(await failIfInProgress(trx, failureId, describeError(error)))) return false;
        await abandonRunningExecutions(trx, failureId, describeError(error));
        env.logger.error({ failureId, jobId: job.id, err: error }, 'job failed outside its processor; failure marked failed');
        return true;
      })
      .then(async (marked) => {
        if (marked) await env.publish(failureId);
      })
      .catch((e: unknown) => env.logger.error({ err: e, failureId }, 'could not mark failure failed'));
  });
}
