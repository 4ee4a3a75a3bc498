import type { Job } from 'bullmq';
import { loopOfBranch, RunJobData } from '@pitcrew/core';
import { classifiedScope, executeAndSummarize, type TriageResult } from '../stages/index.ts';
import type { StageDeps } from '../stages/stage.ts';
import { parseJobData } from './parse.ts';
import { runOfJob, settleJobError, type JobEnvironment } from './retry-policy.ts';

/**
 * The processor of a `run-<runner>` queue: execute → summarize on the classification the triage
 * job carried, then a re-run of a transient failure (when the re-run policy allows it), publishing and (when the fix policy allows) the fix job. A follower of an incident waits for its leader (delayed, attempt
 * unused); a rate-limited runner pauses its queue.
 */
export function runProcessor(env: JobEnvironment, deps: StageDeps) {
  return async function processRunJob(job: Job, token?: string, signal?: AbortSignal): Promise<TriageResult> {
    const data = parseJobData(RunJobData, job);
    try {
      const { scope, classify } = await classifiedScope(deps, runOfJob(job, data.failureId, signal), data.carried);
      const result = await executeAndSummarize(deps, scope, classify);
      env.logger.info({ failureId: data.failureId, category: result.category, runner: result.runner, reused: result.reused }, 'failure triaged');
      if (loopOfBranch(scope.failure.branch)) {
        // CI of a fix branch: its loop's next iteration (or its end), nothing published of its own.
        await env.fixIteration(data.failureId, scope.round.attemptBase, scope.failure);
      } else {
        await env.rerun?.(data.failureId, scope.failure, classify);
        await env.publish(data.failureId);
        await env.fix(data.failureId, scope.round.attemptBase, result.category, scope.failure);
      }
      return result;
    } catch (error) {
      return settleJobError(env, job, token, signal, data.failureId, error);
    }
  };
}
