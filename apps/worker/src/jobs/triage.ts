import type { Job, Queue } from 'bullmq';
import { jobArgs, JOBS, TriageJobData, type RunnerName } from '@pitcrew/core';
import { carry, claimScope, classify } from '../stages/index.ts';
import type { StageDeps } from '../stages/stage.ts';
import { parseJobData } from './parse.ts';
import { runOfJob, settleJobError, type JobEnvironment } from './retry-policy.ts';

/**
 * The processor of the `triage` queue: claims the failure, runs classify, and adds the run job to
 * the chosen runner's queue (rules when that runner is not configured in this deployment),
 * carrying the failure and its classification so the run job reads nothing back.
 */
export function triageProcessor(env: JobEnvironment, deps: StageDeps, runQueues: Partial<Record<RunnerName, Queue>>) {
  return async function processTriageJob(job: Job, token?: string, signal?: AbortSignal) {
    const data = parseJobData(TriageJobData, job);
    try {
      const scope = await claimScope(deps, runOfJob(job, data.failureId, signal));
      const classified = await classify(deps, scope);
      const runner = runQueues[classified.runner] ? classified.runner : 'rules';
      const round = scope.round.attemptBase;
      await runQueues[runner]!.add(...jobArgs(JOBS.run(runner), { v: 1, failureId: data.failureId, round, carried: carry(scope, classified) }));
      return { category: classified.category, runner };
    } catch (error) {
      return settleJobError(env, job, token, signal, data.failureId, error);
    }
  };
}
