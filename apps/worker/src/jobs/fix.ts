import type { Job } from 'bullmq';
import { FixJobData } from '@pitcrew/core';
import { fixFailure, type FixJobResult } from '../stages/fix-attempt.ts';
import type { StageDeps } from '../stages/stage.ts';
import { parseJobData } from './parse.ts';
import { runOfJob, settleJobError, type JobEnvironment } from './retry-policy.ts';

/**
 * The processor of the `fix` queue: one fix attempt (`fixFailure`), then the check run and PR
 * comment updated with it; a first attempt that pushed nothing hands its branch to the next
 * failure of its commit waiting for a fix (`JobEnvironment.handOverBranch`). The failure's own
 * triage is final before this job exists, so its errors never touch the failure: a retry follows
 * with backoff, the last one ends the attempt `failed`.
 */
export function fixProcessor(env: JobEnvironment, deps: StageDeps) {
  return async function processFixJob(job: Job, token?: string, signal?: AbortSignal): Promise<FixJobResult> {
    const data = parseJobData(FixJobData, job);
    const run = runOfJob(job, data.failureId, signal);
    try {
      const result = await fixFailure(deps, run, data);
      const loopId = data.loop ?? data.failureId;
      if ('skipped' in result) env.logger.info({ failureId: data.failureId, reason: result.skipped }, 'no fix attempted');
      else if (data.loop && result.attempt.status !== 'proposed') {
        // An iteration that proposes nothing ends its loop: the PR says so (label, comment).
        await env.escalateLoop(loopId, 'fixer', `iteration ${data.iteration} ended ${result.attempt.status}${result.attempt.reason ? `: ${result.attempt.reason}` : ''}`, result.installationId);
      } else if (result.attempt.status === 'escalated' || result.attempt.status === 'proposed' || result.attempt.status === 'verified' || result.attempt.status === 'refused' || result.attempt.status === 'verify_failed') {
        await env.publishFix(loopId, data.round, data.iteration);
      }
      // A first iteration that pushed nothing frees its branch (one open loop per branch): another
      // failure of the same commit, refused while this loop ran, gets its turn.
      if (!('skipped' in result) && !data.loop && result.attempt.status !== 'running' && result.attempt.status !== 'proposed' && result.attempt.pr_number === null) {
        await env.handOverBranch(loopId);
      }
      return result;
    } catch (error) {
      // The last try of a first iteration ended the attempt `failed` (fixFailure): its branch is free too.
      if (!data.loop && run.finalAttempt && !signal?.aborted) await env.handOverBranch(data.failureId);
      return settleJobError(env, job, token, signal, data.failureId, error);
    }
  };
}
