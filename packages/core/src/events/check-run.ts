import { z } from 'zod';
import { BasePayload, Conclusion, failureFrom, PullRequests, pullRequestNumbers, type CiEventModule } from './base.ts';

/**
 * The `check_run` fields pitcrew reads (GitHub docs, "Webhook events and payloads", `check_run`).
 * In GitHub Actions a check run is one job, and its id is the job's id.
 */
export const CheckRunPayload = BasePayload.extend({
  check_run: z.object({
    id: z.number().int(),
    name: z.string(),
    head_sha: z.string(),
    html_url: z.string().nullish(),
    status: z.string().nullish(),
    conclusion: Conclusion,
    started_at: z.string().nullish(),
    completed_at: z.string().nullish(),
    output: z
      .object({
        title: z.string().nullish(),
        summary: z.string().nullish(),
        text: z.string().nullish(),
      })
      .nullish(),
    check_suite: z.object({ id: z.number().int(), head_branch: z.string().nullish() }).nullish(),
    app: z.object({ slug: z.string().nullish() }).nullish(),
    pull_requests: PullRequests,
  }),
});
export type CheckRunPayload = z.infer<typeof CheckRunPayload>;

/** A failed check run is a `job` failure, keyed by its id (the job's); branch and suite come from its `check_suite`. */
export const checkRunEvent: CiEventModule<CheckRunPayload> = {
  event: 'check_run',
  schema: CheckRunPayload,
  conclusionOf: (p) => p.check_run.conclusion,
  toFailure(p, conclusion) {
    const run = p.check_run;
    return failureFrom('check_run', p, conclusion, {
      kind: 'job',
      jobId: run.id,
      checkSuiteId: run.check_suite?.id,
      branch: run.check_suite?.head_branch,
      headSha: run.head_sha,
      jobName: run.name,
      checkName: run.name,
      appSlug: run.app?.slug,
      htmlUrl: run.html_url,
      outputText: outputText(run.output),
      pullRequests: pullRequestNumbers(run.pull_requests),
      startedAt: run.started_at,
      completedAt: run.completed_at,
    });
  },
};

/** The check run's output title, summary and text joined by blank lines; `null` when all are empty. */
function outputText(output: CheckRunPayload['check_run']['output']): string | null {
  if (!output) return null;
  const parts = [output.title, output.summary, output.text].filter(
    (p): p is string => typeof p === 'string' && p.trim().length > 0,
  );
  return parts.length > 0 ? parts.join('\n\n') : null;
}
