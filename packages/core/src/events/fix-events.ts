import { z } from 'zod';
import { FIX_BRANCH_PREFIX } from '../db/fix-loops.ts';
import type { CiEvent, Ignored } from '../failure.ts';
import type { FixEvent } from '../queue.ts';
import { BasePayload, parseEventPayload, type CiEventModule } from './base.ts';
import { checkRunEvent, type CheckRunPayload } from './check-run.ts';
import { checkSuiteEvent, type CheckSuitePayload } from './check-suite.ts';
import { workflowJobEvent, type WorkflowJobPayload } from './workflow-job.ts';
import { workflowRunEvent, type WorkflowRunPayload } from './workflow-run.ts';

/** The webhook event of pull requests; pitcrew reads only its fix PRs' `closed` and `reopened`. */
export const PULL_REQUEST_EVENT = 'pull_request';
/** The `pull_request` actions that end a fix loop (`closed`: merged or not) or take the end back (`reopened`). */
export const FIX_PULL_REQUEST_ACTIONS = ['closed', 'reopened'] as const;

/**
 * The `pull_request` fields pitcrew reads (GitHub docs, "Webhook events and payloads",
 * `pull_request`: `pull_request.merged`, `merged_by`, `closed_at`, `head.ref`, `head.sha`).
 */
export const PullRequestPayload = BasePayload.extend({
  pull_request: z.object({
    number: z.number().int(),
    merged: z.boolean().nullish(),
    merged_by: z.object({ login: z.string() }).nullish(),
    closed_at: z.string().nullish(),
    head: z.object({ ref: z.string(), sha: z.string() }),
  }),
});
export type PullRequestPayload = z.infer<typeof PullRequestPayload>;

/** The branch, commit and names of the job, run or suite a CI payload is about. */
interface CiHead {
  branch: string | null | undefined;
  headSha: string;
  scope: 'job' | 'run';
  jobName: string | null;
  checkName: string | null;
  workflowName: string | null;
  runId: number | null;
  runAttempt: number | null;
  completedAt: string | null;
}

/** Each CI event's module and where its head is (the names as `toFailure` records them). */
const CI_HEADS: { [E in CiEvent]: { module: CiEventModule<any>; head(payload: any): CiHead } } = {
  check_run: {
    module: checkRunEvent,
    head: ({ check_run: r }: CheckRunPayload) => ({ branch: r.check_suite?.head_branch, headSha: r.head_sha, scope: 'job', jobName: r.name, checkName: r.name, workflowName: null, runId: null, runAttempt: null, completedAt: r.completed_at ?? null }),
  },
  workflow_job: {
    module: workflowJobEvent,
    head: ({ workflow_job: j }: WorkflowJobPayload) => ({ branch: j.head_branch, headSha: j.head_sha, scope: 'job', jobName: j.name, checkName: j.name, workflowName: j.workflow_name ?? null, runId: j.run_id, runAttempt: j.run_attempt ?? null, completedAt: j.completed_at ?? null }),
  },
  check_suite: {
    module: checkSuiteEvent,
    head: ({ check_suite: s }: CheckSuitePayload) => ({ branch: s.head_branch, headSha: s.head_sha, scope: 'run', jobName: null, checkName: s.app?.name ?? null, workflowName: null, runId: null, runAttempt: null, completedAt: null }),
  },
  workflow_run: {
    module: workflowRunEvent,
    head: ({ workflow_run: r }: WorkflowRunPayload) => ({ branch: r.head_branch, headSha: r.head_sha, scope: 'run', jobName: null, checkName: r.name ?? null, workflowName: r.name ?? null, runId: r.id, runAttempt: r.run_attempt ?? null, completedAt: r.updated_at ?? null }),
  },
};

/**
 * Decides whether a delivery ends or judges a fix loop and, if so, normalizes it:
 * - a CI event (`check_run`, `workflow_job`, `check_suite`, `workflow_run`) with action
 *   `completed` and conclusion `success` on a branch starting with `pitcrew/fix/` is a
 *   `ci-success`;
 * - a `pull_request` with action `closed` or `reopened` whose head ref starts with
 *   `pitcrew/fix/` is a `pull-request` (`merged`, `mergedBy` and `closedAt` from the payload).
 *
 * Everything else returns `{ignored, reason}`. Ingest calls it only for deliveries its prefilter
 * found might be one (`webhook-prefilter.ts`); the decision is made here, on the parsed payload.
 *
 * @param event the `X-GitHub-Event` header
 * @param payload the parsed JSON body (untrusted)
 * @throws {PayloadShapeError} when the payload lacks fields its event needs
 */
export function normalizeFixEvent(event: string, payload: unknown): FixEvent | Ignored {
  const action = (payload as { action?: unknown } | null)?.action;
  if (event === PULL_REQUEST_EVENT) {
    if (!(FIX_PULL_REQUEST_ACTIONS as readonly unknown[]).includes(action)) return { ignored: true, reason: `pull_request action ${String(action)} is not closed or reopened` };
    const p = parseEventPayload(PullRequestPayload, event, payload);
    const pr = p.pull_request;
    if (!pr.head.ref.startsWith(FIX_BRANCH_PREFIX)) return { ignored: true, reason: `pull request head ${pr.head.ref} is not a ${FIX_BRANCH_PREFIX} branch` };
    const merged = action === 'closed' && pr.merged === true;
    return {
      kind: 'pull-request',
      owner: p.repository.owner.login,
      repo: p.repository.name,
      installationId: p.installation?.id ?? null,
      branch: pr.head.ref,
      headSha: pr.head.sha,
      action: action as 'closed' | 'reopened',
      prNumber: pr.number,
      merged,
      mergedBy: merged ? (pr.merged_by?.login ?? null) : null,
      closedAt: action === 'closed' ? (pr.closed_at ?? null) : null,
    };
  }
  const success = normalizeCiSuccess(event, payload);
  if ('ignored' in success) return success;
  if (!success.branch?.startsWith(FIX_BRANCH_PREFIX)) return { ignored: true, reason: `conclusion success is not a failure, and branch ${success.branch ?? 'null'} is not a ${FIX_BRANCH_PREFIX} branch` };
  return {
    kind: 'ci-success',
    event: success.event,
    owner: success.owner,
    repo: success.repo,
    installationId: success.installationId,
    branch: success.branch,
    headSha: success.headSha,
    scope: success.scope,
    jobName: success.jobName,
    checkName: success.checkName,
    workflowName: success.workflowName,
  };
}

/**
 * A `completed` CI delivery with conclusion `success`, normalized: what a fix event and a
 * resolution (`ResolutionJobData`) need to find the failure it makes green. `runId` is the
 * workflow run of a `workflow_job` or `workflow_run` (`null` for check runs and suites, whose
 * payloads carry no run id); `completedAt` is the job's `completed_at` (a run's `updated_at`).
 */
export interface CiSuccess extends Omit<CiHead, 'branch'> {
  event: CiEvent;
  owner: string;
  repo: string;
  installationId: number | null;
  branch: string | null;
}

/**
 * Decides whether a CI delivery is a success and, if so, normalizes it ({@link CiSuccess}); any
 * other delivery returns `{ignored, reason}` with the reasons `normalizeGithubEvent` gives.
 *
 * @param event the `X-GitHub-Event` header
 * @param payload the parsed JSON body (untrusted)
 * @throws {PayloadShapeError} when the payload lacks fields its event needs
 */
export function normalizeCiSuccess(event: string, payload: unknown): CiSuccess | Ignored {
  const action = (payload as { action?: unknown } | null)?.action;
  const ci = Object.hasOwn(CI_HEADS, event) ? CI_HEADS[event as CiEvent] : undefined;
  if (!ci) return { ignored: true, reason: `event ${event} is not a CI event` };
  if (action !== 'completed') return { ignored: true, reason: `action ${String(action)} is not completed` };
  const parsed = parseEventPayload(ci.module.schema, event, payload) as BasePayload;
  const conclusion = ci.module.conclusionOf(parsed);
  if (conclusion !== 'success') return { ignored: true, reason: `conclusion ${conclusion ?? 'null'} is not a failure` };
  const head = ci.head(parsed);
  return {
    event: event as CiEvent,
    owner: parsed.repository.owner.login,
    repo: parsed.repository.name,
    installationId: parsed.installation?.id ?? null,
    branch: head.branch ?? null,
    headSha: head.headSha,
    scope: head.scope,
    jobName: head.jobName,
    checkName: head.checkName,
    workflowName: head.workflowName,
    runId: head.runId,
    runAttempt: head.runAttempt,
    completedAt: head.completedAt,
  };
}
