import { z } from 'zod';
import { CiEvent, CiFailure } from './failure.ts';

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
  return [QUEUES.intake, QUEUES.triage, ...RUNNERS.map(runnerQueueName), QUEUES.publish];
}

/** The stages of triage, in order. */
export const STAGES = ['classify', 'execute', 'summarize'] as const;
export const Stage = z.enum(STAGES);
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

/** Data of a `triage` job. The failure itself is read from Postgres. */
export const TriageJobData = z.object({
  v: z.literal(1),
  failureId: z.string().min(1),
  /** Stage to start from; earlier finished stages are reused, never re-run. */
  fromStage: Stage.optional(),
});
export type TriageJobData = z.infer<typeof TriageJobData>;

/** Data of a `run-<runner>` job: execute and summarize one classified failure. */
export const RunJobData = z.object({
  v: z.literal(1),
  failureId: z.string().min(1),
  runner: RunnerName,
  /** Model the strategy chose, `null` for runners without one. */
  model: z.string().nullable(),
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
});
export type PublishJobData = z.infer<typeof PublishJobData>;

/**
 * Job id of a failure's publish job for one sink in one triage round (`attempt_base`), so the
 * worker enqueuing it twice (a redelivered or stalled run job) adds one job; a requested retry
 * (new round) publishes again, updating what the sink already has.
 */
export function publishJobId(failureId: string, sink: SinkName, attemptBase: number): string {
  return `publish-${failureId}-${sink}-round-${attemptBase}`;
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
