import { setTimeout as sleep } from 'node:timers/promises';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import {
  BadCursorError,
  breakerStatesKey,
  describeIssues,
  findDelivery,
  findFailure,
  FIX_ATTEMPT_STATUSES,
  FIX_LOOP_STATUSES,
  FixBreakerEnv,
  getFailureDetail,
  getFix,
  getFixLoop,
  getIncident,
  listFailures,
  listFixBreakers,
  listFixes,
  listFixLoops,
  listIncidents,
  listFlakyViews,
  parseBreakerStates,
  spendByDay,
  summarizeFixes,
  summarizeFixLoops,
  TriageStage,
  type Database,
  type FailureStatus,
  type FixBreakerSettings,
  type Logger,
} from '@pitcrew/core';
import type { IntakeProducer } from '@pitcrew/ingest';
import {
  BreakersAnswer,
  ErrorAnswer,
  FailureDetailSchema,
  FailurePage,
  FixBreakersAnswer,
  FixListItemSchema,
  FixLoopDetailSchema,
  FixLoopPage,
  FixPage,
  FixSummaryAnswer,
  FlakyList,
  IncidentDetail,
  IncidentList,
  ReplayAnswer,
  RetryAnswer,
  SpendAnswer,
} from './api-schemas.ts';
import { replayDelivery, retryFailure } from './actions.ts';
import { ConsoleError } from './errors.ts';

/** Path the admin API is mounted under. */
export const API_PATH = '/api';

/** Dependencies of {@link createAdminApi}; `main.ts` builds the real ones, tests their own. */
export interface AdminApiDeps {
  db: Kysely<Database>;
  /** Reads the breaker states workers publish (`<prefix>:breakers`). */
  redis: Redis;
  /** BullMQ prefix. */
  prefix: string;
  /** The `triage` queue: a retry adds a job to it. */
  triage: Queue;
  /** The producer ingest's webhook route uses (`createIntakeProducer`): a replay is a new intake job. */
  producer: IntakeProducer;
  logger: Logger;
  /**
   * The fix-loop breaker's settings (`PITCREW_FIX_BREAKER_THRESHOLD`, `PITCREW_FIX_BREAKER_COOLDOWN_MS`),
   * which must be the workers' for `GET /fix-breakers` to tell what they decide; default 3 loops, 1 h.
   */
  fixBreaker?: FixBreakerSettings;
  now?: () => Date;
}

/** {@link AdminApiDeps.fixBreaker} by default: the schema's defaults. */
const FIX_BREAKER_DEFAULTS = FixBreakerEnv.parse({});

const FAILURE_STATUSES = ['queued', 'running', 'triaged', 'failed'] as const satisfies readonly FailureStatus[];
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const RELATIVE = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90m`, `24h`, `7d` before `now`; `undefined` for any other text. */
function beforeNow(value: string, now: () => Date): Date | undefined {
  const relative = RELATIVE.exec(value);
  return relative ? new Date(now().getTime() - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]) : undefined;
}

/**
 * A point in time: ISO 8601 (`2026-11-24`, `2026-11-24T10:00:00Z`) or relative to now
 * (`90m`, `24h`, `7d`).
 */
function pointInTime(now: () => Date) {
  return z
    .string()
    .openapi({ description: 'ISO 8601 (`2026-11-24`, `2026-11-24T10:00:00Z`) or relative to now (`90m`, `24h`, `7d`)', example: '24h' })
    .transform((value, ctx) => {
      const relative = beforeNow(value, now);
      if (relative) return relative;
      const ms = Date.parse(value);
      if (Number.isNaN(ms)) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is neither ISO 8601 nor relative like 24h or 7d` });
        return z.NEVER;
      }
      return new Date(ms);
    });
}

/** A UTC day `YYYY-MM-DD`, or a relative time (`7d`) turned into its UTC day. */
function utcDayOf(now: () => Date) {
  return z
    .string()
    .openapi({ description: 'a UTC day `YYYY-MM-DD`, or relative like `7d`', example: '2026-01-10' })
    .transform((value, ctx) => {
      if (DAY.test(value) && !Number.isNaN(Date.parse(value))) return value;
      const relative = beforeNow(value, now);
      if (relative) return relative.toISOString().slice(0, 10);
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a day YYYY-MM-DD or relative like 7d` });
      return z.NEVER;
    });
}

const limit = (fallback: number) => z.coerce.number().int().min(1).max(500).default(fallback).openapi({ type: 'integer', minimum: 1, maximum: 500, default: fallback, description: 'rows, 1-500' });

/** Keys whose value may be `undefined`. */
type OptionalKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T];

/**
 * A validated query without its `undefined` values, as the list filters take them (optional
 * properties, `exactOptionalPropertyTypes`): `{a: 1, b: undefined}` → `{a: 1}`.
 */
function definedOnly<T extends object>(query: T): Omit<T, OptionalKeys<T>> & { [K in OptionalKeys<T>]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined)) as Omit<T, OptionalKeys<T>> & {
    [K in OptionalKeys<T>]?: Exclude<T[K], undefined>;
  };
}

/** Reads a keyset page; a cursor the API did not produce is a 400. */
async function keysetPage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof BadCursorError) throw new ConsoleError(400, 'bad_request', error.message, { cause: error });
    throw error;
  }
}

/** Compare-and-delete of expired breaker fields: a field a worker rewrote meanwhile stays. */
const DELETE_IF_UNCHANGED = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then n = n + redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return n`;

/** Longest a replay waits for the intake job to record the delivery, ms. */
const MAX_REPLAY_WAIT_MS = 30_000;

/** `{error, reason}` answers of a route, by status. */
function errors(...statuses: (400 | 404 | 409 | 422)[]) {
  const described = { 400: 'bad query, parameters or body', 404: 'unknown id', 409: 'conflict with the current state', 422: 'not a failure (anymore)' } as const;
  return Object.fromEntries(statuses.map((s) => [s, { description: described[s], content: { 'application/json': { schema: ErrorAnswer } } }])) as Record<
    (typeof statuses)[number],
    { description: string; content: { 'application/json': { schema: typeof ErrorAnswer } } }
  >;
}

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const FailureParams = z.object({ id: z.string().min(1).max(200).openapi({ description: 'failure id, e.g. `gh-job-123`' }) });
const NumericId = (what: string) => z.object({ id: z.string().regex(/^\d{1,18}$/, `${what} id is a number`).openapi({ description: `${what} id (a number)` }) });

/**
 * The OpenAPI document's top (`info`, `servers`); the paths come from the routes. Served by
 * `createConsoleApp` at `/api/openapi.json`.
 */
export const OPENAPI_INFO = {
  openapi: '3.1.0' as const,
  info: {
    title: 'pitcrew admin API',
    version: '1',
    description:
      'Failures, incidents, spend, the flaky registry, fix attempts and loops, and breakers of a pitcrew installation. ' +
      'Authenticate with `Authorization: Bearer <PITCREW_ADMIN_TOKEN>` (or a console session for reads). Every error is `{error, reason}`.',
  },
  servers: [{ url: API_PATH }],
  security: [{ adminToken: [] }],
};

/**
 * The admin API, mounted at `/api` by `createConsoleApp` behind admin auth. JSON in and out;
 * query, params and bodies validated with zod (`@hono/zod-openapi` routes, which are also the
 * OpenAPI document); every error is `{error, reason}`.
 *
 * - `GET /failures?repo=&category=&status=&since=&limit=&cursor=` → `{items, nextCursor}`,
 *   newest first, keyset-paginated (`repo` is `owner/repo` or a bare repository name, `since` ISO
 *   8601 or relative like `24h`, `limit` 1-500, default 50)
 * - `GET /failures/:id` → the failure, its deliveries, executions (stage, attempt, runner, model,
 *   status, timings in ms, tokens in/out, cost in USD), totals, incident, publications and fix
 *   attempts (`fixAttempts`, first iteration first, as `GET /fixes/:id` without the failure); 404
 *   when unknown
 * - `POST /failures/:id/retry` `{stage?: classify|execute|summarize}` (default classify) → 202
 *   `{retried, failureId, fromStage, attemptBase, jobId}`: earlier stages keep their results,
 *   the stage and later ones run again as new attempts on a worker; 409 while queued or running
 * - `POST /deliveries/:id/replay` `{waitMs?}` → the stored payload as a new intake job under a
 *   new delivery id (`<id>-replay-<hex>`); idempotent by failure id, so an existing failure gets
 *   a `merged` delivery and is not triaged again (use retry for that). Answers 200 with what the
 *   worker recorded, or 202 when it had not recorded it within `waitMs` (default 5,000 ms)
 * - `GET /spend?since=&until=&repo=` → USD, tokens in/out and executions per UTC day and
 *   repository (days inclusive, default the last 7), with totals and the budget ledger
 * - `GET /incidents?repo=&since=&limit=&cursor=` → `{items, nextCursor}` and `GET /incidents/:id` (with its linked failures)
 * - `GET /flaky?repo=owner/repo&tests=false&limit=` → `{items}`: the flaky registry, most flaky
 *   first (per (repository, workflow, job), and per failing test unless `tests=false`): score
 *   (occurrences / resolved failures seen), occurrences, observations, first and last seen
 * - `GET /breakers` → `{breakers: [{worker, runner, state, since, updatedAt}]}` as the live
 *   workers publish them (see `@pitcrew/core` `breaker-states.ts`)
 * - `GET /fixes?status=&fixer=&repo=&since=&limit=&cursor=` → `{items, nextCursor}`: fix attempts,
 *   newest started first, keyset-paginated like `/failures`, each with its failure's owner, repo,
 *   branch and category (`failure`); without the verification output
 * - `GET /fixes/summary?since=&repo=&fixer=` → `{since, attempts, byStatus, byGuardRule, proposed,
 *   tokensIn, tokensOut, costUsd, usdPerProposedFix, loops}` over the attempts started since `since`
 *   (default `7d`); USD per proposed fix is every attempt's USD over the fixes proposed, `null`
 *   when none was. `loops` = `{total, groups}` over the loops started since `since` (`fixer` =
 *   their latest iteration's): loops, counts by status, `ciPassed`, iterations, USD, `mergeRate`
 *   (merged / (merged + closed)), `iterationsPerMergedFix` and `usdPerMergedFix` (every loop's
 *   iterations and USD over the loops merged), in total and per fixer, model and category
 * - `GET /fix-loops?status=&repo=&fixer=&since=&limit=&cursor=` → `{items, nextCursor}`: fix loops
 *   (one per failure fixed: iterations, status, fixer, model, CI verdict, PR and its outcome,
 *   tokens, USD), newest started first, keyset-paginated like `/failures`
 * - `GET /fix-loops/:id` → one loop with its iterations (`attempts`, first first, as
 *   `GET /fixes/:id` without the failure); 404 when unknown
 * - `GET /fix-breakers` → `{threshold, cooldownMs, breakers: [{owner, repo, exhaustedInARow,
 *   threshold, state, until, lastEndedAt}], open}`: the per-repository fix-loop breaker of every
 *   repository with loops (`fixBreakerState` of `@pitcrew/core`)
 * - `GET /fixes/:id` → one attempt with its verification (command, exit code, ms, output tail),
 *   guard verdict, pull request, tokens, USD and failure; 404 when unknown
 *
 * Texts from logs and fixers (summaries, errors, outputs, the guard's detail, verify commands and
 * output) leave through the `admin-api` outgoing boundary, which redacts secrets.
 *
 * @returns the routes as one chained `OpenAPIHono`, whose type {@link AdminApi} types the CLI's
 *   client (`hc<AdminApi>`)
 */
export function createAdminApi(deps: AdminApiDeps) {
  const { db, redis, prefix, triage, producer, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const fixBreaker = deps.fixBreaker ?? { threshold: FIX_BREAKER_DEFAULTS.PITCREW_FIX_BREAKER_THRESHOLD, cooldownMs: FIX_BREAKER_DEFAULTS.PITCREW_FIX_BREAKER_COOLDOWN_MS };

  /** Query parameters of a keyset-paginated list: `since`, `limit` (1-500, default 50), `cursor`. */
  const pageQuery = {
    since: pointInTime(now).optional(),
    limit: limit(50),
    cursor: z.string().min(1).optional().openapi({ description: '`nextCursor` of the previous page' }),
  };
  const repo = z.string().min(1).optional().openapi({ description: '`owner/repo` or a bare repository name' });

  const app = new OpenAPIHono({
    // A failed validation is a 400 `{error: 'bad_request', reason}` naming the part and the fields.
    defaultHook: (result) => {
      if (!result.success) {
        const reason = describeIssues(result.error.issues, { root: result.target });
        throw new ConsoleError(400, 'bad_request', `invalid ${result.target}: ${reason}`);
      }
    },
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'adminToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'PITCREW_ADMIN_TOKEN; browsers signed in at /login send their session cookie instead (writes then need X-CSRF-Token)',
  });

  return app
    .openapi(
      createRoute({
        method: 'get',
        path: '/failures',
        tags: ['failures'],
        summary: 'List failures, newest first (keyset pages)',
        request: { query: z.object({ repo, category: z.string().min(1).optional(), status: z.enum(FAILURE_STATUSES).optional(), ...pageQuery }) },
        responses: { 200: json(FailurePage, 'a page of failures'), ...errors(400) },
      }),
      async (c) => c.json(await keysetPage(() => listFailures(db, definedOnly(c.req.valid('query')))), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/failures/{id}',
        tags: ['failures'],
        summary: 'One failure with its deliveries, executions, totals, incident, publications and fix attempts',
        request: { params: FailureParams },
        responses: { 200: json(FailureDetailSchema, 'the failure'), ...errors(400, 404) },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const detail = await getFailureDetail(db, id);
        if (!detail) throw new ConsoleError(404, 'not_found', `no failure ${id}`);
        return c.json(detail, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/failures/{id}/retry',
        tags: ['failures'],
        summary: 'Run a stage and the later ones again, as new attempts on a worker',
        request: {
          params: FailureParams,
          body: { required: false, content: { 'application/json': { schema: z.object({ stage: TriageStage.default('classify').openapi({ description: 'first stage to run again' }) }) } } },
        },
        responses: { 202: json(RetryAnswer, 'the triage job was added'), ...errors(400, 404, 409) },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        // A POST without a body retries from classify (the body is optional).
        const stage = c.req.valid('json')?.stage ?? 'classify';
        const result = await retryFailure({ db, triage, logger }, id, stage, 'api');
        if (result.outcome === 'not_found') throw new ConsoleError(404, 'not_found', `no failure ${id}`);
        if (result.outcome === 'conflict') throw new ConsoleError(409, 'conflict', result.reason);
        const { attemptBase, jobId } = result;
        return c.json({ retried: true as const, failureId: id, fromStage: stage, attemptBase, jobId }, 202);
      },
    )
    .openapi(
      createRoute({
        method: 'post',
        path: '/deliveries/{id}/replay',
        tags: ['deliveries'],
        summary: 'Replay a stored delivery as a new intake job (idempotent by failure id)',
        request: {
          params: z.object({ id: z.string().min(1).max(200).openapi({ description: 'the `X-GitHub-Delivery` id' }) }),
          body: {
            required: false,
            content: {
              'application/json': {
                schema: z.object({ waitMs: z.number().int().min(0).max(MAX_REPLAY_WAIT_MS).default(5_000).openapi({ description: 'ms to wait for the worker to record the replay' }) }),
              },
            },
          },
        },
        responses: {
          200: json(ReplayAnswer, 'the worker recorded the replay'),
          202: json(ReplayAnswer, 'queued; not recorded within waitMs'),
          ...errors(400, 404, 422),
        },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const waitMs = c.req.valid('json')?.waitMs ?? 5_000;
        const result = await replayDelivery({ db, producer, logger, now }, id, 'api');
        if (result.outcome === 'not_found') throw new ConsoleError(404, 'not_found', `no stored delivery ${id} (only failure deliveries are stored)`);
        if (result.outcome === 'not_a_failure') throw new ConsoleError(422, 'not_a_failure', `delivery ${id}: ${result.reason}`);
        const { deliveryId: replayId, intake } = result;
        const existing = result.failureExisted;
        const failure = { id: result.failureId };
        const deadline = Date.now() + waitMs;
        let recorded = await findDelivery(db, replayId);
        while (!recorded && Date.now() < deadline) {
          await sleep(100);
          recorded = await findDelivery(db, replayId);
        }
        const after = recorded ? await findFailure(db, failure.id) : undefined;
        const answer = {
          replayOf: id,
          deliveryId: replayId,
          failureId: failure.id,
          intake,
          failureExisted: existing,
          recorded: recorded ? { outcome: recorded.outcome, failureStatus: after?.status ?? null } : null,
          note: existing
            ? 'the failure already existed: the replay is recorded as a merged delivery and triage does not run again; use POST /api/failures/:id/retry for that'
            : 'a new failure: the worker records it and triages it',
        };
        return recorded ? c.json(answer, 200) : c.json(answer, 202);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/spend',
        tags: ['spend'],
        summary: 'USD, tokens and executions per UTC day and repository, with the budget ledger',
        request: { query: z.object({ since: utcDayOf(now).optional(), until: utcDayOf(now).optional(), repo }) },
        responses: { 200: json(SpendAnswer, 'spend per day and repository (days inclusive, default the last 7)'), ...errors(400) },
      }),
      async (c) => {
        const q = c.req.valid('query');
        const until = q.until ?? now().toISOString().slice(0, 10);
        const since = q.since ?? new Date(Date.parse(until) - 6 * UNIT_MS.d).toISOString().slice(0, 10);
        if (since > until) throw new ConsoleError(400, 'bad_request', `since ${since} is after until ${until}`);
        return c.json({ since, until, ...(await spendByDay(db, { since, until, ...(q.repo ? { repo: q.repo } : {}) })) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/incidents',
        tags: ['incidents'],
        summary: 'Incidents, last seen first (keyset pages)',
        request: { query: z.object({ repo, ...pageQuery }) },
        responses: { 200: json(IncidentList, 'incidents'), ...errors(400) },
      }),
      async (c) => c.json(await keysetPage(() => listIncidents(db, definedOnly(c.req.valid('query')))), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/incidents/{id}',
        tags: ['incidents'],
        summary: 'One incident with its linked failures, leader first',
        request: { params: NumericId('an incident') },
        responses: { 200: json(IncidentDetail, 'the incident'), ...errors(400, 404) },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const incident = await getIncident(db, id);
        if (!incident) throw new ConsoleError(404, 'not_found', `no incident ${id}`);
        return c.json(incident, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/fixes',
        tags: ['fixes'],
        summary: 'Fix attempts, newest started first (keyset pages)',
        request: { query: z.object({ status: z.enum(FIX_ATTEMPT_STATUSES).optional(), fixer: z.string().min(1).max(100).optional(), repo, ...pageQuery }) },
        responses: { 200: json(FixPage, 'a page of fix attempts'), ...errors(400) },
      }),
      async (c) => c.json(await keysetPage(() => listFixes(db, definedOnly(c.req.valid('query')))), 200),
    )
    // Before `/fixes/{id}`, which would take `summary` for an id.
    .openapi(
      createRoute({
        method: 'get',
        path: '/fixes/summary',
        tags: ['fixes'],
        summary: 'Fix attempts and loops of a window: by status and guard rule, merge rate, USD per merged fix',
        request: { query: z.object({ since: pointInTime(now).optional(), repo, fixer: z.string().min(1).max(100).optional() }) },
        responses: { 200: json(FixSummaryAnswer, 'the summary (default window: 7d)'), ...errors(400) },
      }),
      async (c) => {
        const q = c.req.valid('query');
        const since = q.since ?? new Date(now().getTime() - 7 * UNIT_MS.d);
        const filter = { since, ...(q.repo ? { repo: q.repo } : {}), ...(q.fixer ? { fixer: q.fixer } : {}) };
        const [summary, loops] = await Promise.all([summarizeFixes(db, filter), summarizeFixLoops(db, filter)]);
        return c.json({ since: since.toISOString(), ...summary, loops }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/fixes/{id}',
        tags: ['fixes'],
        summary: 'One fix attempt with its verification, guard verdict, pull request and failure',
        request: { params: NumericId('a fix attempt') },
        responses: { 200: json(FixListItemSchema, 'the fix attempt'), ...errors(400, 404) },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const fix = await getFix(db, id);
        if (!fix) throw new ConsoleError(404, 'not_found', `no fix attempt ${id}`);
        return c.json(fix, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/fix-loops',
        tags: ['fixes'],
        summary: 'Fix loops, newest started first (keyset pages)',
        request: { query: z.object({ status: z.enum(FIX_LOOP_STATUSES).optional(), fixer: z.string().min(1).max(100).optional(), repo, ...pageQuery }) },
        responses: { 200: json(FixLoopPage, 'a page of fix loops'), ...errors(400) },
      }),
      async (c) => c.json(await keysetPage(() => listFixLoops(db, definedOnly(c.req.valid('query')))), 200),
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/fix-loops/{id}',
        tags: ['fixes'],
        summary: 'One fix loop with its iterations',
        request: { params: FailureParams },
        responses: { 200: json(FixLoopDetailSchema, 'the loop'), ...errors(400, 404) },
      }),
      async (c) => {
        const { id } = c.req.valid('param');
        const loop = await getFixLoop(db, id);
        if (!loop) throw new ConsoleError(404, 'not_found', `no fix loop ${id}`);
        return c.json(loop, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/flaky',
        tags: ['flaky'],
        summary: 'The flaky registry, most flaky first',
        request: {
          query: z.object({
            repo: z.string().regex(/^[^/]+\/[^/]+$/, 'repo is owner/repo').optional().openapi({ description: '`owner/repo`' }),
            tests: z.stringbool().optional().openapi({ type: 'boolean', description: 'per failing test too (default true)' }),
            limit: limit(100),
          }),
        },
        responses: { 200: json(FlakyList, 'flaky jobs and tests'), ...errors(400) },
      }),
      async (c) => {
        const q = c.req.valid('query');
        return c.json({ items: await listFlakyViews(db, { limit: q.limit, ...(q.repo ? { repository: q.repo } : {}), ...(q.tests !== undefined ? { tests: q.tests } : {}) }) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/fix-breakers',
        tags: ['breakers'],
        summary: 'The fix-loop breaker of every repository with loops',
        responses: { 200: json(FixBreakersAnswer, 'the breakers, with the settings they decide with') },
      }),
      async (c) => {
        const breakers = await listFixBreakers(db, fixBreaker, now());
        return c.json({ ...fixBreaker, breakers, open: breakers.filter((b) => b.state === 'open').length }, 200);
      },
    )
    .openapi(
      createRoute({
        method: 'get',
        path: '/breakers',
        tags: ['breakers'],
        summary: "The runner breakers live workers publish",
        responses: { 200: json(BreakersAnswer, 'the live breakers') },
      }),
      async (c) => {
        const key = breakerStatesKey(prefix);
        const hash = await redis.hgetall(key);
        const { live, stale } = parseBreakerStates(hash, now());
        if (stale.length > 0) {
          const args = stale.flatMap((field) => [field, hash[field]!]);
          await redis.eval(DELETE_IF_UNCHANGED, 1, key, ...args).catch((error) => logger.warn({ err: error }, 'could not remove expired breaker states'));
        }
        return c.json(
          {
            breakers: live,
            workers: new Set(live.map((b) => b.worker)).size,
            open: live.filter((b) => b.state !== 'closed').length,
          },
          200,
        );
      },
    );
}

/** The admin API's type: routes, inputs and answers; the CLI's client is `hc<AdminApi>`. */
export type AdminApi = ReturnType<typeof createAdminApi>;
