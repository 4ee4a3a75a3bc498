import { z } from 'zod';
import { BasePayload, Conclusion, failureFrom, isFailureConclusion, type CiEventModule } from './base.ts';

/** The `workflow_job` fields pitcrew reads (GitHub docs, "Webhook events and payloads", `workflow_job`). */
export const WorkflowJobPayload = BasePayload.extend({
  workflow_job: z.object({
    id: z.number().int(),
    run_id: z.number().int(),
    run_attempt: z.number().int().nullish(),
    name: z.string(),
    workflow_name: z.string().nullish(),
    head_branch: z.string().nullish(),
    head_sha: z.string(),
    html_url: z.string().nullish(),
    status: z.string().nullish(),
    conclusion: Conclusion,
    started_at: z.string().nullish(),
    completed_at: z.string().nullish(),
    steps: z.array(z.object({ name: z.string(), conclusion: z.string().nullish() })).nullish(),
  }),
});
export type WorkflowJobPayload = z.infer<typeof WorkflowJobPayload>;

/**
 * A failed workflow job is a `job` failure keyed by the job id (its `check_run` twin's key), with
 * the names of its failed steps in run order; the payload carries no PRs or check suite.
 */
export const workflowJobEvent: CiEventModule<WorkflowJobPayload> = {
  event: 'workflow_job',
  schema: WorkflowJobPayload,
  conclusionOf: (p) => p.workflow_job.conclusion,
  toFailure(p, conclusion) {
    const job = p.workflow_job;
    return failureFrom('workflow_job', p, conclusion, {
      kind: 'job',
      jobId: job.id,
      runId: job.run_id,
      runAttempt: job.run_attempt,
      branch: job.head_branch,
      headSha: job.head_sha,
      workflowName: job.workflow_name,
      jobName: job.name,
      checkName: job.name,
      appSlug: 'github-actions',
      htmlUrl: job.html_url,
      failedSteps: (job.steps ?? []).filter((s) => isFailureConclusion(s.conclusion)).map((s) => s.name),
      startedAt: job.started_at,
      completedAt: job.completed_at,
    });
  },
};
