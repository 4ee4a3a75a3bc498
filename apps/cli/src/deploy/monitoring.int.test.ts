import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startIngest, type IngestHandle } from '@pitcrew/ingest';
import { startWorker, type WorkerHandle } from '@pitcrew/worker';
import { createTestDatabase, findFreePort, testPrefix, type TestDatabase } from '@pitcrew/testkit';

/**
 * deploy/grafana against the processes: every metric that the alert rules and the dashboard name
 * is one that a real ingest and a real worker serve on `/metrics` (with the metrics token, as
 * the ServiceMonitor scrapes them). promtool (Debian's `prometheus` package) checks the rules,
 * runs their unit tests and parses every dashboard query.
 */
const ROOT = resolve(import.meta.dirname, '../../../..');
const RULES = join(ROOT, 'deploy/grafana/alerts.yml');
const RULE_TESTS = join(ROOT, 'deploy/grafana/alerts.test.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/pitcrew-dashboard.json');
const TOKEN = 'monitoring-metrics-token-0123456789';
/** Series Prometheus makes itself for every target, not served by pitcrew. */
const PROMETHEUS_OWN = new Set(['up']);

interface Rules {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}
interface Dashboard {
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
}

const rules = parse(readFileSync(RULES, 'utf8')) as Rules;
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const alertExprs = rules.groups.flatMap((g) => g.rules.map((r) => ({ name: r.alert ?? r.record!, expr: r.expr })));
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ name: p.title, expr: t.expr })));

/**
 * Metric names in a PromQL expression: identifiers of pitcrew's and Node's families and `up`.
 * Label names, label values (quoted) and functions are not metric names.
 */
function metricNames(expr: string): string[] {
  const unquoted = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set([...unquoted.matchAll(/\b(?:pitcrew|process|nodejs)_[a-z0-9_]+\b|\bup\b/g)].map((m) => m[0]))]
    // `by (...)`, `on (...)` and `without (...)` list label names, not metrics.
    .filter((name) => !new RegExp(`(?:by|on|without|ignoring|group_left|group_right)\\s*\\([^)]*\\b${name}\\b`).test(unquoted));
}

/** Family names with their type, from the `# TYPE` lines of an exposition. */
function families(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** The family a sample name belongs to: a histogram's `_bucket`/`_sum`/`_count` are its own. */
function familyOf(name: string, served: Map<string, string>): string | null {
  if (served.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return served.get(base) === 'histogram' || served.get(base) === 'summary' ? base : null;
}

let tdb: TestDatabase;
let ingest: IngestHandle;
let worker: WorkerHandle;
let served: { ingest: Map<string, string>; worker: Map<string, string> };

beforeAll(async () => {
  tdb = await createTestDatabase();
  const env = {
    REDIS_URL: inject('redisUrl'),
    DATABASE_URL: tdb.url,
    PITCREW_QUEUE_PREFIX: testPrefix(),
    LOG_LEVEL: 'silent',
    PITCREW_METRICS_TOKEN: TOKEN,
  };
  const logger = pino({ level: 'silent' });
  ingest = await startIngest({ ...env, GITHUB_WEBHOOK_SECRET: 'monitoring-secret-0123', PORT: '0', HOST: '127.0.0.1' }, logger);
  worker = await startWorker({ ...env, PITCREW_METRICS_PORT: String(await findFreePort()), PITCREW_METRICS_HOST: '127.0.0.1', PITCREW_SHUTDOWN_TIMEOUT_MS: '1000', PITCREW_BUDGET_DAILY_USD: '10' }, logger);
  const scrape = async (url: string) => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status, url).toBe(200);
    return families(await response.text());
  };
  served = { ingest: await scrape(`${ingest.url}/metrics`), worker: await scrape(worker.metricsUrl!) };
});
afterAll(async () => {
  await Promise.all([ingest?.close(), worker?.close()]);
  await tdb?.destroy();
});

describe('deploy/grafana: alert rules and dashboard over the metrics ingest and workers serve', () => {
  it('names, in each alert rule and dashboard query, only metrics that a real ingest or worker serves', () => {
    const all = new Map([...served.ingest, ...served.worker]);
    const missing: string[] = [];
    for (const { name, expr } of [...alertExprs, ...dashboardExprs]) {
      const names = metricNames(expr);
      expect(names.length, `${name}: ${expr}`).toBeGreaterThan(0);
      for (const metric of names) if (!PROMETHEUS_OWN.has(metric) && !familyOf(metric, all)) missing.push(`${name}: ${metric}`);
    }
    expect(missing).toEqual([]);
  });

  it('alerts on intake age, rejected deliveries by reason, an open breaker, failed jobs, spend against the budget and escalated fix loops', () => {
    const uses = (metric: string, from: 'ingest' | 'worker') =>
      alertExprs.filter((a) => metricNames(a.expr).includes(metric) && served[from].has(metric)).map((a) => a.name);
    expect(uses('pitcrew_queue_oldest_waiting_age_seconds', 'ingest')).toContain('PitcrewIntakeFallingBehind');
    expect(uses('pitcrew_ingest_deliveries_total', 'ingest')).toEqual(expect.arrayContaining(['PitcrewDeliveriesRejected', 'PitcrewDeliveriesRefusedQueueUnavailable']));
    expect(alertExprs.find((a) => a.name === 'PitcrewDeliveriesRejected')!.expr).toMatch(/sum by \(reason\)/);
    expect(uses('pitcrew_breaker_state', 'worker')).toContain('PitcrewRunnerBreakerOpen');
    expect(uses('pitcrew_jobs_total', 'worker')).toContain('PitcrewJobsFailed');
    expect(uses('pitcrew_spend_today_usd', 'worker')).toEqual(['PitcrewDailySpendNearBudget', 'PitcrewDailyBudgetSpent']);
    expect(uses('pitcrew_budget_daily_usd', 'worker')).toEqual(['PitcrewDailySpendNearBudget', 'PitcrewDailyBudgetSpent']);
    expect(uses('pitcrew_fix_loops_total', 'worker')).toContain('PitcrewFixLoopsEscalated');
  });

  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!promtool) console.warn('[deploy/grafana] SKIPPED promtool checks: promtool not found; install it (apt-get install prometheus)');

  it.skipIf(!promtool)('promtool: the rules check, their unit tests pass, and every dashboard query parses', () => {
    const check = (args: string[]) => {
      const run = spawnSync('promtool', args, { encoding: 'utf8', cwd: join(ROOT, 'deploy/grafana') });
      expect(run.status, `promtool ${args.join(' ')}\n${run.stdout}${run.stderr}`).toBe(0);
    };
    check(['check', 'rules', RULES]);
    check(['test', 'rules', RULE_TESTS]);
    // Each dashboard query as a recording rule: promtool parses it (Grafana's $__rate_interval as 5m).
    const dir = mkdtempSync(join(tmpdir(), 'pitcrew-dashboard-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      const recorded = dashboardExprs.map((q, i) => ({ record: `pitcrew_dashboard_query_${i}`, expr: q.expr.replaceAll('$__rate_interval', '5m') }));
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: recorded }] }));
      check(['check', 'rules', file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
