import { z } from 'zod';
import { CiEvent, CiFailure } from './failure.ts';
import { PrCommandName } from './pr-command.ts';

/**
 * The queue contract shared by producers (ingest) and consumers (worker): names, job data schemas
 * and job options. Both sides import it; the worker validates job data again because a job may
 * have been written by an older or newer release.
 */
export const QUEUES = {
  /** One job per accepted failure delivery: records the delivery and the failure in Postgres. */
  intake: 'intake',
  /** One job per failure (job id = failure id): classify, then hand over to the runner's queue. */
  triage: 'triage',
  /** One job per (failure, sink) once the failure is final: tell people (check run, PR comment, issue, Slack). */
  publish: 'publish',
  /** One job per fix attempt of a triaged failure the fix policy allows: fix → guard → verify → propose. */
  fix: 'fix',
  /**
   * One job per delivery (job id from the delivery id) that ends or judges a fix loop: a CI
   * success on a `pitcrew/fix/` branch, a fix PR closed, merged or reopened.
   */
  fixEvents: 'fix-events',
  /**
   * One job per CI success of a branch with open failures (job id from the delivery id), and one
   * delayed job per (incident, resolved failure) that closes the incident's issue once quiet.
   */
  resolutions: 'resolutions',
  /**
   * One job per delivery (job id from the delivery id) about a repository rather than a failure:
   * a push that changed `.github/pitcrew.yml` on the default branch, a `/pitcrew` PR command.
   */
  repoEvents: 'repo-events',
} as const;

/** The runners pitcrew knows. */
export const RUNNERS = ['rules', 'llm', 'agent'] as const;
export const RunnerName = z.enum(RUNNERS);
export type RunnerName = z.infer<typeof RunnerName>;

/**
 * Queue of one runner (`run-rules`, `run-llm`, `run-agent`): execute → summarize. Each runner has
 * its own queue so it has its own concurrency and rate limit, and a slow model never holds up
 * rules triage.
 */
export function runnerQueueName(runner: RunnerName): string {
  return `run-${runner}`;
}

/** Every queue name, for the board and metrics. */
export function allQueueNames(): string[] {
  return [QUEUES.intake, QUEUES.triage, ...RUNNERS.map(runnerQueueName), QUEUES.publish, QUEUES.fix, QUEUES.fixEvents, QUEUES.resolutions, QUEUES.repoEvents];
}

/** The stages of triage, in order. */
export const TRIAGE_STAGES = ['classify', 'execute', 'summarize'] as const;
/** The stages of a fix attempt, after triage, in order (the `fix` job). */
export const FIX_STAGES = ['fix', 'guard', 'verify', 'propose'] as const;
/** Every stage, in order: a requested retry from one re-runs it and every later one. */
export const STAGES = [...TRIAGE_STAGES, ...FIX_STAGES] as const;
export const Stage = z.enum(STAGES);
/**
 * The stages a requested retry may start from (`POST /api/failures/:id/retry`): triage's. A fix
 * attempt is keyed by (failure, iteration) and is not re-run by a retry; fix loop part 2 adds
 * iterations.
 */
export const TriageStage = z.enum(TRIAGE_STAGES);
export type Stage = z.infer<typeof Stage>;

/** Data of an `intake` job. `v` is the schema version. */
export const IntakeJobData = z.object({
  v: z.literal(1),
  deliveryId: z.string().min(1),
  event: CiEvent,
  action: z.string(),
  /** ISO 8601 time ingest received the delivery. */
  receivedAt: z.string(),
  failure: CiFailure,
  /**
   * The delivery payload, kept in `deliveries.payload` for traceability and replay. Jobs of
   * releases before `payloadKey` carry it here; ingest now leaves it out and sets `payloadKey`.
   */
  payload: z.unknown().optional(),
  /**
   * Where the payload's JSON text waits in Redis ({@link intakePayloadKey}), written before the
   * job on the same connection; the worker's intake reads it, stores it in `deliveries.payload`
   * and deletes it. Absent in jobs of older releases (then `payload` holds it).
   */
  payloadKey: z.string().min(1).optional(),
});
export type IntakeJobData = z.infer<typeof IntakeJobData>;

/** Data of a `triage` job. The failure itself is read from Postgres (claimed in one statement). */
export const TriageJobData = z.object({
  v: z.literal(1),
  failureId: z.string().min(1),
  /**
   * The triage round (`failures.attempt_base`): 0 for the first, the base of a requested retry
   * after that (which stages re-run is on the failure row, `retry_from_stage`). Absent in jobs
   * of older releases: round 0.
   */
  round: z.number().int().min(0).default(0),
  /**
   * The failure as intake recorded it, so a first round reads nothing back (its claim is folded
   * into classify's write). Absent for retries (the row says which stages re-run) and in jobs of
   * older releases: then the failure is claimed and read in one statement.
   */
  carried: z.object({ failure: CiFailure, recordedAt: z.string() }).optional(),
});
export type TriageJobData = z.infer<typeof TriageJobData>;

/**
 * What execute and summarize need from classify, carried in the run job so it reads nothing
 * back from Postgres. `classification` is the classify stage's stored output, parsed by the
 * worker with that stage's schema.
 */
export const CarriedTriage = z.object({
  failure: CiFailure,
  /** ISO 8601 time the failure was recorded (`failures.created_at`): the degrade deadline and the leader wait count from it. */
  recordedAt: z.string(),
  /** The round (`failures.attempt_base`) and the stage a requested retry re-runs from. */
  attemptBase: z.number().int().min(0),
  retryFromStage: Stage.nullable(),
  classification: z.unknown(),
});
export type CarriedTriage = z.infer<typeof CarriedTriage>;

/** Data of a `run-<runner>` job: execute and summarize one classified failure. */
export const RunJobData = z.object({
  v: z.literal(1),
  failureId: z.string().min(1),
  /** The triage round (see {@link TriageJobData}); absent in jobs of older releases (then its id says it). */
  round: z.number().int().min(0).optional(),
  /** Absent in jobs of older releases: then the failure and its classification are read from Postgres. */
  carried: CarriedTriage.optional(),
});
export type RunJobData = z.infer<typeof RunJobData>;

/** The sinks a triage result can be published to (`PITCREW_PUBLISH`). */
export const SINKS = ['check-run', 'pr-comment', 'issue', 'slack'] as const;
export const SinkName = z.enum(SINKS);
export type SinkName = z.infer<typeof SinkName>;

/** Data of a `publish` job: publish one final failure to one sink. */
export const PublishJobData = z.object({
  v: z.literal(1),
  failureId: z.string().min(1),
  sink: SinkName,
  /** The triage round whose result is published (`failures.attempt_base`); absent in jobs of older releases: 0. */
  round: z.number().int().min(0).default(0),
  /** Set when a fix attempt ended: the sink updates what it published with the attempt (its PR). */
  fixIteration: z.number().int().min(1).optional(),
  /** Set when the fix loop ended escalated at `fixIteration`: the escalation sinks hear of it too. */
  escalated: z.boolean().optional(),
  /** Set with `fixIteration` when CI's verdict on that iteration's commit came: the sink updates what it published to say so. */
  fixVerdict: z.enum(['passed', 'failed']).optional(),
  /** Set when the failure was resolved after it was published: the sink updates what it published to say so. */
  resolved: z.boolean().optional(),
});
export type PublishJobData = z.infer<typeof PublishJobData>;

/** Data of a `fix` job: one fix attempt (iteration) of a triaged failure. */
export const FixJobData = z.object({
  v: z.literal(1),
  failureId: z.string().min(1),
  /** The triage round whose diagnosis the fix works from (`failures.attempt_base`). */
  round: z.number().int().min(0),
  /** 1 for the first fix; then one per CI failure on the fix branch it iterates on. */
  iteration: z.number().int().min(1),
  /**
   * For iterations after the first: the loop (its first failure's id, the `pitcrew/fix/<id>`
   * branch); `failureId` is then the CI failure on the fix branch this iteration answers.
   */
  loop: z.string().min(1).optional(),
});
export type FixJobData = z.infer<typeof FixJobData>;

/** What every {@link FixEventJobData} carries: the delivery and the repository it is about. */
const FixEventBase = z.object({
  v: z.literal(1),
  /** `X-GitHub-Delivery` of the webhook; the job id derives from it ({@link fixEventJobId}). */
  deliveryId: z.string().min(1),
  /** ISO 8601 time ingest received the delivery. */
  receivedAt: z.string(),
  owner: z.string().min(1),
  repo: z.string().min(1),
  /** The GitHub App installation of the delivery (its Octokit marks the PR ready); `null` without an App. */
  installationId: z.number().int().nullable(),
  /** The fix branch, `pitcrew/fix/<loop id>` (`loopOfBranch` gives the loop). */
  branch: z.string().min(1),
  /** The commit CI ran on, or the PR's head commit. */
  headSha: z.string().min(1),
});

/**
 * Data of a `fix-events` job, by `kind`:
 * - `ci-success`: a `completed` CI delivery (`event`) with conclusion `success` on a fix branch;
 *   `jobName`/`checkName` (one job or check run) or `workflowName` (a whole run or suite) say
 *   which check passed, to match against the failure the loop fixes.
 * - `pull-request`: a `pull_request` delivery with action `closed` (`merged` true when merged, by
 *   `mergedBy`, at `closedAt`) or `reopened`, whose head is a fix branch.
 */
export const FixEventJobData = z.discriminatedUnion('kind', [
  FixEventBase.extend({
    kind: z.literal('ci-success'),
    event: CiEvent,
    /** `job` for a check run or workflow job, `run` for a check suite or workflow run. */
    scope: z.enum(['job', 'run']),
    jobName: z.string().nullable(),
    checkName: z.string().nullable(),
    workflowName: z.string().nullable(),
  }),
  FixEventBase.extend({
    kind: z.literal('pull-request'),
    action: z.enum(['closed', 'reopened']),
    prNumber: z.number().int().min(1),
    merged: z.boolean(),
    /** Login of who merged it; `null` unless merged. */
    mergedBy: z.string().nullable(),
    /** ISO 8601 `closed_at`; `null` for `reopened`. */
    closedAt: z.string().nullable(),
  }),
]);
export type FixEventJobData = z.infer<typeof FixEventJobData>;
/** A fix event as normalized from a delivery: {@link FixEventJobData} without what ingest adds. */
export type FixEvent = FixEventJobData extends infer T ? (T extends FixEventJobData ? Omit<T, 'v' | 'deliveryId' | 'receivedAt'> : never) : never;

/**
 * Data of a `resolutions` job, by `kind`:
 * - `ci-success`: a `completed` CI delivery with conclusion `success` on a branch that had open
 *   failures when ingest looked ({@link openFailuresKey}); the worker resolves the open failures of
 *   the same repository, branch, workflow and job (or run) name.
 * - `incident-quiet`: delayed by `PITCREW_INCIDENT_QUIET_HOURS` after `failureId` of the
 *   incident was resolved; closes the incident's escalation issue when none of its occurrences is
 *   unresolved and none was resolved within the quiet window since.
 */
export const ResolutionJobData = z.discriminatedUnion('kind', [
  z.object({
    v: z.literal(1),
    kind: z.literal('ci-success'),
    /** `X-GitHub-Delivery`; the job id derives from it ({@link resolutionJobId}). */
    deliveryId: z.string().min(1),
    /** ISO 8601 time ingest received the delivery. */
    receivedAt: z.string(),
    event: CiEvent,
    owner: z.string().min(1),
    repo: z.string().min(1),
    installationId: z.number().int().nullable(),
    branch: z.string().min(1),
    headSha: z.string().min(1),
    scope: z.enum(['job', 'run']),
    jobName: z.string().nullable(),
    checkName: z.string().nullable(),
    workflowName: z.string().nullable(),
    runId: z.number().int().nullable(),
    runAttempt: z.number().int().nullable(),
    /** ISO 8601 `completed_at` of the job (a run's `updated_at`); `null`: `receivedAt` is used. */
    completedAt: z.string().nullable(),
  }),
  z.object({
    v: z.literal(1),
    kind: z.literal('incident-quiet'),
    incidentId: z.string().min(1),
    /** The resolved occurrence that scheduled this check. */
    failureId: z.string().min(1),
  }),
]);
export type ResolutionJobData = z.infer<typeof ResolutionJobData>;

/**
 * Job id of a resolution: one per delivery, or per (incident, resolved failure) for a quiet check;
 * never all digits, no `:`. Takes only the fields it reads, so a reader of the queue (the demo)
 * can find the job of a delivery it sent.
 */
export function resolutionJobId(
  data: Pick<Extract<ResolutionJobData, { kind: 'ci-success' }>, 'kind' | 'deliveryId'> | Pick<Extract<ResolutionJobData, { kind: 'incident-quiet' }>, 'kind' | 'incidentId' | 'failureId'>,
): string {
  return data.kind === 'ci-success' ? `resolution-${data.deliveryId.replaceAll(':', '-')}` : `incident-quiet-${data.incidentId}-${data.failureId.replaceAll(':', '-')}`;
}

/**
 * Redis set of the open failures (their ids) of one repository and branch, kept by the workers:
 * added when intake records a failure, removed when it is resolved. Ingest asks only whether it
 * exists (`EXISTS`, an empty set does not) for a completed success of that branch; a hit makes
 * the delivery a resolution job. Under the queue prefix, so in the queues' Redis Cluster slot.
 * `owner/repo` cannot contain `:`, so the first `:` after it ends the repository.
 */
export function openFailuresKey(prefix: string, owner: string, repo: string, branch: string): string {
  return `${prefix}:open:${owner}/${repo}:${branch}`;
}

/**
 * How long a branch's open-failure set lives after its last addition, in seconds (14 days): a
 * branch that never goes green stops costing ingest a lookup hit then; its failures stay open in
 * Postgres.
 */
export const OPEN_FAILURES_TTL_SECONDS = 14 * 24 * 3600;

/** What every {@link RepoEventJobData} carries: the delivery and the repository it is about. */
const RepoEventBase = z.object({
  v: z.literal(1),
  /** `X-GitHub-Delivery` of the webhook; the job id derives from it ({@link repoEventJobId}). */
  deliveryId: z.string().min(1).max(200),
  /** ISO 8601 time ingest received the delivery. */
  receivedAt: z.string(),
  owner: z.string().min(1).max(100),
  repo: z.string().min(1).max(100),
  /** The GitHub App installation of the delivery; `null` without an App. */
  installationId: z.number().int().nullable(),
});

/**
 * Data of a `repo-events` job, by `kind`:
 * - `config-push`: a `push` to the default branch whose commits touched `.github/pitcrew.yml`:
 *   the cached configuration is read again and reported on `headSha` (the push's head commit).
 * - `pr-command`: an `issue_comment` `created` on a pull request whose body has a `/pitcrew
 *   <command>` line (`parsePrCommand`), by `user` (login, at most 100 characters).
 */
export const RepoEventJobData = z.discriminatedUnion('kind', [
  RepoEventBase.extend({
    kind: z.literal('config-push'),
    /** The push's `after` commit. */
    headSha: z.string().min(1).max(64),
    defaultBranch: z.string().min(1).max(255),
  }),
  RepoEventBase.extend({
    kind: z.literal('pr-command'),
    command: PrCommandName,
    prNumber: z.number().int().min(1),
    commentId: z.number().int().min(1),
    user: z.string().min(1).max(100),
  }),
]);
export type RepoEventJobData = z.infer<typeof RepoEventJobData>;

/** Job id of a repository event: one per delivery (a redelivery adds nothing); never all digits, no `:`. */
export function repoEventJobId(deliveryId: string): string {
  return `repo-event-${deliveryId.replaceAll(':', '-')}`;
}

/** Job id of a fix event: one per delivery (a redelivery adds nothing); never all digits, no `:`. */
export function fixEventJobId(deliveryId: string): string {
  return `fix-event-${deliveryId.replaceAll(':', '-')}`;
}

/** Job id of a fix attempt: one per (failure, round, iteration), so a redelivered run job adds one. */
export function fixJobId(failureId: string, round: number, iteration: number): string {
  return `fix-${failureId}-round-${round}-iteration-${iteration}`;
}

/**
 * Job id of a failure's publish job for one sink in one triage round (`attempt_base`), so the
 * worker enqueuing it twice (a redelivered or stalled run job) adds one job; a requested retry
 * (new round) publishes again, updating what the sink already has. A fix iteration's update, and
 * CI's verdict on it, get ids of their own (`…-fix-<n>`, `…-fix-<n>-ci-passed`).
 */
export function publishJobId(failureId: string, sink: SinkName, attemptBase: number, fixIteration?: number, fixVerdict?: 'passed' | 'failed', escalated?: boolean, resolved?: boolean): string {
  return `publish-${failureId}-${sink}-round-${attemptBase}${fixIteration ? `-fix-${fixIteration}` : ''}${fixIteration && fixVerdict ? `-ci-${fixVerdict}` : ''}${escalated ? '-escalated' : ''}${resolved ? '-resolved' : ''}`;
}

/**
 * Job id of a failure's triage job in one round: the failure id for round 0 (ingest's intake adds
 * it), `<id>-retry-<round>` for a requested retry, so two concurrent retries of one round add one
 * job and a finished first round never blocks a retry.
 */
export function triageJobId(failureId: string, round: number): string {
  return round === 0 ? failureId : `${failureId}-retry-${round}`;
}

/**
 * Job id of a failure's runner job in one triage round (`attempt_base` changes per requested retry).
 */
export function runJobId(failureId: string, attemptBase: number): string {
  return `${failureId}-round-${attemptBase}`;
}

/**
 * BullMQ job id of the intake job of a delivery. Delivery ids are GUIDs (no `:`), prefixed so the
 * id is never all digits (BullMQ docs, "Job Ids").
 */
export function intakeJobId(deliveryId: string): string {
  return `delivery-${deliveryId.replaceAll(':', '-')}`;
}

/** One queue's entry in the job catalog. */
export interface JobSpec<T> {
  /** Queue name, before the BullMQ prefix. */
  queue: string;
  /** BullMQ job name of `data` (shown on the board). */
  name(data: T): string;
  /** Schema of the job's data: producers write it, workers parse it (a job may come from another release). */
  data: z.ZodType<T, any>;
  /** The job id rule: one id per unit of work, so adding the same work twice adds one job. */
  jobId(data: T): string;
}

/**
 * The job catalog: every queue pitcrew uses, with its job data schema and job id rule. Ingest,
 * the workers and the admin API add and read jobs only through these entries; options are
 * {@link defaultJobOptions}.
 */
export const JOBS = {
  /** One job per accepted failure delivery: records the delivery and its failure, adds the triage job. */
  intake: { queue: QUEUES.intake, name: () => 'intake', data: IntakeJobData, jobId: (d) => intakeJobId(d.deliveryId) } satisfies JobSpec<IntakeJobData>,
  /** One job per failure and round: claim, classify, hand over to the chosen runner's queue. */
  triage: { queue: QUEUES.triage, name: () => 'triage', data: TriageJobData, jobId: (d) => triageJobId(d.failureId, d.round) } satisfies JobSpec<TriageJobData>,
  /** One job per failure and round on the runner's own queue: execute, summarize. */
  run: (runner: RunnerName) =>
    ({ queue: runnerQueueName(runner), name: () => runner, data: RunJobData, jobId: (d) => runJobId(d.failureId, d.round ?? 0) }) satisfies JobSpec<RunJobData>,
  /** One job per (failure, sink, round) once the failure is final. */
  publish: { queue: QUEUES.publish, name: (d) => d.sink, data: PublishJobData, jobId: (d) => publishJobId(d.failureId, d.sink, d.round, d.fixIteration, d.fixVerdict, d.escalated, d.resolved) } satisfies JobSpec<PublishJobData>,
  /** One job per fix attempt (failure, round, iteration). */
  fix: { queue: QUEUES.fix, name: () => 'fix', data: FixJobData, jobId: (d) => fixJobId(d.failureId, d.round, d.iteration) } satisfies JobSpec<FixJobData>,
  /** One job per delivery that ends or judges a fix loop (CI success on a fix branch, fix PR closed or reopened). */
  fixEvents: { queue: QUEUES.fixEvents, name: (d) => d.kind, data: FixEventJobData, jobId: (d) => fixEventJobId(d.deliveryId) } satisfies JobSpec<FixEventJobData>,
  /** One job per CI success of a branch with open failures, or per delayed incident-quiet check. */
  resolutions: { queue: QUEUES.resolutions, name: (d) => d.kind, data: ResolutionJobData, jobId: (d) => resolutionJobId(d) } satisfies JobSpec<ResolutionJobData>,
  /** One job per delivery about a repository (its `.github/pitcrew.yml` pushed, a `/pitcrew` PR command). */
  repoEvents: { queue: QUEUES.repoEvents, name: (d) => (d.kind === 'pr-command' ? `pr-command-${d.command}` : d.kind), data: RepoEventJobData, jobId: (d) => repoEventJobId(d.deliveryId) } satisfies JobSpec<RepoEventJobData>,
} as const;

/** `[name, data, {jobId}]` for `queue.add(...)` of a catalog job (the id by the entry's rule). */
export function jobArgs<T>(spec: JobSpec<T>, data: T): [string, T, { jobId: string }] {
  return [spec.name(data), data, { jobId: spec.jobId(data) }];
}

/**
 * Default job options. Exponential backoff from 2 s over 5 attempts retries for about 30 s in all,
 * enough to ride out a Postgres failover; completed jobs are kept one day (or 1,000) so the board
 * shows recent work, failed ones a week for inspection.
 */
export function defaultJobOptions(attempts: number) {
  return {
    attempts,
    backoff: { type: 'exponential' as const, delay: 2_000 },
    removeOnComplete: { age: 24 * 3600, count: 1_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/**
 * The Redis Cluster hash tag of a key: the text between its first `{` and the first `}` after it,
 * when non-empty; `null` when the key has none (then Cluster hashes the whole key). Rule from the
 * Redis docs, "Redis cluster specification", "Hash tags".
 */
export function redisHashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open === -1) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

/**
 * Redis key marking a delivery id as seen, for redelivery detection. Starts with the queue prefix,
 * so it carries the prefix's hash tag and lands in the same Redis Cluster slot as the queues.
 */
export function deliverySeenKey(prefix: string, deliveryId: string): string {
  return `${prefix}:seen:${deliveryId}`;
}

/**
 * Redis key holding a delivery's payload (its JSON text, as GitHub sent it) until the worker's
 * intake has stored it in Postgres. Under the queue prefix, so in the queues' Redis Cluster slot.
 */
export function intakePayloadKey(prefix: string, deliveryId: string): string {
  return `${prefix}:payload:${deliveryId}`;
}

/**
 * How long a payload waits for its intake job, in seconds: as long as a failed intake job is
 * kept for a retry ({@link defaultJobOptions}' `removeOnFail`, 7 days). The worker deletes it
 * once stored, so only payloads of jobs still waiting or failed stay in Redis.
 */
export const INTAKE_PAYLOAD_TTL_SECONDS = 7 * 24 * 3600;

/**
 * How long a seen delivery id is remembered, in seconds: GitHub lets an operator redeliver
 * deliveries of the past 3 days (GitHub docs, "Redelivering webhooks"); we keep a day more.
 */
export const DELIVERY_SEEN_TTL_SECONDS = 4 * 24 * 3600;
