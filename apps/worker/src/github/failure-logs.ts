import { RequestError } from '@octokit/request-error';
import { FAILURE_CONCLUSIONS, type CiFailure } from '@pitcrew/core';
import type { PitcrewOctokit } from './github-api.ts';

/** One failed job of a run as the Actions API lists it. */
export interface FailedJob {
  id: number;
  name: string;
  conclusion: string | null;
  failedSteps: string[];
  htmlUrl: string | null;
}

/** The log of one job, or why there is none. */
export type JobLog =
  | { jobId: number; status: 'ok'; text: string; bytes: number }
  | { jobId: number; status: 'expired' | 'missing' | 'error'; reason: string };

/** What GitHub told us about a failure, beyond the webhook payload. */
export interface FailureLogs {
  /** Failed jobs of the run (all jobs are listed, paginated past 100). */
  failedJobs: FailedJob[];
  /** Jobs listed in total. */
  jobsListed: number;
  logs: JobLog[];
}

/** Largest log kept per job, bytes; the end of a log holds the failure, so the tail is kept. */
export const MAX_LOG_BYTES = 8 * 1024 * 1024;

const FAILED = new Set<string>(FAILURE_CONCLUSIONS);

/**
 * Fetches the failed jobs of a failure's run and their logs from the GitHub Actions API:
 * `GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs` (paginated) and
 * `GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs` (a 302 to a short-lived URL, followed).
 * A log that expired (410) or is missing (404) is recorded as such and the rest goes on.
 *
 * @param maxJobs logs fetched at most, for run-level failures with many failed jobs
 * @throws {RequestError} only for failures of the job listing other than 404/410
 */
export async function fetchFailureLogs(
  octokit: PitcrewOctokit,
  failure: CiFailure,
  options: { maxJobs?: number; signal?: AbortSignal } = {},
): Promise<FailureLogs> {
  const { owner, repo } = failure;
  const request = options.signal ? { signal: options.signal } : {};
  let failedJobs: FailedJob[] = [];
  let jobsListed = 0;
  if (failure.runId !== null) {
    try {
      const jobs = await octokit.paginate(octokit.rest.actions.listJobsForWorkflowRunAttempt, {
        owner,
        repo,
        run_id: failure.runId,
        attempt_number: failure.runAttempt ?? 1,
        per_page: 100,
        request,
      });
      jobsListed = jobs.length;
      failedJobs = jobs
        .filter((job) => job.conclusion !== null && FAILED.has(job.conclusion))
        .map((job) => ({
          id: job.id,
          name: job.name,
          conclusion: job.conclusion,
          failedSteps: (job.steps ?? []).filter((s) => s.conclusion && FAILED.has(s.conclusion)).map((s) => s.name),
          htmlUrl: job.html_url ?? null,
        }));
    } catch (error) {
      if (!(error instanceof RequestError) || (error.status !== 404 && error.status !== 410)) throw error;
    }
  }
  // A job failure's own job first, whether or not the listing had it.
  const targets = failure.jobId !== null ? [failure.jobId, ...failedJobs.map((j) => j.id).filter((id) => id !== failure.jobId)] : failedJobs.map((j) => j.id);
  const logs: JobLog[] = [];
  for (const jobId of targets.slice(0, options.maxJobs ?? 3)) {
    logs.push(await fetchJobLog(octokit, owner, repo, jobId, request));
  }
  return { failedJobs, jobsListed, logs };
}

/**
 * One job's log (`GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs`, redirect followed), the
 * last {@link MAX_LOG_BYTES} kept; 410/404 and other errors are returned, not thrown.
 */
export async function fetchJobLog(
  octokit: PitcrewOctokit,
  owner: string,
  repo: string,
  jobId: number,
  request: { signal?: AbortSignal },
): Promise<JobLog> {
  try {
    const response = await octokit.rest.actions.downloadJobLogsForWorkflowRun({ owner, repo, job_id: jobId, request });
    const raw = response.data as unknown;
    const text = typeof raw === 'string' ? raw : raw instanceof ArrayBuffer ? new TextDecoder().decode(raw) : String(raw ?? '');
    const bytes = Buffer.byteLength(text);
    return { jobId, status: 'ok', text: bytes > MAX_LOG_BYTES ? text.slice(-MAX_LOG_BYTES) : text, bytes };
  } catch (error) {
    if (error instanceof RequestError && error.status === 410) {
      return { jobId, status: 'expired', reason: 'GitHub no longer has this log (410 Gone: past the retention period)' };
    }
    if (error instanceof RequestError && error.status === 404) {
      return { jobId, status: 'missing', reason: 'no log for this job (404: not found or no access)' };
    }
    return { jobId, status: 'error', reason: (error as Error).message };
  }
}
