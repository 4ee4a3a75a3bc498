import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { zValidator } from '@hono/zod-validator';
import type { Queue } from 'bullmq';
import { Hono, type ValidationTargets } from 'hono';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import {
  BadCursorError,
  breakerStatesKey,
  CI_EVENTS,
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
  isIgnored,
  listFailures,
  listFixBreakers,
  listFixes,
  listFixLoops,
  listIncidents,
  listFlakyViews,
  normalizeGithubEvent,
  parseBreakerStates,
  PayloadShapeError,
  jobArgs,
  JOBS,
  requestRetry,
  spendByDay,
  TriageStage,
  summarizeFixes,
  summarizeFixLoops,
  type CiEvent,
  type Database,
  type FailureStatus,
  type FixBreakerSettings,
  type Logger,
} from '@pitcrew/core';
import { IngestError } from './errors.ts';
import type { IntakeProducer } from './intake-producer.ts';

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
  /** The same producer the webhook route uses: a replay is a new intake job. */
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
  return z.string().transform((value, ctx) => {
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
  return z.string().transform((value, ctx) => {
    if (DAY.test(value) && !Number.isNaN(Date.parse(value))) return value;
    const relative = beforeNow(value, now);
    if (relative) return relative.toISOString().slice(0, 10);
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a day YYYY-MM-DD or relative like 7d` });
    return z.NEVER;
  });
}

const limit = (fallback: number) => z.coerce.number().int().min(1).max(500).default(fallback);

/** zod validation of one request part; a failure is a 400 `{error: 'bad_request', reason}`. */
function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(target: Target, schema: T) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      const reason = describeIssues(result.error.issues, { root: target });
      throw new IngestError(400, 'bad_request', `invalid ${target}: ${reason}`);
    }
  });
}

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
    if (error instanceof BadCursorError) throw new IngestError(400, 'bad_request', error.message, { cause: error });
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

/**
 * The admin API, mounted at `/api` behind admin auth (see `createApp`). JSON in and out; query,
 * params and bodies validated with zod; every error is `{error, reason}`.
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
 * - `GET /incidents?repo=&since=&limit=` and `GET /incidents/:id` (with its linked failures)
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
 */
export function createAdminApi(deps: AdminApiDeps): Hono {
  const { db, redis, prefix, triage, producer, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const fixBreaker = deps.fixBreaker ?? { threshold: FIX_BREAKER_DEFAULTS.PITCREW_FIX_BREAKER_THRESHOLD, cooldownMs: FIX_BREAKER_DEFAULTS.PITCREW_FIX_BREAKER_COOLDOWN_MS };
  const app = new Hono();

  /** Query parameters of a keyset-paginated list: `since`, `limit` (1-500, default 50), `cursor`. */
  const pageQuery = { since: pointInTime(now).optional(), limit: limit(50), cursor: z.string().min(1).optional() };

  app.get(
    '/failures',
    validate(
      'query',
      z.object({
        repo: z.string().min(1).optional(),
        category: z.string().min(1).optional(),
        status: z.enum(FAILURE_STATUSES).optional(),
        ...pageQuery,
      }),
    ),
    async (c) => c.json(await keysetPage(() => listFailures(db, definedOnly(c.req.valid('query'))))),
  );

  const FailureParams = z.object({ id: z.string().min(1).max(200) });

  app.get('/failures/:id', validate('param', FailureParams), async (c) => {
    const { id } = c.req.valid('param');
    const detail = await getFailureDetail(db, id);
    if (!detail) throw new IngestError(404, 'not_found', `no failure ${id}`);
    return c.json(detail);
  });

  app.post(
    '/failures/:id/retry',
    validate('param', FailureParams),
    validate('json', z.object({ stage: TriageStage.default('classify') })),
    async (c) => {
      const { id } = c.req.valid('param');
      const { stage } = c.req.valid('json');
      const failure = await findFailure(db, id);
      if (!failure) throw new IngestError(404, 'not_found', `no failure ${id}`);
      // A queued failure already has a triage job coming; a second one would race it.
      const attemptBase = failure.status === 'queued' || failure.status === 'running' ? null : await requestRetry(db, id, stage);
      if (attemptBase === null) {
        throw new IngestError(409, 'conflict', `failure ${id} is ${failure.status === 'queued' ? 'queued' : 'being triaged'}; retry once it is triaged or failed`);
      }
      // One job per triage round (the catalog's id rule): two concurrent retries of one round add
      // one job. A finished job of that id (kept for the board) would turn `add` into a no-op, so
      // it goes first.
      const args = jobArgs(JOBS.triage, { v: 1, failureId: id, round: attemptBase });
      const jobId = args[2].jobId;
      const old = await triage.getJob(jobId);
      if (old && ((await old.isCompleted()) || (await old.isFailed()))) await old.remove();
      await triage.add(...args);
      logger.info({ failureId: id, fromStage: stage, attemptBase, jobId }, 'retry requested');
      return c.json({ retried: true, failureId: id, fromStage: stage, attemptBase, jobId }, 202);
    },
  );

  app.post(
    '/deliveries/:id/replay',
    validate('param', z.object({ id: z.string().min(1).max(200) })),
    validate('json', z.object({ waitMs: z.number().int().min(0).max(MAX_REPLAY_WAIT_MS).default(5_000) })),
    async (c) => {
      const { id } = c.req.valid('param');
      const { waitMs } = c.req.valid('json');
      const delivery = await findDelivery(db, id);
      if (!delivery) throw new IngestError(404, 'not_found', `no stored delivery ${id} (only failure deliveries are stored)`);
      if (!(CI_EVENTS as readonly string[]).includes(delivery.event)) {
        throw new IngestError(422, 'not_a_failure', `delivery ${id} is a ${delivery.event} event, not a CI event`);
      }
      let failure;
      try {
        failure = normalizeGithubEvent(delivery.event, delivery.payload);
      } catch (error) {
        if (error instanceof PayloadShapeError) throw new IngestError(422, 'not_a_failure', error.message, { cause: error });
        throw error;
      }
      if (isIgnored(failure)) throw new IngestError(422, 'not_a_failure', `delivery ${id} no longer describes a failure: ${failure.reason}`);
      const existing = await findFailure(db, failure.id);
      // A new delivery id: the original's is remembered as seen for days and would be dropped.
      const replayId = `${id}-replay-${randomBytes(4).toString('hex')}`;
      const intake = await producer.enqueue({
        deliveryId: replayId,
        event: delivery.event as CiEvent,
        action: delivery.action ?? 'completed',
        receivedAt: now(),
        failure,
        payload: delivery.payload,
      });
      logger.info({ replayOf: id, deliveryId: replayId, failureId: failure.id, intake }, 'delivery replayed');
      const deadline = Date.now() + waitMs;
      let recorded = await findDelivery(db, replayId);
      while (!recorded && Date.now() < deadline) {
        await sleep(100);
        recorded = await findDelivery(db, replayId);
      }
      const after = recorded ? await findFailure(db, failure.id) : undefined;
      return c.json(
        {
          replayOf: id,
          deliveryId: replayId,
          failureId: failure.id,
          intake,
          failureExisted: existing !== undefined,
          recorded: recorded ? { outcome: recorded.outcome, failureStatus: after?.status ?? null } : null,
          note: existing
            ? 'the failure already existed: the replay is recorded as a merged delivery and triage does not run again; use POST /api/failures/:id/retry for that'
            : 'a new failure: the worker records it and triages it',
        },
        recorded ? 200 : 202,
      );
    },
  );

  app.get(
    '/spend',
    validate('query', z.object({ since: utcDayOf(now).optional(), until: utcDayOf(now).optional(), repo: z.string().min(1).optional() })),
    async (c) => {
      const q = c.req.valid('query');
      const until = q.until ?? now().toISOString().slice(0, 10);
      const since = q.since ?? new Date(Date.parse(until) - 6 * UNIT_MS.d).toISOString().slice(0, 10);
      if (since > until) throw new IngestError(400, 'bad_request', `since ${since} is after until ${until}`);
      return c.json({ since, until, ...(await spendByDay(db, { since, until, ...(q.repo ? { repo: q.repo } : {}) })) });
    },
  );

  app.get(
    '/incidents',
    validate('query', z.object({ repo: z.string().min(1).optional(), since: pointInTime(now).optional(), limit: limit(50) })),
    async (c) => {
      const q = c.req.valid('query');
      const items = await listIncidents(db, { limit: q.limit, ...(q.repo ? { repo: q.repo } : {}), ...(q.since ? { since: q.since } : {}) });
      return c.json({ items });
    },
  );

  app.get('/incidents/:id', validate('param', z.object({ id: z.string().regex(/^\d{1,18}$/, 'an incident id is a number') })), async (c) => {
    const { id } = c.req.valid('param');
    const incident = await getIncident(db, id);
    if (!incident) throw new IngestError(404, 'not_found', `no incident ${id}`);
    return c.json(incident);
  });

  app.get(
    '/fixes',
    validate(
      'query',
      z.object({
        status: z.enum(FIX_ATTEMPT_STATUSES).optional(),
        fixer: z.string().min(1).max(100).optional(),
        repo: z.string().min(1).optional(),
        ...pageQuery,
      }),
    ),
    async (c) => c.json(await keysetPage(() => listFixes(db, definedOnly(c.req.valid('query'))))),
  );

  // Before `/fixes/:id`, which would take `summary` for an id.
  app.get(
    '/fixes/summary',
    validate('query', z.object({ since: pointInTime(now).optional(), repo: z.string().min(1).optional(), fixer: z.string().min(1).max(100).optional() })),
    async (c) => {
      const q = c.req.valid('query');
      const since = q.since ?? new Date(now().getTime() - 7 * UNIT_MS.d);
      const filter = { since, ...(q.repo ? { repo: q.repo } : {}), ...(q.fixer ? { fixer: q.fixer } : {}) };
      const [summary, loops] = await Promise.all([summarizeFixes(db, filter), summarizeFixLoops(db, filter)]);
      return c.json({ since: since.toISOString(), ...summary, loops });
    },
  );

  app.get('/fixes/:id', validate('param', z.object({ id: z.string().regex(/^\d{1,18}$/, 'a fix attempt id is a number') })), async (c) => {
    const { id } = c.req.valid('param');
    const fix = await getFix(db, id);
    if (!fix) throw new IngestError(404, 'not_found', `no fix attempt ${id}`);
    return c.json(fix);
  });

  app.get(
    '/fix-loops',
    validate(
      'query',
      z.object({
        status: z.enum(FIX_LOOP_STATUSES).optional(),
        fixer: z.string().min(1).max(100).optional(),
        repo: z.string().min(1).optional(),
        ...pageQuery,
      }),
    ),
    async (c) => c.json(await keysetPage(() => listFixLoops(db, definedOnly(c.req.valid('query'))))),
  );

  app.get('/fix-loops/:id', validate('param', FailureParams), async (c) => {
    const { id } = c.req.valid('param');
    const loop = await getFixLoop(db, id);
    if (!loop) throw new IngestError(404, 'not_found', `no fix loop ${id}`);
    return c.json(loop);
  });

  app.get(
    '/flaky',
    validate('query', z.object({ repo: z.string().regex(/^[^/]+\/[^/]+$/, 'repo is owner/repo').optional(), tests: z.stringbool().optional(), limit: limit(100) })),
    async (c) => {
      const q = c.req.valid('query');
      return c.json({ items: await listFlakyViews(db, { limit: q.limit, ...(q.repo ? { repository: q.repo } : {}), ...(q.tests !== undefined ? { tests: q.tests } : {}) }) });
    },
  );

  app.get('/fix-breakers', async (c) => {
    const breakers = await listFixBreakers(db, fixBreaker, now());
    return c.json({ ...fixBreaker, breakers, open: breakers.filter((b) => b.state === 'open').length });
  });

  app.get('/breakers', async (c) => {
    const key = breakerStatesKey(prefix);
    const hash = await redis.hgetall(key);
    const { live, stale } = parseBreakerStates(hash, now());
    if (stale.length > 0) {
      const args = stale.flatMap((field) => [field, hash[field]!]);
      await redis.eval(DELETE_IF_UNCHANGED, 1, key, ...args).catch((error) => logger.warn({ err: error }, 'could not remove expired breaker states'));
    }
    return c.json({
      breakers: live,
      workers: new Set(live.map((b) => b.worker)).size,
      open: live.filter((b) => b.state !== 'closed').length,
    });
  });

  return app;
}
