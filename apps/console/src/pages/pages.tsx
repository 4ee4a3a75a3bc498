import type { Queue } from 'bullmq';
import { Hono, type Context, type Env, type MiddlewareHandler } from 'hono';
import type { BlankEnv } from 'hono/types';
import type { Child } from 'hono/jsx';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import {
  BadCursorError,
  breakerStatesKey,
  CATEGORIES,
  describeIssues,
  FAILURE_CONCLUSIONS,
  FixBreakerEnv,
  getFailureDetail,
  getIncident,
  listFailures,
  listFixBreakers,
  listFlakyViews,
  listIncidents,
  listJobHistory,
  parseBreakerStates,
  spendByDay,
  TriageStage,
  type Database,
  type FixBreakerSettings,
  type Logger,
} from '@pitcrew/core';
import type { IntakeProducer } from '@pitcrew/ingest';
import { replayDelivery, retryFailure } from '../actions.ts';
import { FailureDetailView } from './failure-detail.tsx';
import { FailureFilters, failuresQuery, FailureTable, type FailureFilterForm } from './failure-list.tsx';
import { FixBreakers, RunnerBreakers } from './breakers.tsx';
import { FlakyTable } from './flaky.tsx';
import { IncidentDetailView, IncidentTable } from './incidents.tsx';
import { Layout, Pager, RepoFilter } from './layout.tsx';
import { BudgetLedger, SpendByRepository, SpendChart } from './spend.tsx';

/**
 * CSRF protection of the console's forms, from the session (`session.ts` of the console app): a
 * hidden field carrying the session's token, and a middleware that refuses a state-changing
 * request whose token is missing or wrong (403) before the handler runs.
 */
export interface PagesCsrf<E extends Env = BlankEnv> {
  /** The hidden `<input>` with the request's session token, put in every POST form. */
  field(c: Context<E>): Child;
  /** Runs before every POST handler of the pages. */
  verify: MiddlewareHandler<E>;
}

/** Dependencies of {@link createPages}; the console's `main.ts` builds the real ones, tests their own. */
export interface PagesDeps<E extends Env = BlankEnv> {
  db: Kysely<Database>;
  /** Reads the runner breaker states the workers publish (`<prefix>:breakers`). */
  redis: Redis;
  /** BullMQ prefix. */
  prefix: string;
  /** The `triage` queue: a retry adds a job to it. */
  triage: Queue;
  /** The webhook route's producer: a replay is a new intake job. */
  producer: IntakeProducer;
  csrf: PagesCsrf<E>;
  logger: Logger;
  /** The workers' fix-loop breaker settings (`PITCREW_FIX_BREAKER_*`); default the schema's (3 loops, 1 h). */
  fixBreaker?: FixBreakerSettings;
  /** Rows per page of the failures and incidents lists, default {@link FAILURES_PER_PAGE} and {@link INCIDENTS_PER_PAGE}. */
  pageSize?: number;
  now?: () => Date;
}

const FIX_BREAKER_DEFAULTS = FixBreakerEnv.parse({});
const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Failures per page of the list. */
export const FAILURES_PER_PAGE = 25;
/** Incidents per page of the incidents list. */
export const INCIDENTS_PER_PAGE = 50;
/** Rows of the flaky registry shown, most flaky first (a ranking, not paged). */
export const FLAKY_SHOWN = 200;

const blankOr = <T extends z.ZodType>(schema: T) => z.union([z.literal(''), schema]).default('');
const day = z.string().regex(DAY, 'a day is YYYY-MM-DD').refine((v) => !Number.isNaN(Date.parse(v)), 'not a calendar day');

/** The list's query: each filter blank (any) or one value the list knows. */
const FailureQuery = z.object({
  repo: z.string().max(200).default(''),
  category: blankOr(z.enum(CATEGORIES)),
  conclusion: blankOr(z.enum(FAILURE_CONCLUSIONS)),
  resolution: blankOr(z.enum(['open', 'resolved'])),
  status: blankOr(z.enum(['queued', 'running', 'triaged', 'failed'])),
  since: blankOr(day),
  until: blankOr(day),
  cursor: z.string().max(500).optional(),
});

const IncidentQuery = z.object({
  repo: z.string().max(200).default(''),
  cursor: z.string().max(500).optional(),
});

/** The notices a redirect after a POST may ask a failure page to show (`?notice=`): fixed texts, never text from the URL. */
const NOTICES = {
  retried: 'Retry queued: a worker runs the stage again as a new attempt; reload to follow it.',
  replayed: 'Delivery replayed as a new intake job: it is recorded as a merged delivery and the failure is not triaged again.',
  'retry-refused': 'Retry refused: the failure is queued or being triaged; retry once it is triaged or failed.',
} as const;

const Notice = ({ error, children }: { error?: boolean; children: Child }) => (
  <p class={error ? 'notice error' : 'notice'} role={error ? 'alert' : 'status'}>
    {children}
  </p>
);

/**
 * The console's server-rendered pages (Hono JSX, no client script), mounted at `/` behind the
 * console's session sign-in:
 *
 * - `GET /failures?repo=&category=&conclusion=&resolution=open|resolved&status=&since=&until=&cursor=`:
 *   failures newest first, 25 a page, keyset-paginated (`listFailures`); `since`/`until` UTC days, inclusive
 * - `GET /failures/:id`: summary, excerpt with log line numbers, diagnosis and plan, the stage
 *   timeline (tokens in/out, USD, ms), fix attempts and PRs, incident, resolution (time to green),
 *   this job's recent fails and passes, deliveries and publications, and the retry and replay forms
 * - `POST /failures/:id/retry` (form `stage`), `POST /deliveries/:id/replay`: CSRF-checked
 *   (`deps.csrf.verify`), the admin API's operations ({@link retryFailure}, {@link replayDelivery}),
 *   then 303 to the failure page with a notice
 * - `GET /incidents?repo=&cursor=` (keyset pages), `GET /incidents/:id`, `GET /flaky?repo=`, `GET /spend?since=&until=&repo=` (USD per
 *   day and repository, SVG), `GET /breakers` (runner breakers from Redis, fix-loop breakers)
 *
 * Bad query parameters render the page with the reason and status 400; an unknown id is a 404
 * page. Every text from logs and payloads is rendered as JSX text (escaped), never as HTML; the
 * admin read queries pass it through the outgoing boundary (secrets redacted) first.
 */
export function createPages<E extends Env = BlankEnv>(deps: PagesDeps<E>): Hono<E> {
  const { db, csrf } = deps;
  const now = deps.now ?? (() => new Date());
  const fixBreaker = deps.fixBreaker ?? { threshold: FIX_BREAKER_DEFAULTS.PITCREW_FIX_BREAKER_THRESHOLD, cooldownMs: FIX_BREAKER_DEFAULTS.PITCREW_FIX_BREAKER_COOLDOWN_MS };
  const app = new Hono<E>();
  const page = (c: Context<E>, title: string, section: string, body: Child, status: 200 | 400 | 404 | 422 = 200, notice?: Child) =>
    c.html(
      <Layout title={title} section={section} notice={notice} signOut={csrf.field(c)}>
        {body}
      </Layout>,
      status,
    );
  const notFound = (c: Context<E>, what: string, section: string) => page(c, 'Not found', section, <p>{`There is no ${what}.`}</p>, 404);

  app.get('/', (c) => c.redirect('/failures', 302));

  app.get('/failures', async (c) => {
    const parsed = FailureQuery.safeParse(c.req.query());
    const empty: FailureFilterForm = { repo: '', category: '', conclusion: '', resolution: '', status: '', since: '', until: '' };
    if (!parsed.success) {
      const reason = describeIssues(parsed.error.issues, { root: 'query' });
      return page(c, 'Failures', '/failures', <FailureFilters form={empty} />, 400, <Notice error>{`Bad filter: ${reason}`}</Notice>);
    }
    const { cursor, ...form } = parsed.data;
    if (form.since && form.until && form.since > form.until) {
      return page(c, 'Failures', '/failures', <FailureFilters form={form} />, 400, <Notice error>{`Received from ${form.since} is after ${form.until}.`}</Notice>);
    }
    let result;
    try {
      result = await listFailures(db, {
        limit: deps.pageSize ?? FAILURES_PER_PAGE,
        ...(form.repo.trim() ? { repo: form.repo.trim() } : {}),
        ...(form.category ? { category: form.category } : {}),
        ...(form.conclusion ? { conclusion: form.conclusion } : {}),
        ...(form.resolution ? { resolution: form.resolution } : {}),
        ...(form.status ? { status: form.status } : {}),
        ...(form.since ? { since: new Date(`${form.since}T00:00:00Z`) } : {}),
        ...(form.until ? { until: new Date(Date.parse(`${form.until}T00:00:00Z`) + 86_400_000) } : {}),
        ...(cursor ? { cursor } : {}),
      });
    } catch (error) {
      if (error instanceof BadCursorError) return page(c, 'Failures', '/failures', <FailureFilters form={form} />, 400, <Notice error>{error.message}</Notice>);
      throw error;
    }
    return page(
      c,
      'Failures',
      '/failures',
      <>
        <FailureFilters form={form} />
        <FailureTable items={result.items} />
        <Pager first={cursor ? `/failures${failuresQuery(form)}` : null} next={result.nextCursor ? `/failures${failuresQuery(form, result.nextCursor)}` : null} />
      </>,
    );
  });

  app.get('/failures/:id', async (c) => {
    const id = c.req.param('id');
    const detail = id.length <= 200 ? await getFailureDetail(db, id) : undefined;
    if (!detail) return notFound(c, `failure ${id}`, '/failures');
    const history = await listJobHistory(db, id, 20);
    const code = c.req.query('notice');
    const notice = code && code in NOTICES ? <Notice error={code.endsWith('refused')}>{NOTICES[code as keyof typeof NOTICES]}</Notice> : undefined;
    const title = `${detail.failure.jobName ?? detail.failure.workflowName ?? 'Failure'} failed in ${detail.failure.owner}/${detail.failure.repo}`;
    return page(c, title, '/failures', <FailureDetailView detail={detail} history={history} csrf={csrf.field(c)} />, 200, notice);
  });

  // The CSRF check runs before the handlers of both forms.
  for (const path of ['/failures/:id/retry', '/deliveries/:id/replay']) app.post(path, csrf.verify);

  app.post('/failures/:id/retry', async (c) => {
    const id = c.req.param('id');
    const body = await c.req.parseBody();
    const stage = TriageStage.safeParse(body.stage ?? 'classify');
    if (!stage.success) return page(c, 'Retry', '/failures', <p>{`The stage must be one of ${TriageStage.options.join(', ')}.`}</p>, 400);
    const result = await retryFailure(deps, id, stage.data);
    if (result.outcome === 'not_found') return notFound(c, `failure ${id}`, '/failures');
    return c.redirect(`/failures/${encodeURIComponent(id)}?notice=${result.outcome === 'queued' ? 'retried' : 'retry-refused'}`, 303);
  });

  app.post('/deliveries/:id/replay', async (c) => {
    const id = c.req.param('id');
    const result = await replayDelivery({ ...deps, now }, id);
    if (result.outcome === 'not_found') return notFound(c, `stored delivery ${id} (only failure deliveries are stored)`, '/failures');
    if (result.outcome === 'not_a_failure') return page(c, 'Replay refused', '/failures', <p>{`Delivery ${id} was not replayed: ${result.reason}.`}</p>, 422);
    return c.redirect(`/failures/${encodeURIComponent(result.failureId)}?notice=replayed`, 303);
  });

  const incidentFilter = (repo: string) => <RepoFilter action="/incidents" what="incidents" repo={repo} placeholder="owner/repo or repo" />;
  app.get('/incidents', async (c) => {
    const parsed = IncidentQuery.safeParse(c.req.query());
    if (!parsed.success) return page(c, 'Incidents', '/incidents', incidentFilter(''), 400, <Notice error>{`Bad filter: ${describeIssues(parsed.error.issues, { root: 'query' })}`}</Notice>);
    const { repo, cursor } = parsed.data;
    let result: Awaited<ReturnType<typeof listIncidents>>;
    try {
      result = await listIncidents(db, { limit: deps.pageSize ?? INCIDENTS_PER_PAGE, ...(repo ? { repo } : {}), ...(cursor ? { cursor } : {}) });
    } catch (error) {
      if (error instanceof BadCursorError) return page(c, 'Incidents', '/incidents', incidentFilter(repo), 400, <Notice error>{error.message}</Notice>);
      throw error;
    }
    const query = (next?: string) => {
      const q = new URLSearchParams({ ...(repo ? { repo } : {}), ...(next ? { cursor: next } : {}) }).toString();
      return q ? `/incidents?${q}` : '/incidents';
    };
    return page(
      c,
      'Incidents',
      '/incidents',
      <>
        {incidentFilter(repo)}
        <IncidentTable items={result.items} />
        <Pager first={cursor ? query() : null} next={result.nextCursor ? query(result.nextCursor) : null} />
      </>,
    );
  });

  app.get('/incidents/:id', async (c) => {
    const id = c.req.param('id');
    const incident = /^\d{1,18}$/.test(id) ? await getIncident(db, id) : undefined;
    if (!incident) return notFound(c, `incident ${id}`, '/incidents');
    return page(c, `Incident ${incident.id}: ${incident.category} in ${incident.owner}/${incident.repo}`, '/incidents', <IncidentDetailView incident={incident} />);
  });

  app.get('/flaky', async (c) => {
    const repo = (c.req.query('repo') ?? '').trim();
    const filter = <RepoFilter action="/flaky" what="flaky jobs" repo={repo} placeholder="owner/repo" />;
    if (repo && !/^[^/\s]{1,100}\/[^/\s]{1,100}$/.test(repo)) {
      return page(c, 'Flaky jobs and tests', '/flaky', filter, 400, <Notice error>{`Bad filter: the repository is owner/repo (${repo.slice(0, 200)} is not).`}</Notice>);
    }
    const items = await listFlakyViews(db, { limit: FLAKY_SHOWN, ...(repo ? { repository: repo } : {}) });
    return page(
      c,
      'Flaky jobs and tests',
      '/flaky',
      <>
        {filter}
        <FlakyTable items={items} {...(repo ? { repo } : {})} />
        {items.length === FLAKY_SHOWN ? <p class="muted">{`The ${FLAKY_SHOWN} most flaky; filter by repository for the others.`}</p> : null}
      </>,
    );
  });

  app.get('/spend', async (c) => {
    const parsed = z.object({ since: blankOr(day), until: blankOr(day), repo: z.string().max(200).default('') }).safeParse(c.req.query());
    if (!parsed.success) return page(c, 'Spend', '/spend', <p />, 400, <Notice error>{`Bad range: ${describeIssues(parsed.error.issues, { root: 'query' })}`}</Notice>);
    const until = parsed.data.until || now().toISOString().slice(0, 10);
    const since = parsed.data.since || new Date(Date.parse(until) - 13 * 86_400_000).toISOString().slice(0, 10);
    if (since > until || Date.parse(until) - Date.parse(since) > 366 * 86_400_000) {
      return page(c, 'Spend', '/spend', <p />, 400, <Notice error>{`The range ${since} to ${until} is not one of at most a year.`}</Notice>);
    }
    const repo = parsed.data.repo.trim();
    const spend = await spendByDay(db, { since, until, ...(repo ? { repo } : {}) });
    return page(
      c,
      'Spend',
      '/spend',
      <>
        <form class="filters" method="get" action="/spend" aria-label="Spend range">
          <div>
            <label for="spend-since">From (UTC day)</label>
            <input id="spend-since" name="since" type="date" value={since} />
          </div>
          <div>
            <label for="spend-until">Until (UTC day)</label>
            <input id="spend-until" name="until" type="date" value={until} />
          </div>
          <div>
            <label for="spend-repo">Repository</label>
            <input id="spend-repo" name="repo" type="text" value={repo} placeholder="owner/repo or repo" />
          </div>
          <button type="submit">Show</button>
        </form>
        <p>{`${spend.totals.executions} executions, ${spend.totals.tokensIn.toLocaleString('en-US')} tokens in, ${spend.totals.tokensOut.toLocaleString('en-US')} out, $${spend.totals.costUsd.toFixed(6)} from ${since} to ${until}.`}</p>
        <div class="chart">
          <SpendChart rows={spend.rows} since={since} until={until} />
        </div>
        <h2>Per repository</h2>
        <SpendByRepository rows={spend.rows} />
        <h2>Budget ledger</h2>
        <BudgetLedger budgets={spend.budgets} />
      </>,
    );
  });

  app.get('/breakers', async (c) => {
    const hash = await deps.redis.hgetall(breakerStatesKey(deps.prefix));
    const { live } = parseBreakerStates(hash, now());
    const fix = await listFixBreakers(db, fixBreaker, now());
    return page(
      c,
      'Breakers',
      '/breakers',
      <>
        <h2>Runner breakers (LLM, agent, rules)</h2>
        <RunnerBreakers breakers={live} />
        <h2>Fix-loop breakers</h2>
        <FixBreakers breakers={fix} cooldownMs={fixBreaker.cooldownMs} />
      </>,
    );
  });

  return app;
}
