import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job, Worker } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { onOutgoingRedactions, tokenMatcher } from '@pitcrew/core';
import type { Breakers, BreakerState } from './guards/breakers.ts';

/** One finished execution (one stage of one attempt), as the pipeline records it. */
export interface ExecutionObservation {
  stage: string;
  /** Runner that produced the result (`rules`, `llm`, `agent`, `runner-output`). */
  runner: string;
  /** Model that answered, null for runners without one. */
  model: string | null;
  status: 'succeeded' | 'failed';
  /** ms the stage's work took. */
  durationMs: number;
  tokensIn: number;
  tokensOut: number;
  /** USD. */
  costUsd: number;
}

/**
 * How one fix attempt ended, as the fix stages report it: a `fix_attempts` status, or
 * `not_attempted` when no attempt was made (no fix form for the failure, fixing off).
 */
export type FixObservationStatus = 'proposed' | 'refused' | 'verify_failed' | 'verified' | 'escalated' | 'failed' | 'not_attempted';

/** One finished fix attempt (one iteration of one failure). */
export interface FixAttemptObservation {
  /** Fixer that made the attempt (`rules`, `agent`). */
  fixer: string;
  status: FixObservationStatus;
  /** The guard rule that refused the diff (`GUARD_RULES` of `@pitcrew/core`) when `refused`, else null. */
  guardRule: string | null;
  /** USD the attempt spent (0 for the rules fixer). */
  costUsd: number;
  /** ms from the attempt's start to its end, verification included. */
  durationMs: number;
}

/** How a fix loop ended, as `fixLoopEnded` reports it (a `fix_loops` status other than `open` and `ended`). */
export type FixLoopOutcome = 'merged' | 'closed' | 'verified_by_ci' | 'escalated';

/** One ended fix loop (every iteration of one failure's fix). */
export interface FixLoopObservation {
  /** The latest iteration's fixer (`rules`, `agent`). */
  fixer: string;
  /** The model of its fix executions; null for the rules fixer. Not a label (cardinality): kept for callers and future use. */
  model: string | null;
  /** The failure's category (`lint`, `test`, ...); null when unclassified. */
  category: string | null;
  outcome: FixLoopOutcome;
  /** Iterations the loop made, ≥ 1. */
  iterations: number;
  /** USD of every iteration. */
  costUsd: number;
}

/** What the pipeline tells metrics; calls never throw. */
export interface PipelineObserver {
  /** A stage's execution row was finished (not called for stages reused from an earlier attempt). */
  execution(observation: ExecutionObservation): void;
  /** A paid call was refused by a budget and the rules stood in. */
  budgetSkipped(runner: string): void;
  /** A paid call was refused because a USD budget is set and its model has no known price. */
  unpricedRefused(runner: string, model: string | null): void;
  /** A fix attempt ended (once per attempt, also when none was made: `not_attempted`). */
  fixAttempt(observation: FixAttemptObservation): void;
  /** A fix loop ended: once per loop, when its outcome is known. */
  fixLoopEnded(observation: FixLoopObservation): void;
  /** A repository's fix-loop breaker opened (its threshold of exhausted loops in a row was reached): once per opening. */
  fixBreakerOpened(): void;
  /** A failure was resolved (`ci`: the same check passed on its branch; `fix-merge`: its fix PR was merged), after `timeToGreenMs`. */
  resolved?(by: 'ci' | 'fix-merge', timeToGreenMs: number): void;
  /** A resolved failure was a flaky occurrence (it passed on the commit it failed on). */
  flakyOccurrence?(repository: string): void;
  /** A re-run was `requested` of GitHub, or `refused` by a cap or the mixed-run rule. */
  rerun?(outcome: 'requested' | 'refused'): void;
}

/** Buckets of `pitcrew_time_to_green_seconds`: a re-run takes minutes, a fix hours to days. */
export const TIME_TO_GREEN_BUCKETS = [60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600];

/** Value of `pitcrew_breaker_state` per state (`isolated` is cockatiel's manual hold; pitcrew never isolates). */
export const BREAKER_STATE_VALUES: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2, isolated: 3 };

/**
 * Buckets of `pitcrew_stage_duration_seconds`, in seconds: rules stages take milliseconds, model
 * calls seconds to a minute, agent runs up to `PITCREW_AGENT_TIMEOUT_MS` (default 600 s).
 */
export const STAGE_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Buckets of `pitcrew_fix_duration_seconds`, in seconds: a rules fix and its verification take
 * seconds, an agent fix minutes (its run up to `PITCREW_AGENT_TIMEOUT_MS`, default 600 s, then
 * the verification).
 */
export const FIX_DURATION_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1200];

/** Buckets of `pitcrew_fix_loop_iterations`: 1 to 10 iterations per loop. */
export const FIX_LOOP_ITERATION_BUCKETS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** Metrics of one worker process, in a registry of its own. */
export interface WorkerMetrics {
  registry: Registry;
  observer: PipelineObserver;
  /** Counts the jobs a BullMQ worker completes and fails (`pitcrew_jobs_total`). */
  watchWorker(worker: Worker): void;
  /** Reports the breakers' states at each scrape (`pitcrew_breaker_state`). */
  watchBreakers(breakers: Breakers): void;
  /** Reports the org's daily budget and today's spend against it at each scrape (`pitcrew_budget_daily_usd`, `pitcrew_spend_today_usd`). */
  watchSpend(spend: SpendSource): void;
}

/** The org's daily budget and what today has used of it, as the budget guard keeps them. */
export interface SpendSource {
  /** USD per UTC day for the whole org (`PITCREW_BUDGET_DAILY_USD`); 0 = no limit. */
  dailyLimitUsd: number;
  /**
   * USD committed against the org's budget this UTC day (spent + reserved by calls in flight),
   * read from Postgres (`spend` table, scope `org`); the same in every worker process.
   */
  spentTodayUsd(): Promise<number>;
}

/** ms a scrape waits for today's spend from Postgres before reporting `pitcrew_spend_today_usd` as NaN (unknown). */
export const SPEND_READ_TIMEOUT_MS = 2_000;

/**
 * The worker metrics (names, labels and units are listed in README "Metrics"):
 * - `pitcrew_stage_duration_seconds{stage,runner}` histogram
 * - `pitcrew_executions_total{stage,runner,status}` counter
 * - `pitcrew_tokens_in_total{runner,model}`, `pitcrew_tokens_out_total{runner,model}` counters (tokens)
 * - `pitcrew_cost_usd_total{runner,model}` counter (USD)
 * - `pitcrew_breaker_state{runner}` gauge (0 closed, 1 half-open, 2 open)
 * - `pitcrew_budget_skipped_total{runner}` counter
 * - `pitcrew_unpriced_refused_total{runner,model}` counter
 * - `pitcrew_redactions_total{destination,rule}` counter (secrets replaced on the way out)
 * - `pitcrew_jobs_total{queue,result}` counter (`completed`, `failed` = no retry follows, `retried`)
 * - `pitcrew_fix_attempts_total{fixer,status}` counter (fix attempts ended, `not_attempted` included)
 * - `pitcrew_fix_refused_total{rule}` counter (diffs the guard refused, by rule)
 * - `pitcrew_fix_cost_usd_total{fixer}` counter (USD of every fix attempt, whatever its end)
 * - `pitcrew_fix_proposed_total{fixer}` counter (fixes proposed as a pull request)
 * - `pitcrew_fix_duration_seconds{fixer}` histogram (seconds per attempt; `not_attempted` not observed)
 * - `pitcrew_fix_loops_total{fixer,category,outcome}` counter (fix loops ended: merged, closed, verified_by_ci, escalated)
 * - `pitcrew_fix_loop_iterations{fixer,outcome}` histogram (iterations per ended loop, buckets 1..10)
 * - `pitcrew_fix_loop_cost_usd_total{fixer,outcome}` counter (USD of ended loops, every iteration)
 * - `pitcrew_fix_breaker_opened_total` counter (per-repository fix-loop breakers opened; no
 *   repository label: one series per repository would grow without bound)
 * - `pitcrew_budget_daily_usd` gauge (the org's daily budget, USD; 0 = none) and
 *   `pitcrew_spend_today_usd` gauge (USD committed against it this UTC day, from Postgres; every
 *   worker reports the same value, so take `max`; NaN when Postgres does not answer within
 *   {@link SPEND_READ_TIMEOUT_MS}), once `watchSpend` is called
 * - Node's default process metrics (prom-client `collectDefaultMetrics`)
 *
 * Counters are per process: Prometheus sums them over the worker targets. USD per proposed fix is
 * `sum by (fixer) (increase(pitcrew_fix_cost_usd_total[7d])) / sum by (fixer)
 * (increase(pitcrew_fix_proposed_total[7d]))`: what every attempt cost (refused, failed and
 * escalated ones too) per fix that reached a pull request. Both fix counters get a fixer's series
 * (at 0) on its first attempt, so the ratio exists (0 for the free rules fixer, +Inf while
 * nothing was proposed) instead of being absent.
 *
 * Fix loops, over ended loops (the admin API's `GET /api/fixes/summary` `loops` counts open ones too):
 * - merge rate (of the PRs a human decided on, the share merged):
 *   `sum by (fixer) (increase(pitcrew_fix_loops_total{outcome="merged"}[7d])) / sum by (fixer)
 *   (increase(pitcrew_fix_loops_total{outcome=~"merged|closed"}[7d]))`
 * - iterations per merged fix (every ended loop's iterations per loop merged):
 *   `sum by (fixer) (increase(pitcrew_fix_loop_iterations_sum[7d])) / sum by (fixer)
 *   (increase(pitcrew_fix_loops_total{outcome="merged"}[7d]))`; the iterations a merged loop
 *   itself took: `..._sum{outcome="merged"} / ..._count{outcome="merged"}`
 * - USD per merged fix (every ended loop's USD per loop merged):
 *   `sum by (fixer) (increase(pitcrew_fix_loop_cost_usd_total[7d])) / sum by (fixer)
 *   (increase(pitcrew_fix_loops_total{outcome="merged"}[7d]))`
 * A loop's end gives its fixer and category a `merged` series (at 0) in `pitcrew_fix_loops_total`
 * and its fixer one in the cost counter, so the ratios exist (+Inf while nothing merged) instead of
 * being absent.
 */
export function createWorkerMetrics(options: { processMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const stageDuration = new Histogram({
    name: 'pitcrew_stage_duration_seconds',
    help: 'Time one stage execution took, in seconds, by stage and runner.',
    labelNames: ['stage', 'runner'] as const,
    buckets: STAGE_DURATION_BUCKETS,
    registers: [registry],
  });
  const executions = new Counter({
    name: 'pitcrew_executions_total',
    help: 'Stage executions finished, by stage, runner and status (succeeded, failed).',
    labelNames: ['stage', 'runner', 'status'] as const,
    registers: [registry],
  });
  const tokensIn = new Counter({
    name: 'pitcrew_tokens_in_total',
    help: 'Prompt tokens sent to models, by runner and model.',
    labelNames: ['runner', 'model'] as const,
    registers: [registry],
  });
  const tokensOut = new Counter({
    name: 'pitcrew_tokens_out_total',
    help: 'Completion tokens received from models, by runner and model.',
    labelNames: ['runner', 'model'] as const,
    registers: [registry],
  });
  const cost = new Counter({
    name: 'pitcrew_cost_usd_total',
    help: 'Model spend in USD (token counts priced by LLM_PRICES or the genai-prices catalogue, or the agent\'s own report), by runner and model.',
    labelNames: ['runner', 'model'] as const,
    registers: [registry],
  });
  const budgetSkipped = new Counter({
    name: 'pitcrew_budget_skipped_total',
    help: 'Paid calls refused by a budget (rules stood in), by the runner that was refused.',
    labelNames: ['runner'] as const,
    registers: [registry],
  });
  const unpriced = new Counter({
    name: 'pitcrew_unpriced_refused_total',
    help: 'Paid calls refused because a USD budget is set and the model has no known price (rules stood in), by runner and model. Price the model in LLM_PRICES or mark it free in LLM_FREE_MODELS.',
    labelNames: ['runner', 'model'] as const,
    registers: [registry],
  });
  const redactions = new Counter({
    name: 'pitcrew_redactions_total',
    help: 'Secrets replaced at the outgoing-text boundary, by destination (model, agent, publish, admin-api) and rule.',
    labelNames: ['destination', 'rule'] as const,
    registers: [registry],
  });
  onOutgoingRedactions((destination, counts) => {
    for (const [rule, n] of Object.entries(counts)) redactions.inc({ destination, rule }, n);
  });
  const jobs = new Counter({
    name: 'pitcrew_jobs_total',
    help: 'Jobs this process finished, by queue and result: completed, failed (no retry follows) or retried (an attempt failed, another follows).',
    labelNames: ['queue', 'result'] as const,
    registers: [registry],
  });
  const fixAttempts = new Counter({
    name: 'pitcrew_fix_attempts_total',
    help: 'Fix attempts ended, by fixer (rules, agent) and status (proposed, refused, verify_failed, verified, escalated, failed, not_attempted).',
    labelNames: ['fixer', 'status'] as const,
    registers: [registry],
  });
  const fixRefused = new Counter({
    name: 'pitcrew_fix_refused_total',
    help: 'Fix diffs the guard refused, by guard rule (too-many-files, skipped-test, workflow-edit, secret, ...).',
    labelNames: ['rule'] as const,
    registers: [registry],
  });
  const fixCost = new Counter({
    name: 'pitcrew_fix_cost_usd_total',
    help: 'USD spent on fix attempts, whatever their end, by fixer. Divided by pitcrew_fix_proposed_total: USD per proposed fix.',
    labelNames: ['fixer'] as const,
    registers: [registry],
  });
  const fixProposed = new Counter({
    name: 'pitcrew_fix_proposed_total',
    help: 'Fixes proposed as a pull request, by fixer.',
    labelNames: ['fixer'] as const,
    registers: [registry],
  });
  const fixDuration = new Histogram({
    name: 'pitcrew_fix_duration_seconds',
    help: 'Time one fix attempt took (fixer run, guard, verification), in seconds, by fixer.',
    labelNames: ['fixer'] as const,
    buckets: FIX_DURATION_BUCKETS,
    registers: [registry],
  });
  const fixLoops = new Counter({
    name: 'pitcrew_fix_loops_total',
    help: 'Fix loops ended, by fixer (the latest iteration\'s), category and outcome (merged, closed, verified_by_ci, escalated). Merge rate: merged / (merged + closed).',
    labelNames: ['fixer', 'category', 'outcome'] as const,
    registers: [registry],
  });
  const fixLoopIterations = new Histogram({
    name: 'pitcrew_fix_loop_iterations',
    help: 'Iterations per ended fix loop, by fixer and outcome. _sum over pitcrew_fix_loops_total{outcome="merged"}: iterations per merged fix.',
    labelNames: ['fixer', 'outcome'] as const,
    buckets: FIX_LOOP_ITERATION_BUCKETS,
    registers: [registry],
  });
  const fixLoopCost = new Counter({
    name: 'pitcrew_fix_loop_cost_usd_total',
    help: 'USD of ended fix loops (every iteration), by fixer and outcome. Over pitcrew_fix_loops_total{outcome="merged"}: USD per merged fix.',
    labelNames: ['fixer', 'outcome'] as const,
    registers: [registry],
  });
  const fixBreakerOpened = new Counter({
    name: 'pitcrew_fix_breaker_opened_total',
    help: 'Per-repository fix-loop breakers opened (PITCREW_FIX_BREAKER_THRESHOLD exhausted loops in a row); which repositories: GET /api/fix-breakers.',
    registers: [registry],
  });
  const resolved = new Counter({
    name: 'pitcrew_failures_resolved_total',
    help: 'Failures resolved: by ci (the same check passed on the branch) or fix-merge (the fix loop PR was merged).',
    labelNames: ['by'] as const,
    registers: [registry],
  });
  const timeToGreen = new Histogram({
    name: 'pitcrew_time_to_green_seconds',
    help: 'Time from a failure being received to its resolution, in seconds.',
    buckets: TIME_TO_GREEN_BUCKETS,
    registers: [registry],
  });
  const flaky = new Counter({
    name: 'pitcrew_flaky_occurrences_total',
    help: 'Flaky occurrences (a fail then a pass on the same commit), by repository; the registry: GET /api/flaky, pitcrew flaky ls.',
    labelNames: ['repository'] as const,
    registers: [registry],
  });
  const reruns = new Counter({
    name: 'pitcrew_reruns_total',
    help: 'Re-runs of transient failures: requested of GitHub, or refused by a cap or because the run also failed for a non-transient reason.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  let spend: SpendSource | undefined;
  new Gauge({
    name: 'pitcrew_budget_daily_usd',
    help: 'The org\'s model budget per UTC day, USD (PITCREW_BUDGET_DAILY_USD); 0 = no limit.',
    registers: [registry],
    collect() {
      if (spend) this.set(spend.dailyLimitUsd);
    },
  });
  new Gauge({
    name: 'pitcrew_spend_today_usd',
    help: 'USD committed against the org\'s budget this UTC day (spent + reserved by calls in flight), read from Postgres at scrape time (NaN when it does not answer); kept while a budget is set. The same in every worker: take max.',
    registers: [registry],
    async collect() {
      if (!spend) return;
      const read = spend.spentTodayUsd();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), SPEND_READ_TIMEOUT_MS)));
      // Postgres down or slow: NaN (unknown, so no comparison with the budget holds), and the rest
      // of the scrape still answers.
      const usd = await Promise.race([read.catch(() => null), timeout]).finally(() => clearTimeout(timer));
      this.set(usd ?? Number.NaN);
    },
  });
  const watched: Breakers[] = [];
  new Gauge({
    name: 'pitcrew_breaker_state',
    help: 'Circuit breaker of each paid runner in this process: 0 closed, 1 half-open, 2 open (3 isolated). A runner appears after its first call.',
    labelNames: ['runner'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const breakers of watched) {
        for (const [runner, state] of Object.entries(breakers.states())) this.set({ runner }, BREAKER_STATE_VALUES[state]);
      }
    },
  });

  return {
    registry,
    observer: {
      execution(o) {
        stageDuration.observe({ stage: o.stage, runner: o.runner }, o.durationMs / 1_000);
        executions.inc({ stage: o.stage, runner: o.runner, status: o.status });
        if (o.status !== 'succeeded') return;
        const labels = { runner: o.runner, model: o.model ?? 'none' };
        // Counters only move for calls that used tokens or money, so rules stages add no series.
        if (o.tokensIn > 0) tokensIn.inc(labels, o.tokensIn);
        if (o.tokensOut > 0) tokensOut.inc(labels, o.tokensOut);
        if (o.costUsd > 0) cost.inc(labels, o.costUsd);
      },
      budgetSkipped(runner) {
        budgetSkipped.inc({ runner });
      },
      unpricedRefused(runner, model) {
        unpriced.inc({ runner, model: model ?? 'none' });
      },
      fixAttempt(o) {
        const fixer = { fixer: o.fixer };
        fixAttempts.inc({ fixer: o.fixer, status: o.status });
        // Both sides of USD per proposed fix move together (by 0 when there is nothing to add).
        fixCost.inc(fixer, Math.max(0, o.costUsd));
        fixProposed.inc(fixer, o.status === 'proposed' ? 1 : 0);
        if (o.status === 'refused') fixRefused.inc({ rule: o.guardRule ?? 'none' });
        if (o.status !== 'not_attempted') fixDuration.observe(fixer, Math.max(0, o.durationMs) / 1_000);
      },
      fixLoopEnded(o) {
        const category = o.category ?? 'none';
        fixLoops.inc({ fixer: o.fixer, category, outcome: o.outcome });
        // The denominator of the per-merged-fix ratios exists from the first loop on (at 0).
        if (o.outcome !== 'merged') fixLoops.inc({ fixer: o.fixer, category, outcome: 'merged' }, 0);
        fixLoopIterations.observe({ fixer: o.fixer, outcome: o.outcome }, Math.max(0, o.iterations));
        fixLoopCost.inc({ fixer: o.fixer, outcome: o.outcome }, Math.max(0, o.costUsd));
      },
      fixBreakerOpened() {
        fixBreakerOpened.inc();
      },
      resolved(by, ms) {
        resolved.inc({ by });
        timeToGreen.observe(Math.max(0, ms) / 1_000);
      },
      flakyOccurrence(repository) {
        flaky.inc({ repository });
      },
      rerun(outcome) {
        reruns.inc({ outcome });
      },
    },
    watchWorker(worker) {
      worker.on('completed', (job: Job) => jobs.inc({ queue: job.queueName, result: 'completed' }));
      // BullMQ emits `failed` for every failed attempt; `finishedOn` is set only when no retry follows.
      worker.on('failed', (job: Job | undefined) => {
        if (job) jobs.inc({ queue: job.queueName, result: job.finishedOn ? 'failed' : 'retried' });
      });
    },
    watchBreakers(breakers) {
      watched.push(breakers);
    },
    watchSpend(source) {
      spend = source;
    },
  };
}

/** A running metrics HTTP server. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` in Prometheus text format on its own port (workers have no other HTTP
 * server; node:http is enough for one route, so no framework). With a token, requests must send
 * `Authorization: Bearer <token>` (else 401). Other paths answer 404, other methods 405.
 *
 * @param options.port TCP port; 0 picks a free one (see `url`)
 * @param options.host interface to bind, e.g. `0.0.0.0` or `127.0.0.1`
 * @throws {Error} when the port cannot be bound (EADDRINUSE, EACCES), or the token is under 16 characters
 */
export async function serveMetrics(
  metrics: Pick<WorkerMetrics, 'registry'>,
  options: { port: number; host: string; token?: string },
): Promise<MetricsServer> {
  if (options.token !== undefined && options.token.length < 16) throw new Error('metrics token must have at least 16 characters');
  const matches = options.token !== undefined ? tokenMatcher(options.token) : null;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    if (path !== '/metrics') return answer(404, JSON.stringify({ error: 'not_found', reason: `no route for ${req.method} ${path}; metrics are at /metrics` }));
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, JSON.stringify({ error: 'method_not_allowed', reason: 'use GET' }), { allow: 'GET, HEAD' });
    if (matches) {
      const match = /^bearer (.+)$/i.exec(req.headers.authorization ?? '');
      if (!match || !matches(match[1]!)) {
        return answer(401, JSON.stringify({ error: 'unauthorized', reason: 'send Authorization: Bearer <PITCREW_METRICS_TOKEN>' }), {
          'www-authenticate': 'Bearer realm="pitcrew metrics"',
        });
      }
    }
    metrics.registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: Error) => answer(500, JSON.stringify({ error: 'internal', reason: error.message })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    port,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
