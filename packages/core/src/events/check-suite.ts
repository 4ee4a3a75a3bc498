import { z } from 'zod';
import { BasePayload, Conclusion, failureFrom, PullRequests, pullRequestNumbers, type CiEventModule } from './base.ts';

/** The `check_suite` fields pitcrew reads (GitHub docs, "Webhook events and payloads", `check_suite`). */
export const CheckSuitePayload = BasePayload.extend({
  check_suite: z.object({
    id: z.number().int(),
    head_branch: z.string().nullish(),
    head_sha: z.string(),
    status: z.string().nullish(),
    conclusion: Conclusion,
    app: z.object({ slug: z.string().nullish(), name: z.string().nullish() }).nullish(),
    pull_requests: PullRequests,
    created_at: z.string().nullish(),
    updated_at: z.string().nullish(),
  }),
});
export type CheckSuitePayload = z.infer<typeof CheckSuitePayload>;

/**
 * A failed check suite is a `run` failure keyed by the suite id, the key of its `workflow_run`
 * twin; the check name is the reporting app's name, the times are the suite's created/updated.
 */
export const checkSuiteEvent: CiEventModule<CheckSuitePayload> = {
  event: 'check_suite',
  schema: CheckSuitePayload,
  conclusionOf: (p) => p.check_suite.conclusion,
  toFailure(p, conclusion) {
    const suite = p.check_suite;
    return failureFrom('check_suite', p, conclusion, {
      kind: 'run',
      checkSuiteId: suite.id,
      branch: suite.head_branch,
      headSha: suite.head_sha,
      checkName: suite.app?.name,
      appSlug: suite.app?.slug,
      pullRequests: pullRequestNumbers(suite.pull_requests),
      startedAt: suite.created_at,
      completedAt: suite.updated_at,
    });
  },
};
