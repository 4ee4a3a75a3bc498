import { z } from 'zod';
import { DatabaseEnv, LlmEnv, LogEnv, RedisEnv } from '@pitcrew/core';

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
  PITCREW_RUNNER: z.enum(['auto', 'rules', 'llm']).default('auto'),
  /** ms to let active jobs finish on SIGTERM before closing hard (their locks then expire and another worker takes them). */
  PITCREW_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;
