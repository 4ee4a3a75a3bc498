import { z } from 'zod';
import { redisHashTag } from './queue.ts';
import { parseRedisUrl } from './redis-connection.ts';

/**
 * Thrown by {@link parseEnv} when the environment does not satisfy a schema. `issues` names each
 * variable and what is wrong with it, so `main.ts` can print it and exit non-zero.
 */
export class ConfigError extends Error {
  constructor(
    readonly issues: { variable: string; message: string }[],
    options?: { cause?: unknown },
  ) {
    super(
      `invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`,
      options,
    );
    this.name = 'ConfigError';
  }
}

/**
 * Parses `env` (normally `process.env`) with a zod object schema of UPPER_SNAKE variables.
 * Empty strings count as unset so `FOO=` in a `.env` file falls back to the default.
 *
 * @returns the parsed, defaulted and coerced configuration
 * @throws {ConfigError} naming every variable that is missing or invalid
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(root)'),
      message: issue.message,
    })),
    { cause: result.error },
  );
}

/** A positive integer from a string, e.g. `"25"` → 25. */
const positiveInt = () => z.coerce.number().int().positive();

/** Logging, shared by every process. */
export const LogEnv = z.object({
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Where the queue lives. Workers on other hosts need only this and {@link DatabaseEnv}. */
export const RedisEnv = z.object({
  /**
   * Where Redis is. One server: `redis://localhost:6379/0`, TLS `rediss://user:pass@host:6380`.
   * Redis Cluster: `redis+cluster://[user:pass@]host1:6379,host2:6379` (seed nodes; ioredis finds
   * the rest), TLS `rediss+cluster://…` (see `parseRedisUrl`).
   */
  REDIS_URL: z.string().superRefine((url, ctx) => {
    try {
      parseRedisUrl(url);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  }),
  /**
   * BullMQ key prefix, which every Redis key pitcrew writes starts with. It must hold a Redis
   * Cluster hash tag (`{...}`), so every key of every queue and pitcrew's own keys land in one
   * slot and BullMQ's multi-key scripts work on a cluster (BullMQ docs, "Redis Cluster").
   */
  PITCREW_QUEUE_PREFIX: z
    .string()
    .min(1)
    .default('{pitcrew}')
    .refine((prefix) => redisHashTag(prefix) !== null, 'needs a Redis Cluster hash tag, e.g. {pitcrew}'),
});

/** Where results live. */
export const DatabaseEnv = z.object({
  /** Postgres URL, e.g. `postgres://pitcrew:secret@db:5432/pitcrew`. */
  DATABASE_URL: z.string().url(),
  /** Connections in this process's pg pool. */
  PITCREW_DB_POOL_SIZE: positiveInt().default(10),
});

/** The OpenAI-compatible model server used by the `llm` runner. Unset `LLM_BASE_URL` = no model. */
export const LlmEnv = z.object({
  /** Base URL of an OpenAI-compatible API, e.g. `http://localhost:11434/v1` (Ollama). */
  LLM_BASE_URL: z.string().url().optional(),
  /** Bearer key; local servers ignore it. */
  LLM_API_KEY: z.string().default('pitcrew-local'),
  /** Model name as the server knows it, e.g. `llama3.1:8b`, `gpt-4o-mini`. */
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** Per-request timeout in ms, passed to the openai SDK. */
  LLM_TIMEOUT_MS: positiveInt().default(120_000),
  /** Retries of 408/409/429/5xx and connection errors by the openai SDK (honours Retry-After). */
  LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /** Upper bound of completion tokens per call. */
  LLM_MAX_TOKENS: positiveInt().default(1024),
  /**
   * The operator's prices as JSON, USD per million tokens: `{"my-model": {"input": 0.5, "output": 1.5}}`.
   * They win over the maintained catalogue (`@pydantic/genai-prices`); a key prices the model of
   * that name and, as the longest prefix, its variants. `{"input": 0, "output": 0}` marks a model
   * free. A model priced nowhere is unknown, never 0: with a USD budget its calls are refused.
   */
  LLM_PRICES: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return {};
      try {
        return ModelPrices.parse(JSON.parse(raw));
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `not a JSON price table: ${String(error)}` });
        return z.NEVER;
      }
    }),
  /**
   * Models the operator runs for free, comma-separated glob patterns (`*` = anything):
   * `llama*,qwen2.5-coder:*`, or `*` when `LLM_BASE_URL` serves only local models (Ollama, vLLM,
   * llama.cpp, LM Studio). Costed at 0 USD, so budgets never refuse them.
   */
  LLM_FREE_MODELS: z.string().default('').transform(splitList),
});

/** USD per million tokens, per model name. */
export const ModelPrices = z.record(
  z.string(),
  z.object({ input: z.number().min(0), output: z.number().min(0) }),
);
export type ModelPrices = z.infer<typeof ModelPrices>;

/**
 * Splits a comma-separated list, trims, drops empties. `"a, b,,c"` → `["a","b","c"]`.
 */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
