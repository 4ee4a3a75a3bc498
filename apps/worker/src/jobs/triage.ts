import type { Job, Queue } from 'bullmq';
import { jobArgs, JOBS, TriageJobData, type RunnerName } from '@pitcrew/core';
import { carry, classify, triageScope } from '../stages/index.ts';
import type { StageDeps } from '../stages/stage.ts';
import { parseJobData } from './parse.ts';
import { runOfJob, settleJobError, type JobEnvironment } from './retry-policy.ts';

/**
 * The processor of the `triage` queue: takes the failure (carried, or claimed), runs classify, and adds the run job to
 * the chosen runner's queue (rules when that runner is not configured in this deployment),
 * carrying the failure and its classification so the run job reads nothing back.
 */
export function triageProcessor(env: JobEnvironment, deps: StageDeps, runQueues: Partial<Record<RunnerName, Queue>>) {
  return async function processTriageJob(job: Job, token?: string, signal?: AbortSignal) {
    const data = parseJobData(TriageJobData, job);
    try {
      const scope = await triageScope(deps, runOfJob(job, data.failureId, signal), data);
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
