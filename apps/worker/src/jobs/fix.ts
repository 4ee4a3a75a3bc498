import type { Job } from 'bullmq';
import { FixJobData } from '@pitcrew/core';
import { fixFailure, type FixJobResult } from '../stages/fix-attempt.ts';
import type { StageDeps } from '../stages/stage.ts';
import { parseJobData } from './parse.ts';
import { runOfJob, settleJobError, type JobEnvironment } from './retry-policy.ts';

/**
 * The processor of the `fix` queue: one fix attempt (`fixFailure`), then the check run and PR
 * comment updated with it. The failure's own triage is final before this job exists, so its
 * errors never touch the failure: a retry follows with backoff, the last one ends the attempt
 * `failed`.
 */
export function fixProcessor(env: JobEnvironment, deps: StageDeps) {
  return async function processFixJob(job: Job, token?: string, signal?: AbortSignal): Promise<FixJobResult> {
    const data = parseJobData(FixJobData, job);
    try {
      const result = await fixFailure(deps, runOfJob(job, data.failureId, signal), data);
      if ('skipped' in result) env.logger.info({ failureId: data.failureId, reason: result.skipped }, 'no fix attempted');
      else if (['proposed', 'escalated', 'verified', 'refused', 'verify_failed'].includes(result.attempt.status)) await env.publishFix(data.failureId, data.round, data.iteration);
      return result;
    } catch (error) {
      return settleJobError(env, job, token, signal, data.failureId, error);
    }
  };
}
