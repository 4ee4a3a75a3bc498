import type { CiFailure, FlakyEvidence } from '@pitcrew/core';
import type { PitcrewOctokit } from './github-api.ts';

/** Job listings read at most per failure when looking for a passing twin (API calls, besides the run listing). */
export const MAX_TWIN_LISTINGS = 6;

/**
 * Looks for the same job passing on the same commit: another attempt of the failure's own run (a
 * re-run), or the latest attempt of another run of the same workflow on that SHA (the `push` and
 * `pull_request` runs of one commit are the common pair). "Same job" = same job name in a run of
 * the same workflow name.
 *
 * Calls `GET /repos/{owner}/{repo}/actions/runs?head_sha=` (one page of 100) and
 * `GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs` for at most
 * {@link MAX_TWIN_LISTINGS} (run, attempt) pairs.
 *
 * @returns the passing twin, or `null` when none is found or the failure is not a GitHub Actions job
 * @throws {RequestError} when GitHub refuses a listing (the caller treats that as "no evidence")
 */
export async function findPassingTwin(
  octokit: PitcrewOctokit,
  failure: CiFailure,
  options: { signal?: AbortSignal } = {},
): Promise<FlakyEvidence | null> {
  if (failure.kind !== 'job' || !failure.jobName || !failure.headSha) return null;
  const { owner, repo } = failure;
  const request = options.signal ? { signal: options.signal } : {};
  const { data } = await octokit.rest.actions.listWorkflowRunsForRepo({ owner, repo, head_sha: failure.headSha, per_page: 100, request });
  const sameWorkflow = data.workflow_runs.filter((run) => failure.workflowName === null || run.name === failure.workflowName);
  const targets: { runId: number; attempt: number }[] = [];
  for (const run of sameWorkflow) {
    const latest = run.run_attempt ?? 1;
    if (run.id === failure.runId) {
      // Other attempts of the failure's own run, newest first: a re-run that passed.
      for (let attempt = latest; attempt >= 1; attempt--) {
        if (attempt !== failure.runAttempt) targets.push({ runId: run.id, attempt });
      }
    } else if (run.conclusion === 'success' || run.conclusion === 'failure' || run.conclusion === null) {
      targets.push({ runId: run.id, attempt: latest });
    }
  }
  for (const target of targets.slice(0, MAX_TWIN_LISTINGS)) {
    const jobs = await octokit.paginate(octokit.rest.actions.listJobsForWorkflowRunAttempt, {
      owner,
      repo,
      run_id: target.runId,
      attempt_number: target.attempt,
      per_page: 100,
      request,
    });
    const twin = jobs.find((job) => job.name === failure.jobName && job.conclusion === 'success' && job.id !== failure.jobId);
    if (twin) {
      return {
        headSha: failure.headSha,
        passed: { runId: target.runId, attempt: target.attempt, jobId: twin.id, jobName: twin.name, htmlUrl: twin.html_url ?? null },
      };
    }
  }
  return null;
}
