import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createPages } from './pages.tsx';
import { startRealRun, until, type RealRun } from './real-run.fixture.ts';
import { fixedTokenCsrf } from './test-csrf.fixture.ts';

// Each page against what a real run recorded (real-run.fixture.ts: ingest and a worker over real Redis and
// Postgres, GitHub's example deliveries, the fake GitHub and model server), through app.request.
const CSRF = 'pages-int-test-csrf-token';
let run: RealRun;
let app: Hono;

beforeAll(async () => {
  run = await startRealRun();
  app = createPages({ db: run.tdb.db, redis: run.redis, prefix: run.prefix, triage: run.triage, producer: run.producer, csrf: fixedTokenCsrf(CSRF), logger: pino({ level: 'silent' }), pageSize: 2 });
}, 180_000);
afterAll(async () => {
  await run?.close();
});

const get = async (path: string) => {
  const response = await app.request(path);
  return { status: response.status, text: await response.text() };
};
const form = (fields: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
const failureLinks = (text: string) => [...text.matchAll(/href="\/failures\/([^"?]+)"/g)].map((m) => decodeURIComponent(m[1]!));

describe('/failures', () => {
  it('pages through every failure newest first with keyset cursors, keeping the filters', async () => {
    const seen: string[] = [];
    let path: string | null = '/failures';
    while (path) {
      const { status, text } = await get(path);
      expect(status).toBe(200);
      const ids = failureLinks(text);
      expect(ids.length).toBeLessThanOrEqual(2);
      seen.push(...ids);
      path = /href="(\/failures\?cursor=[^"]+)">Next page/.exec(text)?.[1]?.replaceAll('&amp;', '&') ?? null;
    }
    expect(seen.sort()).toEqual(Object.values(run.failures).sort());
  });

  it('filters by repository, category, conclusion, open or resolved, and received days', async () => {
    const { lint, unit20, unit22, checkRun } = run.failures;
    const ids = async (query: string) => {
      const all: string[] = [];
      let path: string | null = `/failures?${query}`;
      while (path) {
        const { text } = await get(path);
        all.push(...failureLinks(text));
        path = /href="(\/failures\?[^"]*cursor=[^"]+)">Next page/.exec(text)?.[1]?.replaceAll('&amp;', '&') ?? null;
      }
      return all.sort();
    };
    expect(await ids('repo=octo-org%2Fshop')).toEqual([lint, unit20, unit22].sort());
    expect(await ids('category=lint&repo=shop')).toEqual([lint]);
    expect(await ids('resolution=resolved')).toEqual([unit20]);
    expect(await ids('resolution=open&repo=shop')).toEqual([lint, unit22].sort());
    expect(await ids('conclusion=timed_out')).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    expect(await ids(`since=${today}&until=${today}`)).toEqual([lint, unit20, unit22, checkRun].sort());
    expect(await ids('since=2001-01-01&until=2001-01-31')).toEqual([]);
    // The form shows the filter it applied, selected.
    expect((await get('/failures?category=lint')).text).toMatch(/<option value="lint" selected="">lint<\/option>/);
  });

  it('answers a bad filter or cursor with the reason and 400, not a crash', async () => {
    const bad = await get('/failures?category=nonsense');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Bad filter');
    expect(bad.text).toContain('category');
    expect((await get('/failures?cursor=bm9wZQ')).status).toBe(400);
    expect((await get('/failures?since=2026-02-10&until=2026-02-01')).status).toBe(400);
  });
});

describe('/failures/:id', () => {
  it('shows the lint failure: excerpt with log line numbers, plan, stage timeline with tokens and USD, the verified fix and its PR', async () => {
    const { status, text } = await get(`/failures/${run.failures.lint}`);
    expect(status).toBe(200);
    // `[warn] src/cart.ts` is line 6 of the job's log.
    expect(text).toMatch(/<td class="ln">6<\/td><td>\[warn\] src\/cart\.ts<\/td>/);
    expect(text).toContain('Investigation plan');
    expect(text).toContain('Reproduce lint locally at the failing commit.');
    for (const stage of ['classify', 'execute', 'summarize']) expect(text).toContain(`${stage} #1`);
    expect(text).toMatch(/<svg[^>]*aria-labelledby="timeline-title"/);
    // The model's execution has tokens and a price.
    const executions = await run.tdb.db.selectFrom('executions').selectAll().where('failure_id', '=', run.failures.lint).where('stage', '=', 'execute').execute();
    expect(executions[0]!.tokens_in).toBeGreaterThan(0);
    expect(text).toContain(`${executions[0]!.tokens_in.toLocaleString('en-US')}/${executions[0]!.tokens_out.toLocaleString('en-US')} tok`);
    const [fix] = await run.tdb.db.selectFrom('fix_attempts').selectAll().where('failure_id', '=', run.failures.lint).execute();
    expect(fix, JSON.stringify({ error: fix?.error, reason: fix?.reason })).toMatchObject({ status: 'proposed', verify_exit_code: 0 });
    expect(text).toContain(`href="${fix!.pr_url}"`);
    expect(text).toContain('<code>prettier --check src</code>');
    // Forms carry the CSRF field and labelled controls.
    expect(text).toContain(`name="_csrf" value="${CSRF}"`);
    expect(text).toMatch(/<label for="retry-stage">Retry from stage<\/label><select id="retry-stage"/);
    expect(text).toContain('Open: the check has not gone green');
  });

  it('shows a resolved failure: time to green, its incident, and the job passing after failing', async () => {
    const { text } = await get(`/failures/${run.failures.unit20}`);
    expect(text).toContain('Time to green');
    const incident = await run.tdb.db.selectFrom('failures').select('incident_id').where('id', '=', run.failures.unit20).executeTakeFirstOrThrow();
    expect(incident.incident_id).not.toBeNull();
    expect(text).toContain(`href="/incidents/${incident.incident_id}"`);
    expect(text).toMatch(/<li class="pass"[^>]*><\/li><li class="fail"/);
  });

  it('says when a failure shares its incident leader\'s diagnosis, linking the leader', async () => {
    const rows = await run.tdb.db
      .selectFrom('executions')
      .select(['failure_id', 'output'])
      .where('stage', '=', 'execute')
      .where('failure_id', 'in', [run.failures.unit20, run.failures.unit22])
      .execute();
    const sharedFrom = (output: unknown) => (output as { sharedFrom?: string } | null)?.sharedFrom;
    const follower = rows.find((r) => sharedFrom(r.output));
    expect(follower, 'one of the two test jobs reuses the other\'s diagnosis').toBeDefined();
    const leader = sharedFrom(follower!.output)!;
    expect([run.failures.unit20, run.failures.unit22].filter((id) => id !== follower!.failure_id)).toEqual([leader]);
    const { text } = await get(`/failures/${follower!.failure_id}`);
    expect(text).toContain(`The diagnosis is shared: it was written for <a href="/failures/${leader}">${leader}</a>`);
    expect((await get(`/failures/${leader}`)).text).not.toContain('The diagnosis is shared');
    // Its summary names its own job first, then the leader's.
    const jobOf = (id: string) => (id === run.failures.unit20 ? 'unit (node 20)' : 'unit (node 22)');
    const summary = await run.tdb.db.selectFrom('failures').select('summary').where('id', '=', follower!.failure_id).executeTakeFirstOrThrow();
    expect(summary.summary!.startsWith(`\`${jobOf(follower!.failure_id)}\` failed the same way as \`${jobOf(leader)}\` (one incident, one diagnosis): `)).toBe(true);
  });

  it('escapes log text: markup in the log is shown as text', async () => {
    const { text } = await get(`/failures/${run.failures.unit22}`);
    expect(text).toContain('expected &quot;&lt;b&gt;42&lt;/b&gt;&quot;');
    expect(text).not.toContain('<b>42</b>');
  });

  it('says why a failure has no excerpt, and 404s an unknown one', async () => {
    const { text } = await get(`/failures/${encodeURIComponent(run.failures.checkRun)}`);
    expect(text).toMatch(/No excerpt: the log was (missing|unavailable|error)/);
    expect((await get('/failures/gh-job-nope')).status).toBe(404);
  });
});

describe('retry and replay', () => {
  it('refuses a POST without the CSRF token, and runs a retry with it', async () => {
    const id = run.failures.unit22;
    expect((await app.request(`/failures/${id}/retry`, form({ stage: 'summarize' }))).status).toBe(403);
    expect((await app.request(`/failures/${id}/retry`, form({ stage: 'summarize', _csrf: 'wrong' }))).status).toBe(403);
    const response = await app.request(`/failures/${id}/retry`, form({ stage: 'summarize', _csrf: CSRF }));
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/failures/${id}?notice=retried`);
    await until('summarize #2', () => run.tdb.db.selectFrom('executions').select(['stage', 'attempt', 'status']).where('failure_id', '=', id).where('attempt', '=', 2).execute(), (rows) => rows.some((r) => r.stage === 'summarize' && r.status === 'succeeded'));
    expect((await get(`/failures/${id}?notice=retried`)).text).toContain('Retry queued');
    expect((await app.request(`/failures/${id}/retry`, form({ stage: 'nonsense', _csrf: CSRF }))).status).toBe(400);
  });

  it('replays a stored delivery as a merged delivery of the same failure', async () => {
    const id = run.failures.lint;
    const [first] = await run.tdb.db.selectFrom('deliveries').select('id').where('failure_id', '=', id).execute();
    expect((await app.request(`/deliveries/${first!.id}/replay`, form({}))).status).toBe(403);
    const response = await app.request(`/deliveries/${first!.id}/replay`, form({ _csrf: CSRF }));
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/failures/${id}?notice=replayed`);
    await until('the replay recorded', () => run.tdb.db.selectFrom('deliveries').select('outcome').where('failure_id', '=', id).execute(), (rows) => rows.length === 2);
    expect((await run.tdb.db.selectFrom('deliveries').select('outcome').where('failure_id', '=', id).orderBy('recorded_at').execute()).map((r) => r.outcome)).toEqual(['accepted', 'merged']);
    expect((await app.request('/deliveries/nope/replay', form({ _csrf: CSRF }))).status).toBe(404);
  });
});

describe('incidents, flaky, spend, breakers', () => {
  it('filters incidents by repository and refuses a cursor it did not hand out', async () => {
    expect((await get('/incidents?repo=octo-org%2Fshop')).text).toContain('Incident ');
    const none = await get('/incidents?repo=octo-org%2Fnothing-here');
    expect(none.text).toContain('No incident matches');
    expect(none.text).toContain('value="octo-org/nothing-here"');
    const bad = await get('/incidents?cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('is not one this API produced');
  });

  it('lists the incident of the two test jobs and shows its failures, the leader marked', async () => {
    // The two test jobs' incident, wherever the list puts it (the lint failure has one of its own).
    const { incident_id: id } = await run.tdb.db.selectFrom('failures').select('incident_id').where('id', '=', run.failures.unit20).executeTakeFirstOrThrow();
    expect(id).not.toBeNull();
    expect((await get('/incidents')).text).toContain(`href="/incidents/${id}"`);
    const { text } = await get(`/incidents/${id}`);
    expect(text).toContain('unit (node 20)');
    expect(text).toContain('unit (node 22)');
    expect(text).toContain('leader');
    expect((await get('/incidents/999999')).status).toBe(404);
    expect((await get('/incidents/abc')).status).toBe(404);
  });

  it('lists the job that failed then passed on one commit as flaky', async () => {
    const { text } = await get('/flaky');
    expect(text).toContain('unit (node 20)');
    expect(text).toMatch(/>100%<\/td>/);
    expect((await get('/flaky?repo=octo-org%2Fshop')).text).toContain('unit (node 20)');
    const other = await get('/flaky?repo=octo-org%2Fnothing-here');
    expect(other.text).toContain('Nothing flaky in octo-org/nothing-here');
    expect(other.text).toContain('value="octo-org/nothing-here"');
    const bad = await get('/flaky?repo=shop');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('the repository is owner/repo');
  });

  it('draws USD per day and repository from the executions, with the model spend of octo-org/shop', async () => {
    const { status, text } = await get('/spend');
    expect(status).toBe(200);
    const [shop] = await run.tdb.db.selectFrom('executions').innerJoin('failures', 'failures.id', 'executions.failure_id').select((eb) => eb.fn.sum<string>('executions.cost_usd').as('usd')).where('failures.repo', '=', 'shop').execute();
    expect(Number(shop!.usd)).toBeGreaterThan(0);
    expect(text).toMatch(/<svg[^>]*aria-labelledby="spend-title"/);
    expect(text).toMatch(/<rect [^>]*><title>\d{4}-\d{2}-\d{2} octo-org\/shop: \$/);
    expect(text).toContain('<td>octo-org/shop</td>');
    expect((await get('/spend?since=2026-13-01')).status).toBe(400);
  });

  it('shows the runner breakers the worker publishes and the fix-loop breaker of the repository', async () => {
    const { text } = await until('the worker published its breakers', () => get('/breakers'), (page) => page.text.includes('<td>llm</td>'), 15_000);
    expect(text).toContain('octo-org/shop');
    expect(text).toMatch(/0 of 3/);
  });
});
