import { describeIssues } from '../zod-issues.ts';
import { z } from 'zod';
import {
  FAILURE_CONCLUSIONS,
  idempotencyKeyFor,
  PayloadShapeError,
  type CiEvent,
  type CiFailure,
  type FailureConclusion,
} from '../failure.ts';

/**
 * What every CI event module (`check-run.ts`, `check-suite.ts`, `workflow-run.ts`,
 * `workflow-job.ts`) is: the zod schema of the payload fields pitcrew reads (unknown fields are
 * stripped, missing required ones are a {@link PayloadShapeError}), where the event's own
 * conclusion is, and the fields of the {@link CiFailure} it makes.
 */
export interface CiEventModule<P extends BasePayload = BasePayload> {
  event: CiEvent;
  schema: z.ZodType<P>;
  /** The conclusion of the run, suite or job the event is about (`null` while not completed). */
  conclusionOf(payload: P): string | null;
  /** The failure, for a payload whose conclusion is a failure conclusion. */
  toFailure(payload: P, conclusion: FailureConclusion): CiFailure;
}

/**
 * `repository` as every repository webhook carries it (GitHub docs, "Webhook events and
 * payloads", "repository" in each event's body parameters).
 */
export const Repository = z.object({
  id: z.number().int().optional(),
  name: z.string(),
  full_name: z.string().optional(),
  owner: z.object({ login: z.string() }),
});
/** `installation`, present when the webhook belongs to a GitHub App. */
export const Installation = z.object({ id: z.number().int() }).nullish();
/** `pull_requests` of check runs, check suites and workflow runs: the PRs the head commit is on. */
export const PullRequests = z.array(z.object({ number: z.number().int() })).nullish();
/** A `conclusion`: one of GitHub's values, or `null` until completed; checked against {@link FAILURE_CONCLUSIONS}. */
export const Conclusion = z.string().nullable();

/** The part of a payload that every CI event shares. */
export const BasePayload = z.object({
  action: z.string(),
  repository: Repository,
  installation: Installation,
});
export type BasePayload = z.infer<typeof BasePayload>;

/**
 * The fields of a {@link CiFailure} that differ per event. `kind` and `headSha` are required; a
 * field left out or `undefined` becomes `null` (`failedSteps` and `pullRequests`: `[]`).
 */
export type EventFailureFields = Pick<CiFailure, 'kind' | 'headSha'> & {
  [K in NullableField]?: CiFailure[K] | undefined;
} & { failedSteps?: string[]; pullRequests?: number[] };

type NullableField =
  | 'branch'
  | 'runId'
  | 'runAttempt'
  | 'jobId'
  | 'checkSuiteId'
  | 'workflowName'
  | 'jobName'
  | 'checkName'
  | 'appSlug'
  | 'htmlUrl'
  | 'outputText'
  | 'startedAt'
  | 'completedAt';

/**
 * Builds a {@link CiFailure} from what all CI events share (provider, repository, installation,
 * conclusion) and the event's own `fields`; the id is {@link idempotencyKeyFor} of `kind`, the
 * job id and the suite or run. The one place the failure object is assembled.
 */
export function failureFrom(
  event: CiEvent,
  payload: BasePayload,
  conclusion: FailureConclusion,
  fields: EventFailureFields,
): CiFailure {
  const key = {
    kind: fields.kind,
    jobId: fields.jobId ?? null,
    checkSuiteId: fields.checkSuiteId ?? null,
    runId: fields.runId ?? null,
    runAttempt: fields.runAttempt ?? null,
  };
  return {
    id: idempotencyKeyFor(key),
    provider: 'github',
    kind: fields.kind,
    event,
    owner: payload.repository.owner.login,
    repo: payload.repository.name,
    repoId: payload.repository.id ?? null,
    branch: fields.branch ?? null,
    headSha: fields.headSha,
    runId: key.runId,
    runAttempt: key.runAttempt,
    jobId: key.jobId,
    checkSuiteId: key.checkSuiteId,
    workflowName: fields.workflowName ?? null,
    jobName: fields.jobName ?? null,
    checkName: fields.checkName ?? null,
    appSlug: fields.appSlug ?? null,
    htmlUrl: fields.htmlUrl ?? null,
    conclusion,
    failedSteps: fields.failedSteps ?? [],
    outputText: fields.outputText ?? null,
    pullRequests: fields.pullRequests ?? [],
    installationId: payload.installation?.id ?? null,
    startedAt: fields.startedAt ?? null,
    completedAt: fields.completedAt ?? null,
  };
}

/** Whether `value` is one of {@link FAILURE_CONCLUSIONS}. */
export function isFailureConclusion(value: string | null | undefined): value is FailureConclusion {
  return value != null && (FAILURE_CONCLUSIONS as readonly string[]).includes(value);
}

/** The PR numbers of a `pull_requests` array; `[]` when GitHub sent none. */
export function pullRequestNumbers(pullRequests: z.infer<typeof PullRequests>): number[] {
  return (pullRequests ?? []).map((pr) => pr.number);
}

/**
 * The payload checked against its event's schema.
 * @throws {PayloadShapeError} naming up to three missing or mistyped fields
 */
export function parseEventPayload<P>(schema: z.ZodType<P>, event: string, payload: unknown): P {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const where = describeIssues(result.error.issues, { root: '(body)', max: 3 });
  throw new PayloadShapeError(`${event} payload is missing fields it needs (${where})`, {
    cause: result.error,
  });
}
