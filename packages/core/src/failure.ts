import { z } from 'zod';

/**
 * Conclusions pitcrew triages. `cancelled`, `neutral`, `skipped`, `stale` and `action_required`
 * are not breakages of the code under test and are ignored.
 * Source: GitHub REST docs, "Check runs" and "Workflow jobs" (`conclusion`).
 */
export const FAILURE_CONCLUSIONS = ['failure', 'timed_out', 'startup_failure'] as const;
export const FailureConclusion = z.enum(FAILURE_CONCLUSIONS);
export type FailureConclusion = z.infer<typeof FailureConclusion>;

/** The webhook events pitcrew understands; anything else is acknowledged and ignored. */
export const CI_EVENTS = ['check_run', 'check_suite', 'workflow_run', 'workflow_job'] as const;
export const CiEvent = z.enum(CI_EVENTS);
export type CiEvent = z.infer<typeof CiEvent>;

/**
 * One CI failure, normalized from any of the four GitHub events. A `job` failure is one failed
 * job of one attempt (a `check_run` or `workflow_job`); a `run` failure is a failed workflow run
 * or check suite as a whole.
 *
 * Job data and the `failures.data` column hold this shape; it must stay readable by older workers
 * during a deploy, so fields are only ever added, as optional/nullable.
 */
export const CiFailure = z.object({
  /** Deterministic id, see {@link idempotencyKeyFor}; also the BullMQ job id and `failures.id`. */
  id: z.string().min(1),
  provider: z.literal('github'),
  /** Granularity: one job attempt, or a whole run / check suite. */
  kind: z.enum(['job', 'run']),
  /** The event the first delivery of this failure came from. */
  event: CiEvent,
  owner: z.string(),
  repo: z.string(),
  repoId: z.number().int().nullable(),
  /** Head branch; `null` for forks and tag pushes where GitHub omits it. */
  branch: z.string().nullable(),
  headSha: z.string(),
  runId: z.number().int().nullable(),
  runAttempt: z.number().int().nullable(),
  /** Job id; for GitHub Actions it equals the check run id of that job. */
  jobId: z.number().int().nullable(),
  checkSuiteId: z.number().int().nullable(),
  workflowName: z.string().nullable(),
  jobName: z.string().nullable(),
  checkName: z.string().nullable(),
  /** Slug of the app that reported the check (`github-actions`, a third-party CI, …). */
  appSlug: z.string().nullable(),
  htmlUrl: z.string().nullable(),
  conclusion: FailureConclusion,
  /** Names of the steps whose conclusion is a failure conclusion, in run order (workflow_job only). */
  failedSteps: z.array(z.string()),
  /** Check-run output text GitHub carried in the payload (title, summary, text), if any. */
  outputText: z.string().nullable(),
  pullRequests: z.array(z.number().int()),
  installationId: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
});
export type CiFailure = z.infer<typeof CiFailure>;

/** Why a delivery was not turned into a failure. */
export interface Ignored {
  ignored: true;
  reason: string;
}

/**
 * Thrown when a payload of a known event lacks fields its event needs (GitHub would never send
 * it; a forged or truncated body). Ingest answers 400 with `message`.
 */
export class PayloadShapeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadShapeError';
  }
}

const Repository = z.object({
  id: z.number().int().optional(),
  name: z.string(),
  full_name: z.string().optional(),
  owner: z.object({ login: z.string() }),
});
const Installation = z.object({ id: z.number().int() }).nullish();
const PullRequests = z.array(z.object({ number: z.number().int() })).nullish();
const Conclusion = z.string().nullable();

const CheckRunPayload = z.object({
  action: z.string(),
  repository: Repository,
  installation: Installation,
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
    check_suite: z
      .object({ id: z.number().int(), head_branch: z.string().nullish() })
      .nullish(),
    app: z.object({ slug: z.string().nullish() }).nullish(),
    pull_requests: PullRequests,
  }),
});

const CheckSuitePayload = z.object({
  action: z.string(),
  repository: Repository,
  installation: Installation,
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

const WorkflowRunPayload = z.object({
  action: z.string(),
  repository: Repository,
  installation: Installation,
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

const WorkflowJobPayload = z.object({
  action: z.string(),
  repository: Repository,
  installation: Installation,
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
    steps: z
      .array(z.object({ name: z.string(), conclusion: z.string().nullish() }))
      .nullish(),
  }),
});

function parseShape<T>(schema: z.ZodType<T>, event: string, payload: unknown): T {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const where = result.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');
  throw new PayloadShapeError(`${event} payload is missing fields it needs (${where})`, {
    cause: result.error,
  });
}

/**
 * Idempotency key of a failure, used as `failures.id` and as the BullMQ job id (BullMQ job ids
 * must contain no `:` and not be all digits: BullMQ docs, "Job Ids").
 *
 * - `gh-job-<jobId>` for `check_run` and `workflow_job`: in GitHub Actions a job and its check run
 *   share one id (`workflow_job.check_run_url` ends in the job id), and a re-run attempt gets new
 *   job ids, so the pair of events for one job attempt maps to one failure.
 * - `gh-suite-<checkSuiteId>` for `check_suite` and `workflow_run` (whose `check_suite_id` is the
 *   suite of the run), so the run-level pair maps to one failure.
 * - `gh-run-<runId>-<attempt>` for a `workflow_run` without `check_suite_id` (old GHES).
 */
export function idempotencyKeyFor(parts: {
  kind: 'job' | 'run';
  jobId?: number | null;
  checkSuiteId?: number | null;
  runId?: number | null;
  runAttempt?: number | null;
}): string {
  if (parts.kind === 'job') {
    if (parts.jobId == null) throw new TypeError('a job failure needs a jobId');
    return `gh-job-${parts.jobId}`;
  }
  if (parts.checkSuiteId != null) return `gh-suite-${parts.checkSuiteId}`;
  if (parts.runId != null) return `gh-run-${parts.runId}-${parts.runAttempt ?? 1}`;
  throw new TypeError('a run failure needs a checkSuiteId or a runId');
}

function isFailureConclusion(value: string | null | undefined): value is FailureConclusion {
  return value != null && (FAILURE_CONCLUSIONS as readonly string[]).includes(value);
}

function repoFields(repository: z.infer<typeof Repository>) {
  return {
    owner: repository.owner.login,
    repo: repository.name,
    repoId: repository.id ?? null,
  };
}

function outputText(
  output: { title?: string | null; summary?: string | null; text?: string | null } | null | undefined,
): string | null {
  if (!output) return null;
  const parts = [output.title, output.summary, output.text].filter(
    (p): p is string => typeof p === 'string' && p.trim().length > 0,
  );
  return parts.length > 0 ? parts.join('\n\n') : null;
}

/**
 * Decides whether a delivery is a CI failure and, if so, normalizes it.
 *
 * A failure is an event of {@link CI_EVENTS} with action `completed` and a conclusion in
 * {@link FAILURE_CONCLUSIONS}. Everything else returns `{ignored, reason}`.
 *
 * @param event the `X-GitHub-Event` header
 * @param payload the parsed JSON body (untrusted)
 * @throws {PayloadShapeError} when a `completed` payload of a known event lacks required fields
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
  switch (event as CiEvent) {
    case 'check_run': {
      const p = parseShape(CheckRunPayload, event, payload);
      const run = p.check_run;
      if (!isFailureConclusion(run.conclusion)) return notAFailure(run.conclusion);
      return {
        id: idempotencyKeyFor({ kind: 'job', jobId: run.id }),
        provider: 'github',
        kind: 'job',
        event: 'check_run',
        ...repoFields(p.repository),
        branch: run.check_suite?.head_branch ?? null,
        headSha: run.head_sha,
        runId: null,
        runAttempt: null,
        jobId: run.id,
        checkSuiteId: run.check_suite?.id ?? null,
        workflowName: null,
        jobName: run.name,
        checkName: run.name,
        appSlug: run.app?.slug ?? null,
        htmlUrl: run.html_url ?? null,
        conclusion: run.conclusion,
        failedSteps: [],
        outputText: outputText(run.output),
        pullRequests: (run.pull_requests ?? []).map((pr) => pr.number),
        installationId: p.installation?.id ?? null,
        startedAt: run.started_at ?? null,
        completedAt: run.completed_at ?? null,
      };
    }
    case 'workflow_job': {
      const p = parseShape(WorkflowJobPayload, event, payload);
      const job = p.workflow_job;
      if (!isFailureConclusion(job.conclusion)) return notAFailure(job.conclusion);
      return {
        id: idempotencyKeyFor({ kind: 'job', jobId: job.id }),
        provider: 'github',
        kind: 'job',
        event: 'workflow_job',
        ...repoFields(p.repository),
        branch: job.head_branch ?? null,
        headSha: job.head_sha,
        runId: job.run_id,
        runAttempt: job.run_attempt ?? null,
        jobId: job.id,
        checkSuiteId: null,
        workflowName: job.workflow_name ?? null,
        jobName: job.name,
        checkName: job.name,
        appSlug: 'github-actions',
        htmlUrl: job.html_url ?? null,
        conclusion: job.conclusion,
        failedSteps: (job.steps ?? [])
          .filter((s) => isFailureConclusion(s.conclusion))
          .map((s) => s.name),
        outputText: null,
        pullRequests: [],
        installationId: p.installation?.id ?? null,
        startedAt: job.started_at ?? null,
        completedAt: job.completed_at ?? null,
      };
    }
    case 'workflow_run': {
      const p = parseShape(WorkflowRunPayload, event, payload);
      const run = p.workflow_run;
      if (!isFailureConclusion(run.conclusion)) return notAFailure(run.conclusion);
      return {
        id: idempotencyKeyFor({
          kind: 'run',
          checkSuiteId: run.check_suite_id,
          runId: run.id,
          runAttempt: run.run_attempt,
        }),
        provider: 'github',
        kind: 'run',
        event: 'workflow_run',
        ...repoFields(p.repository),
        branch: run.head_branch ?? null,
        headSha: run.head_sha,
        runId: run.id,
        runAttempt: run.run_attempt ?? null,
        jobId: null,
        checkSuiteId: run.check_suite_id ?? null,
        workflowName: run.name ?? null,
        jobName: null,
        checkName: run.name ?? null,
        appSlug: 'github-actions',
        htmlUrl: run.html_url ?? null,
        conclusion: run.conclusion,
        failedSteps: [],
        outputText: null,
        pullRequests: (run.pull_requests ?? []).map((pr) => pr.number),
        installationId: p.installation?.id ?? null,
        startedAt: run.run_started_at ?? null,
        completedAt: run.updated_at ?? null,
      };
    }
    case 'check_suite': {
      const p = parseShape(CheckSuitePayload, event, payload);
      const suite = p.check_suite;
      if (!isFailureConclusion(suite.conclusion)) return notAFailure(suite.conclusion);
      return {
        id: idempotencyKeyFor({ kind: 'run', checkSuiteId: suite.id }),
        provider: 'github',
        kind: 'run',
        event: 'check_suite',
        ...repoFields(p.repository),
        branch: suite.head_branch ?? null,
        headSha: suite.head_sha,
        runId: null,
        runAttempt: null,
        jobId: null,
        checkSuiteId: suite.id,
        workflowName: null,
        jobName: null,
        checkName: suite.app?.name ?? null,
        appSlug: suite.app?.slug ?? null,
        htmlUrl: null,
        conclusion: suite.conclusion,
        failedSteps: [],
        outputText: null,
        pullRequests: (suite.pull_requests ?? []).map((pr) => pr.number),
        installationId: p.installation?.id ?? null,
        startedAt: suite.created_at ?? null,
        completedAt: suite.updated_at ?? null,
      };
    }
  }
}

function notAFailure(conclusion: string | null): Ignored {
  return { ignored: true, reason: `conclusion ${conclusion ?? 'null'} is not a failure` };
}

/** Type guard separating the two results of {@link normalizeGithubEvent}. */
export function isIgnored(result: CiFailure | Ignored): result is Ignored {
  return (result as Ignored).ignored === true;
}
