import type { Job } from 'bullmq';
import { ResolutionJobData } from '@pitcrew/core';
import { closeQuietIncident, resolveSuccess, type ResolutionDeps, type ResolutionResult } from '../resolution/resolve.ts';
import { parseJobData } from './parse.ts';

/** The processor of the `resolutions` queue: a CI success resolves open failures; a delayed check closes a quiet incident's issue. */
export function resolutionsProcessor(deps: ResolutionDeps) {
  return async function processResolutionJob(job: Job): Promise<ResolutionResult> {
    const data = parseJobData(ResolutionJobData, job);
    const result = data.kind === 'ci-success' ? await resolveSuccess(deps, data) : await closeQuietIncident(deps, data);
    if (result.outcome === 'ignored') deps.logger.debug({ jobId: job.id, kind: data.kind, reason: result.reason }, 'resolution job changed nothing');
    return result;
  };
}
