import { Redis } from 'ioredis';
import { committedSpend, createDb, createLogger, parseEnv, type Logger } from '@pitcrew/core';
import { createJsonCompleter, createLlmClient, createPriceBook, unpricedModels, type LlmClient } from '@pitcrew/llm';
import { WorkerEnv } from './env.ts';
import { createBreakers } from './guards/breakers.ts';
import { createBreakerPublisher, type BreakerPublisher } from './guards/breaker-publisher.ts';
import { createBudget, utcDay } from './guards/budget.ts';
import { createGithubApi, type GithubAuth } from './github/github-api.ts';
import { createGithubLogSource } from './github/log-source.ts';
import { resolveSinks } from './publish/publisher.ts';
import { createRepoConfigSource } from './repo-config/repo-config.ts';
import { createAgentRunner } from './runners/agent-runner.ts';
import { createLlmRunner } from './runners/llm-runner.ts';
import { createRunnerRegistry } from './runners/registry.ts';
import { startEgress, type EgressProxy } from './sandbox/egress-proxy.ts';
import { assertSandboxWorks, DEFAULT_SANDBOX, type SandboxPolicy } from './sandbox/sandbox.ts';
import { createWorkers } from './worker.ts';
import { tensorZeroFeedbackFromEnv } from './fix/feedback.ts';
import { agentFixer, rulesFixer } from './fix/fixer.ts';
import type { FixPolicy } from './fix/policy.ts';
import type { FixDeps } from './stages/fix.ts';
import { createWorkerMetrics, serveMetrics } from './metrics.ts';

/** A running worker process. */
export interface WorkerHandle {
  /** `http://host:port/metrics` of this process, null when `PITCREW_METRICS_PORT` is 0. */
  metricsUrl: string | null;
  /** Graceful stop: workers (waiting up to the shutdown timeout) → db → Redis. */
  close(): Promise<void>;
}

/**
 * Starts the workers from environment variables.
 * @throws {ConfigError} when the environment is invalid
 */
export async function startWorker(
  env: Record<string, string | undefined> = process.env,
  logger?: Logger,
): Promise<WorkerHandle> {
  const config = parseEnv(WorkerEnv, env);
  const log = logger ?? createLogger('worker', config.LOG_LEVEL);
  // Workers keep retrying forever while Redis is away (BullMQ docs, "Going to production").
  const connection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  connection.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
  const db = createDb(config.DATABASE_URL, config.PITCREW_DB_POOL_SIZE, (error) =>
    log.warn({ err: error }, 'postgres connection lost; the next query reconnects'),
  );
  const prices = createPriceBook({
    overrides: config.LLM_PRICES,
    freeModels: config.LLM_FREE_MODELS,
    ...(config.LLM_BASE_URL ? { baseURL: config.LLM_BASE_URL } : {}),
  });
  let llm: LlmClient | null = null;
  if (config.LLM_BASE_URL) {
    llm = createLlmClient({
      baseURL: config.LLM_BASE_URL,
      apiKey: config.LLM_API_KEY,
      model: config.LLM_MODEL,
      timeoutMs: config.LLM_TIMEOUT_MS,
      maxRetries: config.LLM_MAX_RETRIES,
      maxTokens: config.LLM_MAX_TOKENS,
      prices,
    });
  }
  const runners = createRunnerRegistry({
    choice: config.PITCREW_RUNNER,
    llm: llm ? createLlmRunner(llm, { maxTokens: config.LLM_MAX_TOKENS }) : null,
    llmClient: llm,
    agent: config.PITCREW_AGENT_COMMAND
      ? createAgentRunner({
          command: config.PITCREW_AGENT_COMMAND,
          timeoutMs: config.PITCREW_AGENT_TIMEOUT_MS,
          estimateUsd: config.PITCREW_AGENT_ESTIMATE_USD,
          workspaceRoot: config.PITCREW_WORKSPACE_ROOT,
          cloneUrl: config.PITCREW_AGENT_CLONE_URL,
          sandbox: agentSandbox(config, log),
        })
      : null,
    strategy: config.PITCREW_STRATEGY,
    models: { cheap: config.LLM_MODEL_CHEAP, strong: config.LLM_MODEL_STRONG },
  });
  let publisher: BreakerPublisher | undefined;
  const breakers = createBreakers({
    threshold: config.PITCREW_BREAKER_THRESHOLD,
    cooldownMs: config.PITCREW_BREAKER_COOLDOWN_MS,
    onStateChange: (runner, state) => {
      log.warn({ runner, state }, 'circuit breaker changed state');
      publisher?.changed(runner, state);
    },
  });
  const limits = {
    orgDailyUsd: config.PITCREW_BUDGET_DAILY_USD,
    repoDailyUsd: config.PITCREW_BUDGET_REPO_DAILY_USD,
    failureUsd: config.PITCREW_BUDGET_FAILURE_USD,
  };
  const budgeted = limits.orgDailyUsd > 0 || limits.repoDailyUsd > 0 || limits.failureUsd > 0;
  if (llm) warnUnpriced(log, prices, budgeted, [config.LLM_MODEL, config.LLM_MODEL_CHEAP, config.LLM_MODEL_STRONG, ...Object.values(config.PITCREW_STRATEGY).map((entry) => (entry?.runner === 'llm' ? entry.model : undefined))]);
  const githubAuth: GithubAuth | null =
    config.GITHUB_APP_ID && config.GITHUB_APP_PRIVATE_KEY
      ? { kind: 'app', appId: config.GITHUB_APP_ID, privateKey: config.GITHUB_APP_PRIVATE_KEY }
      : config.GITHUB_TOKEN
        ? { kind: 'token', token: config.GITHUB_TOKEN }
        : null;
  const githubApi = githubAuth ? createGithubApi({ baseUrl: config.GITHUB_API_URL, auth: githubAuth, logger: log }) : null;
  const logs = githubApi ? createGithubLogSource(githubApi) : undefined;
  const sinks = resolveSinks(
    { requested: config.PITCREW_PUBLISH, githubAuth: githubAuth?.kind ?? null, slackWebhookUrl: config.PITCREW_SLACK_WEBHOOK_URL, escalateAfter: config.PITCREW_ESCALATE_AFTER },
    log,
  );
  const fix = await fixDeps(config, log);
  // What the organisation allows; each repository's .github/pitcrew.yml can only narrow it.
  const repoConfig = config.PITCREW_REPO_CONFIG
    ? createRepoConfigSource({
        redis: connection,
        prefix: config.PITCREW_QUEUE_PREFIX,
        github: githubApi,
        ttlSeconds: config.PITCREW_REPO_CONFIG_TTL_SECONDS,
        logger: log,
        org: {
          sinks: sinks.map((s) => s.name),
          // Re-runs exist where PITCREW_RERUN_REPOS names a repository; rerunDecision still checks its globs.
          reruns: config.PITCREW_RERUN_REPOS.length > 0,
          fix: { mode: fix ? config.PITCREW_FIX : 'off', categories: config.PITCREW_FIX_CATEGORIES, branches: config.PITCREW_FIX_BRANCHES },
        },
      })
    : null;
  const feedback = tensorZeroFeedbackFromEnv(config, log);
  // Metrics first: a taken port fails the start before any job is taken.
  const metrics = config.PITCREW_METRICS_PORT > 0 ? createWorkerMetrics() : null;
  const metricsServer = metrics
    ? await serveMetrics(metrics, {
        port: config.PITCREW_METRICS_PORT,
        host: config.PITCREW_METRICS_HOST,
        ...(config.PITCREW_METRICS_TOKEN ? { token: config.PITCREW_METRICS_TOKEN } : {}),
      })
    : null;
  metrics?.watchBreakers(breakers);
  metrics?.watchSpend({ dailyLimitUsd: limits.orgDailyUsd, spentTodayUsd: () => committedSpend(db, { day: utcDay(), scope: 'org' }) });
  const workers = createWorkers({
    connection,
    prefix: config.PITCREW_QUEUE_PREFIX,
    db,
    runners,
    logger: log,
    concurrency: config.PITCREW_WORKER_CONCURRENCY,
    attempts: config.PITCREW_JOB_ATTEMPTS,
    runnerLimits: {
      rules: { concurrency: config.PITCREW_RUNNER_RULES_CONCURRENCY, ratePerMinute: config.PITCREW_RUNNER_RULES_RATE_PER_MIN },
      llm: { concurrency: config.PITCREW_RUNNER_LLM_CONCURRENCY, ratePerMinute: config.PITCREW_RUNNER_LLM_RATE_PER_MIN },
      agent: { concurrency: config.PITCREW_RUNNER_AGENT_CONCURRENCY, ratePerMinute: config.PITCREW_RUNNER_AGENT_RATE_PER_MIN },
    },
    guards: { breakers, budget: budgeted ? createBudget(db, limits) : null },
    degradeAfterMs: config.PITCREW_DEGRADE_AFTER_MS,
    ...(logs ? { logs } : {}),
    incidentWindowHours: config.PITCREW_INCIDENT_WINDOW_HOURS,
    publish: { sinks, github: githubApi, attempts: config.PITCREW_JOB_ATTEMPTS },
    ...(metrics ? { metrics } : {}),
    locks: {
      lockDurationMs: config.PITCREW_LOCK_DURATION_MS,
      stalledIntervalMs: config.PITCREW_STALLED_INTERVAL_MS,
      maxStalledCount: config.PITCREW_MAX_STALLED_COUNT,
    },
    ...(fix ? { fix } : {}),
    github: githubApi,
    ...(repoConfig ? { repoConfig, commands: config.PITCREW_PR_COMMANDS } : {}),
    fixEvents: { readyOnCi: config.PITCREW_FIX_READY_ON_CI },
    resolution: { quietHours: config.PITCREW_INCIDENT_QUIET_HOURS },
    rerun: {
      repositories: config.PITCREW_RERUN_REPOS,
      maxPerRun: config.PITCREW_RERUN_MAX_PER_RUN,
      maxPerRepoPerHour: config.PITCREW_RERUN_MAX_PER_REPO_HOUR,
      signatures: config.PITCREW_RERUN_SIGNATURES,
    },
    // A loop's PR closed: its outcome to metrics and, with TensorZero, as feedback on its inferences.
    onLoopOutcome: async (loop) => {
      if (loop.outcome !== 'merged' && loop.outcome !== 'closed') return;
      metrics?.observer.fixLoopEnded({ fixer: loop.fixer, model: null, category: loop.category, outcome: loop.outcome, iterations: loop.iterations, costUsd: Number(loop.cost_usd) });
      await feedback?.loopEnded(db, loop);
    },
    ...(llm && config.PITCREW_LLM_CLASSIFY_BELOW > 0
      ? { classifier: { completeJson: createJsonCompleter(llm), below: config.PITCREW_LLM_CLASSIFY_BELOW } }
      : {}),
  });
  log.info(
    { runners: Object.keys(runners.runners), model: llm?.model ?? null, githubLogs: githubAuth?.kind ?? 'off', concurrency: config.PITCREW_WORKER_CONCURRENCY, budgets: limits },
    'worker started',
  );
  // Breaker states of this process, for `GET /api/breakers` on ingest (rules has no breaker).
  publisher = createBreakerPublisher({
    redis: connection,
    prefix: config.PITCREW_QUEUE_PREFIX,
    breakers,
    runners: Object.keys(runners.runners).filter((name) => name !== 'rules'),
    logger: log,
  });
  const breakerPublisher = publisher;
  if (metricsServer) log.info({ url: metricsServer.url, auth: Boolean(config.PITCREW_METRICS_TOKEN) }, 'worker metrics listening');
  let closing: Promise<void> | undefined;
  return {
    metricsUrl: metricsServer?.url ?? null,
    close() {
      closing ??= (async () => {
        await workers.close(config.PITCREW_SHUTDOWN_TIMEOUT_MS);
        await metricsServer?.close();
        await fix?.egress?.close();
        await breakerPublisher.stop();
        await db.destroy();
        await connection.quit().catch(() => connection.disconnect());
        log.info('worker stopped');
      })();
      return closing;
    },
  };
}

/**
 * One start-up warning naming the configured models that have no known price and the settings
 * that fix it. With a USD budget their paid calls are refused (rules triage those failures,
 * marked budget-skipped); without one they run and their cost is recorded as 0 USD, unknown.
 */
function warnUnpriced(log: Logger, prices: ReturnType<typeof createPriceBook>, budgeted: boolean, models: (string | null | undefined)[]): void {
  const unknown = unpricedModels(prices, models);
  if (unknown.length === 0) return;
  const fix = `set LLM_PRICES='{"${unknown[0]}": {"input": <USD per Mtok>, "output": <USD per Mtok>}}', or LLM_FREE_MODELS=${unknown.join(',')} if it runs for free (a local model)`;
  log.warn(
    { models: unknown, budgeted },
    budgeted
      ? `no price is known for model(s) ${unknown.join(', ')}: with a USD budget set, their calls are refused and rules triage instead; ${fix}`
      : `no price is known for model(s) ${unknown.join(', ')}: their calls run but cost is recorded as 0 USD; ${fix}`,
  );
}

/**
 * The agent's sandbox from the environment, checked once at start: with `bwrap` a sandbox that
 * cannot start stops the worker with the fix named (`SandboxUnavailableError`); `none` is logged
 * as an error on every start.
 */
function agentSandbox(config: WorkerEnv, logger: Logger): SandboxPolicy {
  const policy = sandboxOf(config);
  if (policy.kind === 'none') logger.error('PITCREW_SANDBOX=none: the coding agent and the commands it runs are NOT sandboxed; they run with this worker\'s user, files and network');
  else assertSandboxWorks(policy);
  return policy;
}

function sandboxOf(config: WorkerEnv): SandboxPolicy {
  return { ...DEFAULT_SANDBOX, kind: config.PITCREW_SANDBOX, network: config.PITCREW_SANDBOX_NETWORK, readOnlyPaths: config.PITCREW_SANDBOX_RO_PATHS };
}

/**
 * The fix loop from the environment (`PITCREW_FIX*`), or `null` when it is off or its sandbox
 * cannot start here: then fixing refuses to start, with the reason and the fix in one error line,
 * and triage goes on. `PITCREW_SANDBOX=none` runs fixes unsandboxed, logged as an error.
 */
async function fixDeps(config: WorkerEnv, logger: Logger): Promise<(FixDeps & { concurrency: number; egress: EgressProxy | null }) | null> {
  if (config.PITCREW_FIX === 'off') return null;
  const network = config.PITCREW_FIX_NETWORK;
  const sandbox: SandboxPolicy = { ...sandboxOf(config), ...(typeof network === 'object' ? { network } : {}) };
  // One egress proxy per process, shared by its sandboxed fix commands (closed after the workers).
  const egress = typeof network === 'object' && sandbox.kind === 'bwrap' ? await startEgress(network.allow, logger) : null;
  if (egress) sandbox.egress = { socketPath: egress.socketPath };
  if (sandbox.kind === 'none') {
    logger.error('PITCREW_SANDBOX=none: fix and verification commands (and any fixing agent) are NOT sandboxed; they run with this worker\'s user, files and network');
  } else {
    try {
      assertSandboxWorks(sandbox);
    } catch (error) {
      logger.error({ err: error }, `fixing refuses to start: ${(error as Error).message}. Install bubblewrap (Debian: apt-get install bubblewrap${egress ? ' socat' : ''}), or set PITCREW_SANDBOX=none to run fixes unsandboxed; PITCREW_FIX is off in this worker`);
      await egress?.close();
      return null;
    }
  }
  const policy: FixPolicy = {
    mode: config.PITCREW_FIX,
    dryRun: config.PITCREW_FIX_DRY_RUN,
    dryRunDir: config.PITCREW_FIX_DRY_RUN_DIR ?? process.cwd(),
    fixer: config.PITCREW_FIX_FIXER,
    repositories: config.PITCREW_FIX_REPOS,
    branches: config.PITCREW_FIX_BRANCHES,
    categories: config.PITCREW_FIX_CATEGORIES,
    maxFiles: config.PITCREW_FIX_MAX_FILES,
    maxLines: config.PITCREW_FIX_MAX_LINES,
    usdPerFix: config.PITCREW_FIX_BUDGET_USD,
    timeoutMs: config.PITCREW_FIX_TIMEOUT_MS,
    commitLabel: config.PITCREW_FIX_COMMIT_LABEL,
    author: { name: config.PITCREW_FIX_AUTHOR_NAME, email: config.PITCREW_FIX_AUTHOR_EMAIL },
    maxIterations: config.PITCREW_FIX_MAX_ITERATIONS,
    loopUsd: config.PITCREW_FIX_LOOP_BUDGET_USD,
    breaker: { threshold: config.PITCREW_FIX_BREAKER_THRESHOLD, cooldownMs: config.PITCREW_FIX_BREAKER_COOLDOWN_MS },
    escalationLabel: config.PITCREW_FIX_ESCALATION_LABEL,
  };
  logger.info({ mode: policy.mode, dryRun: policy.dryRun, fixer: policy.fixer, categories: policy.categories, repositories: policy.repositories, sandbox: sandbox.kind, network: typeof network === 'object' ? network.allow : network }, 'fix loop on');
  return {
    policy,
    fixers: {
      rules: rulesFixer(),
      agent: config.PITCREW_AGENT_COMMAND ? agentFixer({ command: config.PITCREW_AGENT_COMMAND, timeoutMs: config.PITCREW_AGENT_TIMEOUT_MS, estimateUsd: config.PITCREW_AGENT_ESTIMATE_USD }) : null,
    },
    sandbox,
    ...(config.PITCREW_FIX_PATH.length ? { sandboxEnv: { PATH: [...config.PITCREW_FIX_PATH, '/usr/local/bin', '/usr/bin', '/bin'].join(':') } } : {}),
    cloneUrl: config.PITCREW_FIX_CLONE_URL ?? config.PITCREW_AGENT_CLONE_URL ?? 'https://github.com/{owner}/{repo}.git',
    workspaceRoot: config.PITCREW_WORKSPACE_ROOT,
    agentEstimateUsd: config.PITCREW_AGENT_ESTIMATE_USD,
    concurrency: config.PITCREW_FIX_CONCURRENCY,
    egress,
  };
}
