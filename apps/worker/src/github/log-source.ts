import type { CiFailure, FlakyEvidence } from '@pitcrew/core';
import { findPassingTwin } from './flaky.ts';
import type { GithubApi } from './github-api.ts';
import { fetchFailureLogs, fetchJobLog } from './failure-logs.ts';

/** The log pitcrew reads for a failure, or why there is none. */
export interface FetchedLog {
  /** `ok`, `expired` (410), `missing` (404), `unavailable` (no credential for the installation), `error`. */
  status: 'ok' | 'expired' | 'missing' | 'unavailable' | 'error';
  jobId: number | null;
  text: string | null;
  /** Failed steps of that job as the Actions API lists them. */
  failedSteps: string[];
  /** Bytes of the log as GitHub served it. */
  bytes: number;
  reason?: string;
}

/** Where the classify stage gets logs from. */
export interface LogSource {
  fetch(failure: CiFailure, signal: AbortSignal): Promise<FetchedLog>;
  /** The same job passing on the same commit, or `null`; throws when GitHub cannot be asked. */
  findPassingTwin(failure: CiFailure, signal: AbortSignal): Promise<FlakyEvidence | null>;
  /** The log of a passing job of the failure's repository (the twin), or `null` when GitHub has none. */
  passingLog(failure: CiFailure, jobId: number, signal: AbortSignal): Promise<string | null>;
}

/**
 * Logs from the GitHub Actions API: the failure's own job log, or for a run-level failure the
 * first failed job's. Only failures GitHub Actions reported have logs there.
 */
export function createGithubLogSource(api: GithubApi): LogSource {
  return {
    async fetch(failure, signal) {
      const octokit = api.forInstallation(failure.installationId);
      if (!octokit) return { status: 'unavailable', jobId: null, text: null, failedSteps: [], bytes: 0, reason: 'no installation id in the delivery for the GitHub App' };
      if (failure.appSlug !== null && failure.appSlug !== 'github-actions') {
        return { status: 'unavailable', jobId: null, text: null, failedSteps: [], bytes: 0, reason: `checks of ${failure.appSlug} keep their logs outside GitHub Actions` };
      }
      const result = await fetchFailureLogs(octokit, failure, { maxJobs: 2, signal });
      const log = result.logs.find((l) => l.status === 'ok') ?? result.logs[0];
      if (!log) return { status: 'missing', jobId: null, text: null, failedSteps: [], bytes: 0, reason: 'no failed job found in the run' };
      const job = result.failedJobs.find((j) => j.id === log.jobId);
      return log.status === 'ok'
        ? { status: 'ok', jobId: log.jobId, text: log.text, failedSteps: job?.failedSteps ?? [], bytes: log.bytes }
        : { status: log.status, jobId: log.jobId, text: null, failedSteps: job?.failedSteps ?? [], bytes: 0, reason: log.reason };
    },
    async findPassingTwin(failure, signal) {
      const octokit = api.forInstallation(failure.installationId);
      if (!octokit || (failure.appSlug !== null && failure.appSlug !== 'github-actions')) return null;
      return findPassingTwin(octokit, failure, { signal });
    },
    async passingLog(failure, jobId, signal) {
      const octokit = api.forInstallation(failure.installationId);
      if (!octokit) return null;
      const log = await fetchJobLog(octokit, failure.owner, failure.repo, jobId, { signal });
      return log.status === 'ok' ? log.text : null;
    },
  };
}
