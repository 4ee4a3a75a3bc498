import { z } from 'zod';
import { DatabaseEnv, FixBreakerEnv, LlmEnv, LogEnv, RedisEnv, SINKS, type SinkName } from '@pitcrew/core';
import { Strategy } from './runners/registry.ts';
import { parseNetworkSetting } from './sandbox/sandbox.ts';

const nonNegative = () => z.coerce.number().min(0);
const count = (fallback: number) => z.coerce.number().int().min(1).max(500).default(fallback);
const perMinute = () => z.coerce.number().int().min(0).default(0);
/** A comma-separated list (blank entries dropped). */
const list = (fallback = '') =>
  z
    .string()
    .default(fallback)
    .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean));

/**
 * Every variable a worker process reads. A worker on another host needs only `REDIS_URL` and
 * `DATABASE_URL` (and `LLM_*` to use a model). Parsed once in `main.ts`.
 */
export const WorkerEnv = z.object({
  ...LogEnv.shape,
  ...RedisEnv.shape,
  ...DatabaseEnv.shape,
  ...LlmEnv.shape,
  /** Triage jobs run at once in this process. Model calls are I/O-bound, so above the core count. */
  PITCREW_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(8),
  /** Attempts of each job before it is marked failed (must match ingest's for intake jobs). */
  PITCREW_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  /**
   * Runner of the execute stage: `auto` = `llm` when `LLM_BASE_URL` is set, else `rules`.
   */
  PITCREW_RUNNER: z.enum(['auto', 'rules', 'llm', 'agent']).default('auto'),
  /**
   * Runner and model per category, JSON: `{"test": {"runner": "agent"}, "lint": {"runner": "llm", "model": "qwen2.5:3b"}}`.
   */
  PITCREW_STRATEGY: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return {};
      try {
        return Strategy.parse(JSON.parse(raw));
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `not a strategy: ${String(error)}` });
        return z.NEVER;
      }
    }),
  /** Model for lint and typecheck failures (cheap); default `LLM_MODEL`. */
  LLM_MODEL_CHEAP: z.string().min(1).optional(),
  /** Model for test and unknown failures (strongest); default `LLM_MODEL`. */
  LLM_MODEL_STRONG: z.string().min(1).optional(),
  /** Ask the model to classify when the rules' confidence is below this (0-1); 0 = never. */
  PITCREW_LLM_CLASSIFY_BELOW: z.coerce.number().min(0).max(1).default(0.6),
  /** Jobs at once on the rules runner's queue, per process. */
  PITCREW_RUNNER_RULES_CONCURRENCY: count(16),
  PITCREW_RUNNER_RULES_RATE_PER_MIN: perMinute(),
  /** Jobs at once on the llm runner's queue, per process (a local model serves few at once). */
  PITCREW_RUNNER_LLM_CONCURRENCY: count(4),
  /** Model calls started per minute across all workers; 0 = unlimited. Match your provider's limit. */
  PITCREW_RUNNER_LLM_RATE_PER_MIN: perMinute(),
  PITCREW_RUNNER_AGENT_CONCURRENCY: count(1),
  PITCREW_RUNNER_AGENT_RATE_PER_MIN: perMinute(),
  /** Coding-agent CLI for the `agent` runner, shell-quoted: `claude -p --output-format stream-json`. Unset = no agent. */
  PITCREW_AGENT_COMMAND: z.string().min(1).optional(),
  /** ms before an agent run is killed (its whole process group). */
  PITCREW_AGENT_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(600_000),
  /** USD reserved against budgets per agent run (agents report their cost only at the end). */
  PITCREW_AGENT_ESTIMATE_USD: nonNegative().default(0.5),
  /** Directory for disposable checkouts of the failing SHA; unset = agents run in an empty temp dir. */
  PITCREW_WORKSPACE_ROOT: z.string().min(1).optional(),
  /** Clone URL template with {owner} and {repo}, e.g. https://github.com/{owner}/{repo}.git. */
  PITCREW_AGENT_CLONE_URL: z.string().min(1).optional(),
  /**
   * How agents and the commands they run are contained: `bwrap` (bubblewrap: own namespaces, the
   * system read-only, only the workspace writable, no network, limits) or `none` (explicitly no
   * sandbox, logged loudly at start). With `bwrap` an agent is refused unless the sandbox starts.
   */
  PITCREW_SANDBOX: z.enum(['bwrap', 'none']).default('bwrap'),
  /** The sandbox's network: `off` (own namespace, loopback only) or `host` (the host's network, e.g. for package registries). */
  PITCREW_SANDBOX_NETWORK: z.enum(['off', 'host']).default('off'),
  /** Extra paths the sandbox binds read-only, comma-separated: an agent installed outside /usr (e.g. /opt/claude). */
  PITCREW_SANDBOX_RO_PATHS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean)),
  /**
   * The fix loop (off by default): `propose` pushes a `pitcrew/fix/<failure-id>` branch and opens
   * a draft PR into the failing branch; `commit` pushes onto a PR's own head branch, only when the
   * PR carries PITCREW_FIX_COMMIT_LABEL and its branch is in the same repository.
   */
  PITCREW_FIX: z.enum(['off', 'propose', 'commit']).default('off'),
  /** Write each proposal (patch, PR title/body, verification) under PITCREW_FIX_DRY_RUN_DIR/.pitcrew/proposals/<failure-id>/ and push nothing. */
  PITCREW_FIX_DRY_RUN: z.stringbool().default(false),
  /** Where dry-run proposals go (default: the worker's working directory). */
  PITCREW_FIX_DRY_RUN_DIR: z.string().min(1).optional(),
  /** `rules` (a check's own fix mode, no model), `agent` (PITCREW_AGENT_COMMAND), or `auto`: rules when it applies, else the agent. */
  PITCREW_FIX_FIXER: z.enum(['rules', 'agent', 'auto']).default('auto'),
  /** `owner/repo` globs a fix may be attempted in, comma-separated; empty = every repository. */
  PITCREW_FIX_REPOS: list(),
  /** Branch globs a fix may be attempted on, comma-separated; empty = every branch. */
  PITCREW_FIX_BRANCHES: list(),
  /** Failure categories that are fixed, comma-separated. */
  PITCREW_FIX_CATEGORIES: list('lint,typecheck,test,build,dependency'),
  /** Files a fix may change at most (the guard's `too-many-files`). */
  PITCREW_FIX_MAX_FILES: z.coerce.number().int().min(1).default(10),
  /** Lines (added + deleted) a fix may change at most (the guard's `too-many-lines`). */
  PITCREW_FIX_MAX_LINES: z.coerce.number().int().min(1).default(200),
  /** USD one fix attempt may cost (the agent's estimate is checked first); 0 = only the org's budgets apply. */
  PITCREW_FIX_BUDGET_USD: nonNegative().default(1),
  /** ms each fix or verification command may run (the agent fixer: the lower of this and PITCREW_AGENT_TIMEOUT_MS). */
  PITCREW_FIX_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(600_000),
  /** Clone URL template with {owner} and {repo} for the fix's checkout and push; default PITCREW_AGENT_CLONE_URL, else https://github.com/{owner}/{repo}.git. */
  PITCREW_FIX_CLONE_URL: z.string().min(1).optional(),
  /** The PR label that lets PITCREW_FIX=commit push onto a PR's head branch. */
  PITCREW_FIX_COMMIT_LABEL: z.string().min(1).default('pitcrew:fix'),
  /** Author and committer of fix commits. */
  PITCREW_FIX_AUTHOR_NAME: z.string().min(1).default('pitcrew[bot]'),
  PITCREW_FIX_AUTHOR_EMAIL: z.string().min(3).default('pitcrew[bot]@users.noreply.github.com'),
  /**
   * Directories put first on `PATH` inside the sandbox for fix and verification commands,
   * comma-separated: toolchains installed outside /usr (bind them with PITCREW_SANDBOX_RO_PATHS),
   * e.g. `/opt/node/bin,/opt/go/bin`.
   */
  PITCREW_FIX_PATH: list(),
  /**
   * The network of fix and verification commands: `off` (none), or comma-separated hosts reached
   * through pitcrew's egress proxy only (`registry.npmjs.org,pypi.org,files.pythonhosted.org`;
   * `*.example.com`, `host:port`), for dependency downloads. Everything else gets a 403.
   */
  PITCREW_FIX_NETWORK: z
    .string()
    .default('off')
    .transform((value, ctx) => {
      try {
        return parseNetworkSetting(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Iterations of one fix loop at most (the first fix and one per CI failure on its branch); then the loop is escalated. */
  PITCREW_FIX_MAX_ITERATIONS: z.coerce.number().int().min(1).max(20).default(3),
  /** USD one fix loop may cost over all its iterations; 0 = no limit beyond PITCREW_FIX_BUDGET_USD per attempt. */
  PITCREW_FIX_LOOP_BUDGET_USD: nonNegative().default(3),
  /** The per-repository fix breaker (exhausted loops in a row, ms it stays open): shared with ingest's admin API. */
  ...FixBreakerEnv.shape,
  /** The label an escalated fix PR gets. */
  PITCREW_FIX_ESCALATION_LABEL: z.string().min(1).default('pitcrew:escalated'),
  /** Fix jobs at once per process (each holds a checkout and runs commands). */
  PITCREW_FIX_CONCURRENCY: count(1),
  /**
   * TensorZero gateway base URL (e.g. `http://tensorzero:3000`, no `/openai/v1`): an ended fix
   * loop's outcome is sent to its `POST /feedback`. Unset = no feedback.
   */
  PITCREW_TENSORZERO_URL: z.string().url().optional(),
  /** Boolean metric (`[metrics.<name>] type = "boolean"`, level `episode`) told whether the loop's PR was merged. */
  PITCREW_TENSORZERO_METRIC_MERGED: z.string().min(1).default('pitcrew_fix_merged'),
  /** Float metric (`type = "float"`, level `episode`) told how many iterations the loop took. */
  PITCREW_TENSORZERO_METRIC_ITERATIONS: z.string().min(1).default('pitcrew_fix_iterations'),
  /**
   * Once CI passes on a fix PR's commit (the check that failed succeeds on `pitcrew/fix/<id>`),
   * mark the draft PR ready for review (GitHub GraphQL `markPullRequestReadyForReview`; the App
   * needs `pull_requests: write`). `false` leaves it a draft; the verdict is recorded either way.
   */
  PITCREW_FIX_READY_ON_CI: z.stringbool().default(true),
  /** GitHub REST API base; GitHub Enterprise Server: `https://HOST/api/v3`. */
  GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  /** A token that can read Actions logs of the org's repositories (fine-grained: Actions read). */
  GITHUB_TOKEN: z.string().min(1).optional(),
  /** GitHub App id; with GITHUB_APP_PRIVATE_KEY, logs are read as the installation of each delivery. */
  GITHUB_APP_ID: z.string().min(1).optional(),
  /** The App's private key (PEM; `\n` escapes accepted). */
  GITHUB_APP_PRIVATE_KEY: z
    .string()
    .min(1)
    .optional()
    .transform((key) => key?.replaceAll('\\n', '\n')),
  /**
   * Where triage results go, comma-separated: `check-run`, `pr-comment`, `issue`, `slack`;
   * `none` = nowhere (empty = the default, as for every variable). GitHub sinks need a GitHub credential, `slack` needs PITCREW_SLACK_WEBHOOK_URL;
   * sinks that lack theirs are off (one log line at start-up says so).
   */
  PITCREW_PUBLISH: z
    .string()
    .default('check-run,pr-comment,issue,slack')
    .transform((raw, ctx) => {
      const names = raw.split(',').map((s) => s.trim()).filter((s) => s && s !== 'none');
      const bad = names.filter((n) => !(SINKS as readonly string[]).includes(n));
      if (bad.length) {
        ctx.addIssue({ code: 'custom', message: `unknown sink(s) ${bad.join(', ')}; known: ${SINKS.join(', ')}, none` });
        return z.NEVER;
      }
      return [...new Set(names)] as SinkName[];
    }),
  /**
   * Read each repository's `.github/pitcrew.yml` (default branch, GitHub contents API, cached in
   * Redis with its ETag), which can only narrow this configuration: sinks, quiet, fix mode,
   * categories and branches, re-runs, or pitcrew off. `false`: the organisation's configuration
   * everywhere, and no `repo-events` worker (config pushes and PR commands are not handled).
   */
  PITCREW_REPO_CONFIG: z.stringbool().default(true),
  /** Seconds a cached `.github/pitcrew.yml` is used before GitHub is asked again (a conditional request; a 304 reuses the cache); a push that changes it refreshes it at once. 0 = ask on every read. */
  PITCREW_REPO_CONFIG_TTL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /** `/pitcrew fix|rerun|explain|quiet` comments on pull requests, from users with write permission. `false`: commands are ignored (logged). */
  PITCREW_PR_COMMANDS: z.stringbool().default(true),
  /** Open one GitHub issue per incident once it has this many occurrences (the `issue` sink). */
  PITCREW_ESCALATE_AFTER: z.coerce.number().int().min(1).default(3),
  /**
   * The console's public base URL (`pitcrew console`), e.g. `https://pitcrew.example.com`: check
   * runs (`details_url`), PR comments, issues and Slack messages link to the failure's page,
   * `<url>/failures/<id>`. Unset = no link.
   */
  PITCREW_CONSOLE_URL: z.string().url().optional(),
  /** Slack-compatible incoming webhook URL (a secret); one message per failure. Unset = no Slack. */
  PITCREW_SLACK_WEBHOOK_URL: z.string().url().optional(),
  /** Failures with the same signature in one repository within this many hours share one incident; 0 disables. */
  PITCREW_INCIDENT_WINDOW_HOURS: z.coerce.number().min(0).default(24),
  /**
   * Hours an incident must stay with every occurrence resolved before pitcrew closes its escalation
   * issue with a comment (checked by a delayed job after each resolution); 0 = never close.
   */
  PITCREW_INCIDENT_QUIET_HOURS: z.coerce.number().min(0).default(24),
  /**
   * `owner/repo` globs (picomatch, comma-separated) whose transient failures (`infrastructure`,
   * `timeout`, flaky evidence, or the allow-list) have their failed job re-run through GitHub's API;
   * empty (default) = re-runs are off. Needs `actions: write`.
   */
  PITCREW_RERUN_REPOS: list(),
  /** Re-runs per workflow run at most (its first attempt only). */
  PITCREW_RERUN_MAX_PER_RUN: count(1),
  /** Re-runs per repository per clock hour at most. */
  PITCREW_RERUN_MAX_PER_REPO_HOUR: count(10),
  /**
   * Operator allow-list of regular expressions (comma-separated), matched against each line of the
   * log excerpt and against the failure signature: a match is re-run whatever the category.
   */
  PITCREW_RERUN_SIGNATURES: list().transform((patterns, ctx) => {
    try {
      return patterns.map((p) => new RegExp(p, 'i'));
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `not a regular expression: ${String(error)}` });
      return z.NEVER;
    }
  }),
  /** Consecutive failures that open a runner's circuit breaker. */
  PITCREW_BREAKER_THRESHOLD: z.coerce.number().int().min(1).default(5),
  /** ms a runner stays bypassed before one trial call. */
  PITCREW_BREAKER_COOLDOWN_MS: z.coerce.number().int().min(100).default(60_000),
  /** Model spend per UTC day for the whole org, USD; 0 = no limit. */
  PITCREW_BUDGET_DAILY_USD: nonNegative().default(0),
  /** Model spend per UTC day per repository, USD; 0 = no limit. */
  PITCREW_BUDGET_REPO_DAILY_USD: nonNegative().default(0),
  /** Model spend per failure over all its attempts, USD; 0 = no limit. */
  PITCREW_BUDGET_FAILURE_USD: nonNegative().default(0),
  /**
   * ms after a failure's delivery past which a failing model call is not retried: when the
   * next attempt would start later, rules triage it now (marked with the model's error). A model
   * that fails once, early, still gets its retry. Target: triaged by rules ≤ 15 s after delivery
   * while the model is down.
   */
  PITCREW_DEGRADE_AFTER_MS: z.coerce.number().int().min(0).default(8_000),
  /** ms to let active jobs finish on SIGTERM before closing hard (their locks then expire and another worker takes them). */
  PITCREW_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  /** Port of this process's Prometheus `GET /metrics`; 0 = no metrics server. Each worker process needs its own. */
  PITCREW_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Interface the metrics server binds. */
  PITCREW_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  /** Bearer token Prometheus must send to `GET /metrics` (ingest and worker); unset = open (keep the port internal). */
  PITCREW_METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /**
   * ms a job's lock lives without renewal (renewed every half of it). A worker that dies holding a
   * job is noticed after this; an event-loop stall longer than this makes a job look stalled.
   */
  PITCREW_LOCK_DURATION_MS: z.coerce.number().int().min(1_000).default(30_000),
  /** ms between stalled-job checks; a dead worker's job is back in the queue within lock duration + 2 × this. */
  PITCREW_STALLED_INTERVAL_MS: z.coerce.number().int().min(1_000).default(15_000),
  /** Times a job may stall (its worker died or hung) and be recovered before it is failed. */
  PITCREW_MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(20).default(2),
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;
