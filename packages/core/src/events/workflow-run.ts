import { z } from 'zod';
import { BasePayload, Conclusion, failureFrom, PullRequests, pullRequestNumbers, type CiEventModule } from './base.ts';

/** The `workflow_run` fields pitcrew reads (GitHub docs, "Webhook events and payloads", `workflow_run`). */
export const WorkflowRunPayload = BasePayload.extend({
  workflow_run: z.object({
    id: z.number().int(),
    name: z.string().nullish(),
    head_branch: z.string().nullish(),
    head_sha: z.string(),
    run_attempt: z.number().int().nullish(),
    check_suite_id: z.number().int().nullish(),
    html_url: z.string().nullish(),
    status: z.string().nullish(),
    conclusion: Conclusion,
    run_started_at: z.string().nullish(),
    updated_at: z.string().nullish(),
    pull_requests: PullRequests,
  }),
});
export type WorkflowRunPayload = z.infer<typeof WorkflowRunPayload>;

/**
 * A failed workflow run is a `run` failure keyed by its `check_suite_id` (its `check_suite`
 * twin's key), or by run id and attempt when the payload has none (older GHES).
 */
export const workflowRunEvent: CiEventModule<WorkflowRunPayload> = {
  event: 'workflow_run',
  schema: WorkflowRunPayload,
  conclusionOf: (p) => p.workflow_run.conclusion,
  toFailure(p, conclusion) {
    const run = p.workflow_run;
    return failureFrom('workflow_run', p, conclusion, {
      kind: 'run',
      checkSuiteId: run.check_suite_id,
      runId: run.id,
      runAttempt: run.run_attempt,
      branch: run.head_branch,
      headSha: run.head_sha,
      workflowName: run.name,
      checkName: run.name,
      appSlug: 'github-actions',
      htmlUrl: run.html_url,
      pullRequests: pullRequestNumbers(run.pull_requests),
      startedAt: run.run_started_at,
      completedAt: run.updated_at,
    });
  },
};
