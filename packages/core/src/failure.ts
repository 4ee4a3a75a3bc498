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
 * One CI failure, normalized from any of the four GitHub events (one module per event in
 * `events/`, all built by `failureFrom` in `events/base.ts`). A `job` failure is one failed
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

/** Type guard separating the two results of `normalizeGithubEvent` and `normalizeFixEvent` (`events/`). */
export function isIgnored<T extends object>(result: T | Ignored): result is Ignored {
  return (result as Ignored).ignored === true;
}
