import type { ColumnType, Generated, Insertable, JSONColumnType, Kysely, Selectable, Transaction, Updateable } from 'kysely';
import type { CiFailure } from '../failure.ts';

/** Status of a failure: `queued` → `running` → `triaged` | `failed`. */
export type FailureStatus = 'queued' | 'running' | 'triaged' | 'failed';
/** Status of one execution of one stage. */
export type ExecutionStatus = 'running' | 'succeeded' | 'failed';
/** `accepted`: this delivery created the failure; `merged`: another delivery already had. */
export type DeliveryOutcome = 'accepted' | 'merged';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** One stored webhook delivery of a failure (ignored deliveries are counted, not stored). */
export interface DeliveriesTable {
  /** `X-GitHub-Delivery` GUID. */
  id: string;
  event: string;
  action: string | null;
  received_at: Timestamp;
  outcome: DeliveryOutcome;
  failure_id: string | null;
  /** JSON text on insert, parsed JSON on select. */
  payload: ColumnType<unknown, string, string>;
  recorded_at: Generated<Timestamp>;
}

/** One CI failure; `id` is its idempotency key (see `idempotencyKeyFor`). */
export interface FailuresTable {
  id: string;
  provider: string;
  kind: 'job' | 'run';
  owner: string;
  repo: string;
  branch: string | null;
  head_sha: string;
  run_id: ColumnType<string | null, number | string | null, number | string | null>;
  run_attempt: number | null;
  job_id: ColumnType<string | null, number | string | null, number | string | null>;
  check_suite_id: ColumnType<string | null, number | string | null, number | string | null>;
  workflow_name: string | null;
  job_name: string | null;
  check_name: string | null;
  html_url: string | null;
  conclusion: string;
  failed_steps: JSONColumnType<string[]>;
  installation_id: ColumnType<string | null, number | string | null, number | string | null>;
  data: JSONColumnType<CiFailure>;
  status: FailureStatus;
  category: string | null;
  confidence: number | null;
  runner: string | null;
  summary: string | null;
  error: string | null;
  first_delivery_id: string;
  received_at: Timestamp;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
  finished_at: Timestamp | null;
  /** Executions of the current triage round have `attempt > attempt_base` (see `requestRetry`). */
  attempt_base: Generated<number>;
  /** The stage a requested retry starts from; earlier stages keep their results. */
  retry_from_stage: string | null;
  /** `strong` when a requested retry (`/pitcrew explain`) classifies for the strong model; `null` = the strategy's choice. */
  retry_model: Generated<string | null>;
  /** Hash of category + normalized log excerpt, for grouping one breakage across failures. */
  signature: string | null;
  incident_id: ColumnType<string | null, number | string | null, number | string | null>;
  /** True when a budget was spent and the failure was triaged by rules instead of a model. */
  budget_skipped: Generated<boolean>;
  /** The fix loop (its origin failure's id) when this failure is CI's on a `pitcrew/fix/<id>` branch; set by intake. */
  fix_loop_id: string | null;
  /** When a success of the same check on the same branch (or the fix loop's merged PR) resolved it; `null` while open. */
  resolved_at: Timestamp | null;
  /** The commit that went green. */
  resolved_by_sha: string | null;
  /** The workflow run (or check suite) that went green; `null` for a merged fix PR. */
  resolved_by_run_id: ColumnType<string | null, number | string | null, number | string | null>;
  /** The re-run pitcrew asked GitHub for ({@link FailureRerun}), JSON; `null` when none. */
  rerun: ColumnType<FailureRerun | null, string | null, string | null>;
}

/** A re-run of a transient failure's job: the `n`th of at most `max` for its run, why, when (ISO 8601). */
export interface FailureRerun {
  n: number;
  max: number;
  reason: string;
  at: string;
  /** `job`: `POST …/actions/jobs/{job_id}/rerun`; `run`: `POST …/actions/runs/{run_id}/rerun-failed-jobs`. */
  scope: 'job' | 'run';
}

/** Model spend per UTC day and scope (`org`, `repo:<owner>/<repo>`, `failure:<id>`), USD. */
export interface SpendTable {
  day: ColumnType<string, string, string>;
  scope: string;
  spent_usd: ColumnType<string, number | string | undefined, number | string>;
  reserved_usd: ColumnType<string, number | string | undefined, number | string>;
  calls: Generated<number>;
}

/** One breakage seen in one repository: failures with the same signature within a window. */
export interface IncidentsTable {
  id: Generated<string>;
  owner: string;
  repo: string;
  signature: string;
  category: string;
  /** The failure whose execute stage serves the whole incident. */
  leader_failure_id: string;
  occurrences: Generated<number>;
  first_seen_at: Generated<Timestamp>;
  last_seen_at: Generated<Timestamp>;
  /** Number of the escalation issue opened for this incident (see `PITCREW_ESCALATE_AFTER`). */
  issue_number: number | null;
  issue_url: string | null;
  /** When pitcrew closed the escalation issue (no unresolved occurrence for `PITCREW_INCIDENT_QUIET_HOURS`). */
  closed_at: Timestamp | null;
}

/**
 * The flaky registry: one row per (repository, workflow, job) with `test = ''`, and one per
 * failing test named in a failure's excerpt. `observations`: resolved failures seen; `occurrences`:
 * those resolved on the commit that failed (a fail then a pass on the same SHA).
 */
export interface FlakyTestsTable {
  id: Generated<string>;
  owner: string;
  repo: string;
  workflow: Generated<string>;
  job: string;
  test: Generated<string>;
  observations: Generated<number>;
  occurrences: Generated<number>;
  first_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_seen_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_failure_id: string | null;
}

/** Status of one sink's publication of one failure. */
export type PublicationStatus = 'pending' | 'published' | 'skipped' | 'failed';

/**
 * What one sink (`check-run`, `pr-comment`, `issue`, `slack`) published for one failure; unique
 * (failure_id, sink). `external_id` is the GitHub object a re-run updates instead of creating a
 * second one: check run id, first comment id, issue number; `detail` holds the rest (comment id
 * per pull request).
 */
export interface PublicationsTable {
  id: Generated<string>;
  failure_id: string;
  sink: string;
  status: Generated<PublicationStatus>;
  external_id: string | null;
  external_url: string | null;
  detail: ColumnType<unknown, string | null, string | null>;
  /** sha256 of what was last sent; an unchanged re-run sends nothing. */
  content_hash: string | null;
  /** Publish job attempts so far, over every round. */
  attempts: Generated<number>;
  /** Error of the last failed attempt; for a `skipped` row, why it was skipped. */
  last_error: string | null;
  published_at: Timestamp | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

/** One execution of one stage for one failure and one attempt. */
export interface ExecutionsTable {
  id: Generated<string>;
  failure_id: string;
  stage: string;
  attempt: number;
  runner: string;
  model: string | null;
  status: ExecutionStatus;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  /** Wall time in ms. */
  duration_ms: number | null;
  /** Prompt tokens as reported by the model server. */
  tokens_in: Generated<number>;
  /** Completion tokens as reported by the model server. */
  tokens_out: Generated<number>;
  /** USD, from the price table at the time of the call. */
  cost_usd: ColumnType<string, number | string | undefined, number | string>;
  output: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  /** TensorZero's inference and episode ids of a model call, for outcome feedback (fix loop part 2). */
  inference_id: string | null;
  episode_id: string | null;
}

/** Where a fix attempt ended (fix loop part 1): `not_attempted` (the policy, no fixer applies, a budget), `failed` (checkout, the fixer's command), `escalated` (the fixer gave up), `refused` (the guard), `verify_failed`, `verified` (not proposed: commit mode refused), `proposed`. */
export type FixAttemptStatus = 'running' | 'not_attempted' | 'proposed' | 'refused' | 'verify_failed' | 'verified' | 'escalated' | 'failed';

/** One fix attempt (iteration) of a failure. Tokens as reported, USD from the price book, ms. */
export interface FixAttemptsTable {
  id: Generated<string>;
  failure_id: string;
  /** 1 for the first fix, then one per CI verdict it iterates on. */
  iteration: number;
  /** `rules` or `agent`. */
  fixer: string;
  status: FixAttemptStatus;
  /** The guard rule that refused the diff (`GUARD_RULES`), with its detail. */
  guard_rule: string | null;
  guard_detail: string | null;
  files_changed: Generated<number>;
  lines_changed: Generated<number>;
  verify_command: string | null;
  verify_exit_code: number | null;
  verify_ms: number | null;
  /** The redacted tail of the verification's output. */
  verify_output: string | null;
  branch: string | null;
  pr_number: number | null;
  pr_url: string | null;
  /** `merged` or `closed` once the pull request ends (fix loop part 2). */
  outcome: string | null;
  tokens_in: Generated<number>;
  tokens_out: Generated<number>;
  cost_usd: ColumnType<string, number | string | undefined, number | string>;
  error: string | null;
  /** Why it ended as it did, in a sentence (not attempted, failed, escalated, verification left to CI). */
  reason: string | null;
  /** True when the proposal was written under `proposal_path` and nothing was pushed. */
  dry_run: Generated<boolean>;
  proposal_path: string | null;
  /** The commit this iteration started from (the failing SHA, then the fix branch's head CI failed on). */
  head_sha: string | null;
  /** The fix commit pushed (or committed in a dry run). */
  commit_sha: string | null;
  /** The failure of CI on the fix branch this iteration answers (iterations after the first). */
  ci_failure_id: string | null;
  /** CI's verdict on this iteration's commit: `passed` (the checks that failed succeeded) or `failed`. */
  ci_verdict: 'passed' | 'failed' | null;
  ci_verdict_at: Timestamp | null;
  /** Why the loop ended escalated: `fixer` (ESCALATE:), `iterations` or `budget` (exhausted). */
  escalation: 'fixer' | 'iterations' | 'budget' | null;
  /** Who merged the pull request (login). */
  merged_by: string | null;
  outcome_at: Timestamp | null;
  /** Whether pitcrew marked the draft PR ready for review once CI passed. */
  ready_for_review: Generated<boolean>;
  started_at: Generated<Timestamp>;
  finished_at: Timestamp | null;
}

/**
 * One fix loop (all iterations of one failure's fix), the `fix_loops` view. `status`: `open`
 * (an iteration running or proposed, CI's verdict pending), `verified_by_ci`, `escalated`,
 * `merged` / `closed` (the PR's outcome), `ended` (not attempted, refused, verify failed). USD,
 * tokens summed over the iterations.
 */
export interface FixLoopsView {
  loop_id: string;
  owner: string;
  repo: string;
  category: string | null;
  iterations: number;
  last_status: FixAttemptStatus;
  fixer: string;
  escalation: string | null;
  verified_by_ci: boolean | null;
  outcome: string | null;
  merged_by: string | null;
  outcome_at: Timestamp | null;
  branch: string | null;
  pr_number: number | null;
  pr_url: string | null;
  tokens_in: number;
  tokens_out: number;
  cost_usd: string;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  proposed_at: Timestamp | null;
  status: 'open' | 'verified_by_ci' | 'escalated' | 'merged' | 'closed' | 'ended';
}

/** A pull request where `/pitcrew quiet` was given: pitcrew posts and updates no comment there any more. */
export interface PrQuietTable {
  owner: string;
  repo: string;
  pr_number: number;
  /** Login of who asked (with write permission). */
  requested_by: string;
  comment_id: ColumnType<string, number | string, number | string>;
  created_at: Generated<Timestamp>;
}

export interface Database {
  pr_quiet: PrQuietTable;
  fix_loops: FixLoopsView;
  fix_attempts: FixAttemptsTable;
  deliveries: DeliveriesTable;
  failures: FailuresTable;
  executions: ExecutionsTable;
  incidents: IncidentsTable;
  spend: SpendTable;
  publications: PublicationsTable;
  flaky_tests: FlakyTestsTable;
}

export type DeliveryRow = Selectable<DeliveriesTable>;
export type FailureRow = Selectable<FailuresTable>;
export type NewFailureRow = Insertable<FailuresTable>;
export type FailureUpdate = Updateable<FailuresTable>;
export type ExecutionRow = Selectable<ExecutionsTable>;
export type IncidentRow = Selectable<IncidentsTable>;
export type PublicationRow = Selectable<PublicationsTable>;
export type FixAttemptRow = Selectable<FixAttemptsTable>;
export type FixLoopRow = Selectable<FixLoopsView>;
export type FlakyTestRow = Selectable<FlakyTestsTable>;

/** A Kysely instance or a transaction; every repository function takes one first. */
export type Db = Kysely<Database> | Transaction<Database>;
