import { CI_EVENTS, PayloadShapeError, type CiEvent, type CiFailure, type Ignored } from '../failure.ts';
import { isFailureConclusion, parseEventPayload, type CiEventModule } from './base.ts';
import { checkRunEvent } from './check-run.ts';
import { checkSuiteEvent } from './check-suite.ts';
import { workflowJobEvent } from './workflow-job.ts';
import { workflowRunEvent } from './workflow-run.ts';

export { CheckRunPayload, checkRunEvent } from './check-run.ts';
export { CheckSuitePayload, checkSuiteEvent } from './check-suite.ts';
export { WorkflowRunPayload, workflowRunEvent } from './workflow-run.ts';
export { WorkflowJobPayload, workflowJobEvent } from './workflow-job.ts';
export type { CiEventModule, EventFailureFields } from './base.ts';
export { FIX_PULL_REQUEST_ACTIONS, normalizeCiSuccess, normalizeFixEvent, PULL_REQUEST_EVENT, PullRequestPayload, type CiSuccess } from './fix-events.ts';

/** The module of each CI event: its payload schema and how it becomes a {@link CiFailure}. */
export const CI_EVENT_MODULES: { [E in CiEvent]: CiEventModule } = {
  check_run: checkRunEvent,
  check_suite: checkSuiteEvent,
  workflow_run: workflowRunEvent,
  workflow_job: workflowJobEvent,
};

/**
 * Decides whether a delivery is a CI failure and, if so, normalizes it.
 *
 * A failure is an event of {@link CI_EVENTS} with action `completed` and a conclusion in
 * `FAILURE_CONCLUSIONS` (GitHub docs, "Webhook events and payloads": each CI event's `action`
 * and its run's, suite's or job's `conclusion`). Everything else returns `{ignored, reason}`:
 * `event <e> is not a CI event`, `action <a> is not completed`, `conclusion <c> is not a failure`.
 * The payload's shape is only checked for `completed` deliveries of a CI event.
 *
 * @param event the `X-GitHub-Event` header
 * @param payload the parsed JSON body (untrusted)
 * @throws {PayloadShapeError} when the payload is not an object, or a `completed` payload of a
 *   CI event lacks fields its event needs
 */
export function normalizeGithubEvent(event: string, payload: unknown): CiFailure | Ignored {
  if (!(CI_EVENTS as readonly string[]).includes(event)) {
    return { ignored: true, reason: `event ${event} is not a CI event` };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new PayloadShapeError(`${event} payload must be a JSON object`);
  }
  const action = (payload as { action?: unknown }).action;
  if (action !== 'completed') {
    return { ignored: true, reason: `action ${String(action)} is not completed` };
  }
  const module = CI_EVENT_MODULES[event as CiEvent];
  const parsed = parseEventPayload(module.schema, event, payload);
  const conclusion = module.conclusionOf(parsed);
  if (!isFailureConclusion(conclusion)) {
    return { ignored: true, reason: `conclusion ${conclusion ?? 'null'} is not a failure` };
  }
  return module.toFailure(parsed, conclusion);
}
export { ISSUE_COMMENT_EVENT, IssueCommentPayload, normalizeRepoEvent, PUSH_EVENT, PushPayload, type RepoEvent } from './repo-events.ts';
