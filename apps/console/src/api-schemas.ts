import { z } from '@hono/zod-openapi';
import {
  BreakerStateName,
  FIX_LOOP_STATUSES,
  type BreakerStateView,
  type BudgetLedgerRow,
  type DeliveryView,
  type ExecutionTotals,
  type ExecutionView,
  type FailureDetail,
  type FailureListItem,
  type FixAttemptStatus,
  type FixAttemptView,
  type FixBreakerView,
  type FixListItem,
  type FixLoopDetail,
  type FixLoopFigures,
  type FixLoopSummary,
  type FixLoopView,
  type FixSummary,
  type FlakyView,
  type IncidentFailure,
  type IncidentView,
  type PublicationView,
  type SpendRow,
} from '@pitcrew/core';

/**
 * The admin API's answers as zod schemas, for the OpenAPI document and the typed client
 * (`hc<AdminApi>`). Each mirrors a view type of `@pitcrew/core` (`db/admin/*.ts`), which stays the
 * source of truth: the `Same<…>` checks at the end of this file fail the type check when a schema
 * and its view type differ in any field, so the document cannot drift from what the API sends.
 * Times are ISO 8601 strings, durations ms, money USD.
 */

const iso = z.string().openapi({ format: 'date-time', description: 'ISO 8601' });
const isoOrNull = iso.nullable();
const usd = z.number().openapi({ description: 'USD' });

/** Every answer that is not a 2xx: a stable machine code and a sentence. */
export const ErrorAnswer = z.object({ error: z.string().openapi({ example: 'bad_request' }), reason: z.string() }).openapi('Error');

const FAILURE_STATUS = z.enum(['queued', 'running', 'triaged', 'failed']);
const FIX_ATTEMPT_STATUS = z.enum(['running', 'not_attempted', 'proposed', 'refused', 'verify_failed', 'verified', 'escalated', 'failed'] satisfies FixAttemptStatus[]);

const ExecutionSums = {
  executions: z.number().int().openapi({ description: 'executions counted, of every stage and attempt' }),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  costUsd: usd,
};

const FailureBasics = {
  id: z.string(),
  owner: z.string(),
  repo: z.string(),
  status: FAILURE_STATUS,
  category: z.string().nullable(),
  confidence: z.number().nullable(),
  runner: z.string().nullable(),
  workflowName: z.string().nullable(),
  jobName: z.string().nullable(),
  branch: z.string().nullable(),
  headSha: z.string(),
  conclusion: z.string(),
  receivedAt: iso,
  finishedAt: isoOrNull,
  summary: z.string().nullable(),
  resolvedAt: isoOrNull,
  resolvedBySha: z.string().nullable(),
  resolvedByRunId: z.string().nullable(),
  timeToGreenMs: z.number().nullable().openapi({ description: 'ms from receipt to resolution' }),
  rerun: z.object({ n: z.number().int(), max: z.number().int(), reason: z.string(), at: iso, scope: z.enum(['job', 'run']) }).nullable(),
};

export const FailureListItemSchema = z.object({ ...FailureBasics, ...ExecutionSums, incidentId: z.string().nullable() }).openapi('FailureListItem');

const cursorPage = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable().openapi({ description: 'pass as `cursor` for the next page; `null` on the last' }) }).openapi(name);

export const FailurePage = cursorPage(FailureListItemSchema, 'FailurePage');

export const DeliveryViewSchema = z
  .object({ id: z.string(), event: z.string(), action: z.string().nullable(), outcome: z.string(), receivedAt: iso, recordedAt: iso })
  .openapi('Delivery');

export const ExecutionViewSchema = z
  .object({
    id: z.string(),
    stage: z.string(),
    attempt: z.number().int(),
    runner: z.string(),
    model: z.string().nullable(),
    status: z.string(),
    startedAt: iso,
    finishedAt: isoOrNull,
    durationMs: z.number().nullable(),
    tokensIn: z.number().int(),
    tokensOut: z.number().int(),
    costUsd: usd,
    error: z.string().nullable(),
    output: z.unknown().openapi({ description: "the stage's stored output (classification, runner markdown, summary)" }),
  })
  .openapi('Execution');

export const IncidentViewSchema = z
  .object({
    id: z.string(),
    owner: z.string(),
    repo: z.string(),
    signature: z.string(),
    category: z.string(),
    leaderFailureId: z.string(),
    occurrences: z.number().int(),
    firstSeenAt: iso,
    lastSeenAt: iso,
    failures: z.number().int(),
  })
  .openapi('Incident');

export const PublicationViewSchema = z
  .object({
    sink: z.string(),
    status: z.string(),
    externalId: z.string().nullable(),
    externalUrl: z.string().nullable(),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    publishedAt: isoOrNull,
    updatedAt: iso,
  })
  .openapi('Publication');

export const FixAttemptViewSchema = z
  .object({
    id: z.string(),
    failureId: z.string(),
    iteration: z.number().int(),
    fixer: z.string(),
    status: FIX_ATTEMPT_STATUS,
    guardRule: z.string().nullable(),
    guardDetail: z.string().nullable(),
    filesChanged: z.number().int(),
    linesChanged: z.number().int(),
    verify: z.object({ command: z.string().nullable(), exitCode: z.number().int().nullable(), ms: z.number().nullable(), output: z.string().nullable() }),
    branch: z.string().nullable(),
    pr: z.object({ number: z.number().int().nullable(), url: z.string().nullable() }),
    outcome: z.string().nullable(),
    mergedBy: z.string().nullable(),
    outcomeAt: isoOrNull,
    headSha: z.string().nullable(),
    commitSha: z.string().nullable(),
    ci: z.object({ failureId: z.string().nullable(), verdict: z.enum(['passed', 'failed']).nullable(), at: isoOrNull }),
    escalation: z.enum(['fixer', 'iterations', 'budget']).nullable(),
    readyForReview: z.boolean(),
    reason: z.string().nullable(),
    tokensIn: z.number().int(),
    tokensOut: z.number().int(),
    costUsd: usd,
    error: z.string().nullable(),
    startedAt: iso,
    finishedAt: isoOrNull,
    durationMs: z.number().nullable(),
  })
  .openapi('FixAttempt');

export const FailureDetailSchema = z
  .object({
    failure: z.object({
      ...FailureBasics,
      provider: z.string(),
      kind: z.string(),
      runId: z.string().nullable(),
      runAttempt: z.number().int().nullable(),
      jobId: z.string().nullable(),
      checkName: z.string().nullable(),
      htmlUrl: z.string().nullable(),
      failedSteps: z.array(z.string()),
      error: z.string().nullable(),
      signature: z.string().nullable(),
      budgetSkipped: z.boolean(),
      attemptBase: z.number().int(),
      retryFromStage: z.string().nullable(),
      firstDeliveryId: z.string(),
      createdAt: iso,
      updatedAt: iso,
    }),
    deliveries: z.array(DeliveryViewSchema),
    executions: z.array(ExecutionViewSchema),
    totals: z.object({ ...ExecutionSums, durationMs: z.number() }),
    incident: IncidentViewSchema.nullable(),
    publications: z.array(PublicationViewSchema),
    fixAttempts: z.array(FixAttemptViewSchema),
  })
  .openapi('FailureDetail');

export const RetryAnswer = z
  .object({ retried: z.literal(true), failureId: z.string(), fromStage: z.enum(['classify', 'execute', 'summarize']), attemptBase: z.number().int(), jobId: z.string() })
  .openapi('RetryAnswer');

export const ReplayAnswer = z
  .object({
    replayOf: z.string(),
    deliveryId: z.string(),
    failureId: z.string(),
    intake: z.enum(['accepted', 'duplicate']),
    failureExisted: z.boolean(),
    recorded: z.object({ outcome: z.string(), failureStatus: FAILURE_STATUS.nullable() }).nullable(),
    note: z.string(),
  })
  .openapi('ReplayAnswer');

const SpendRowSchema = z.object({ day: z.string().openapi({ description: 'UTC YYYY-MM-DD' }), owner: z.string(), repo: z.string(), ...ExecutionSums });
const BudgetLedgerRowSchema = z.object({ day: z.string(), scope: z.string(), spentUsd: usd, reservedUsd: usd, calls: z.number().int() });

export const SpendAnswer = z
  .object({ since: z.string(), until: z.string(), rows: z.array(SpendRowSchema), totals: z.object(ExecutionSums), budgets: z.array(BudgetLedgerRowSchema) })
  .openapi('SpendAnswer');

export const IncidentList = cursorPage(IncidentViewSchema, 'IncidentList');

const IncidentFailureSchema = z.object({
  id: z.string(),
  status: FAILURE_STATUS,
  category: z.string().nullable(),
  runner: z.string().nullable(),
  jobName: z.string().nullable(),
  headSha: z.string(),
  receivedAt: iso,
  leader: z.boolean(),
  summary: z.string().nullable(),
});

export const IncidentDetail = IncidentViewSchema.extend({ linked: z.array(IncidentFailureSchema) }).openapi('IncidentDetail');

export const FixListItemSchema = FixAttemptViewSchema.extend({
  failure: z.object({ owner: z.string(), repo: z.string(), branch: z.string().nullable(), category: z.string().nullable() }),
}).openapi('FixListItem');

export const FixPage = cursorPage(FixListItemSchema, 'FixPage');

const FixLoopFiguresShape = {
  loops: z.number().int(),
  open: z.number().int(),
  verifiedByCi: z.number().int(),
  escalated: z.number().int(),
  merged: z.number().int(),
  closed: z.number().int(),
  ended: z.number().int(),
  ciPassed: z.number().int(),
  iterations: z.number().int(),
  costUsd: usd,
  mergeRate: z.number().nullable(),
  iterationsPerMergedFix: z.number().nullable(),
  usdPerMergedFix: z.number().nullable(),
};

const FixLoopSummarySchema = z.object({
  total: z.object(FixLoopFiguresShape),
  groups: z.array(z.object({ ...FixLoopFiguresShape, fixer: z.string(), model: z.string().nullable(), category: z.string().nullable() })),
});

export const FixSummaryAnswer = z
  .object({
    since: iso,
    attempts: z.number().int(),
    byStatus: z.record(FIX_ATTEMPT_STATUS, z.number().int()),
    byGuardRule: z.record(z.string(), z.number().int()),
    proposed: z.number().int(),
    tokensIn: z.number().int(),
    tokensOut: z.number().int(),
    costUsd: usd,
    usdPerProposedFix: z.number().nullable(),
    loops: FixLoopSummarySchema,
  })
  .openapi('FixSummary');

export const FixLoopViewSchema = z
  .object({
    id: z.string(),
    owner: z.string(),
    repo: z.string(),
    category: z.string().nullable(),
    status: z.enum(FIX_LOOP_STATUSES),
    iterations: z.number().int(),
    fixer: z.string(),
    model: z.string().nullable(),
    lastStatus: FIX_ATTEMPT_STATUS,
    escalation: z.string().nullable(),
    verifiedByCi: z.boolean(),
    outcome: z.string().nullable(),
    mergedBy: z.string().nullable(),
    outcomeAt: isoOrNull,
    branch: z.string().nullable(),
    pr: z.object({ number: z.number().int().nullable(), url: z.string().nullable() }),
    tokensIn: z.number().int(),
    tokensOut: z.number().int(),
    costUsd: usd,
    startedAt: iso,
    finishedAt: isoOrNull,
    proposedAt: isoOrNull,
  })
  .openapi('FixLoop');

export const FixLoopPage = cursorPage(FixLoopViewSchema, 'FixLoopPage');

export const FixLoopDetailSchema = FixLoopViewSchema.extend({ attempts: z.array(FixAttemptViewSchema) }).openapi('FixLoopDetail');

export const FlakyList = z
  .object({
    items: z.array(
      z.object({
        owner: z.string(),
        repo: z.string(),
        workflow: z.string(),
        job: z.string(),
        test: z.string().nullable(),
        score: z.number().openapi({ description: 'occurrences / observations, in [0, 1]' }),
        occurrences: z.number().int(),
        observations: z.number().int(),
        firstSeenAt: iso,
        lastSeenAt: iso,
        lastFailureId: z.string().nullable(),
      }),
    ),
  })
  .openapi('FlakyList');

export const FixBreakersAnswer = z
  .object({
    threshold: z.number().int(),
    cooldownMs: z.number().int(),
    breakers: z.array(
      z.object({
        owner: z.string(),
        repo: z.string(),
        exhaustedInARow: z.number().int(),
        threshold: z.number().int(),
        state: z.enum(['open', 'closed']),
        until: isoOrNull,
        lastEndedAt: isoOrNull,
      }),
    ),
    open: z.number().int(),
  })
  .openapi('FixBreakers');

export const BreakersAnswer = z
  .object({
    breakers: z.array(z.object({ worker: z.string(), runner: z.string(), state: BreakerStateName, since: iso, updatedAt: iso })),
    workers: z.number().int(),
    open: z.number().int(),
  })
  .openapi('Breakers');

// ---- The schemas are the view types, field for field (a mismatch fails `tsc`). ----

/** `true` only when `A` and `B` are mutually assignable, field types included. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;
type Item<T> = T extends readonly (infer I)[] ? I : never;
type Out<S extends z.ZodType> = z.output<S>;

/** Compile-time checks only; never called. */
export type SchemaMatchesViews = [
  Expect<Same<Out<typeof FailureListItemSchema>, FailureListItem>>,
  Expect<Same<Out<typeof FailureDetailSchema>, FailureDetail>>,
  Expect<Same<Out<typeof DeliveryViewSchema>, DeliveryView>>,
  Expect<Same<Out<typeof ExecutionViewSchema>, ExecutionView>>,
  Expect<Same<Out<typeof FailureDetailSchema>['totals'], ExecutionTotals>>,
  Expect<Same<Out<typeof IncidentViewSchema>, IncidentView>>,
  Expect<Same<Out<typeof PublicationViewSchema>, PublicationView>>,
  Expect<Same<Out<typeof FixAttemptViewSchema>, FixAttemptView>>,
  Expect<Same<Out<typeof FixListItemSchema>, FixListItem>>,
  Expect<Same<Out<typeof FixLoopViewSchema>, FixLoopView>>,
  Expect<Same<Out<typeof FixLoopDetailSchema>, FixLoopDetail>>,
  Expect<Same<Out<typeof FixSummaryAnswer>['loops'], FixLoopSummary>>,
  Expect<Same<Out<typeof FixSummaryAnswer>['loops']['total'], FixLoopFigures>>,
  Expect<Same<Omit<Out<typeof FixSummaryAnswer>, 'since' | 'loops'>, FixSummary>>,
  Expect<Same<Item<Out<typeof FlakyList>['items']>, FlakyView>>,
  Expect<Same<Item<Out<typeof FixBreakersAnswer>['breakers']>, FixBreakerView>>,
  Expect<Same<Item<Out<typeof BreakersAnswer>['breakers']>, BreakerStateView>>,
  Expect<Same<Item<Out<typeof SpendAnswer>['rows']>, SpendRow>>,
  Expect<Same<Item<Out<typeof SpendAnswer>['budgets']>, BudgetLedgerRow>>,
  Expect<Same<Item<Out<typeof IncidentDetail>['linked']>, IncidentFailure>>,
];
