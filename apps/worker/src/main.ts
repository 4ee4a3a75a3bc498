import { Redis } from 'ioredis';
import { createDb, createLogger, parseEnv, type Logger } from '@pitcrew/core';
import { createLlmClient, resolvePrices, type LlmClient } from '@pitcrew/llm';
import { WorkerEnv } from './env.ts';
import { createRunnerRegistry } from './runners/registry.ts';
import { createWorkers } from './worker.ts';

/** A running worker process. */
export interface WorkerHandle {
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
  const db = createDb(config.DATABASE_URL, config.PITCREW_DB_POOL_SIZE);
  let llm: LlmClient | null = null;
  if (config.LLM_BASE_URL) {
    llm = createLlmClient({
      baseURL: config.LLM_BASE_URL,
      apiKey: config.LLM_API_KEY,
      model: config.LLM_MODEL,
      timeoutMs: config.LLM_TIMEOUT_MS,
      maxRetries: config.LLM_MAX_RETRIES,
      maxTokens: config.LLM_MAX_TOKENS,
      prices: resolvePrices(config.LLM_PRICES),
    });
  }
  const runners = createRunnerRegistry(config.PITCREW_RUNNER, llm);
  const workers = createWorkers({
    connection,
    prefix: config.PITCREW_QUEUE_PREFIX,
    db,
    runners,
    logger: log,
    concurrency: config.PITCREW_WORKER_CONCURRENCY,
    attempts: config.PITCREW_JOB_ATTEMPTS,
  });
  log.info(
    { runner: runners.primary.name, model: runners.primary.model, concurrency: config.PITCREW_WORKER_CONCURRENCY },
    'worker started',
  );
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        await workers.close(config.PITCREW_SHUTDOWN_TIMEOUT_MS);
        await db.destroy();
        await connection.quit().catch(() => connection.disconnect());
        log.info('worker stopped');
      })();
      return closing;
    },
  };
}
