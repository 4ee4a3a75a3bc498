import { z } from 'zod';
import { DatabaseEnv, FixBreakerEnv, LogEnv, RedisEnv, splitList } from '@pitcrew/core';

/**
 * Every variable the ingest process reads. Parsed once in `main.ts`; nothing else reads
 * `process.env`.
 */
export const IngestEnv = z.object({
  ...LogEnv.shape,
  ...RedisEnv.shape,
  ...DatabaseEnv.shape,
  /**
   * The fix-loop breaker the admin API reports (`GET /api/fix-breakers`): PITCREW_FIX_BREAKER_THRESHOLD
   * exhausted loops in a row (default 3), PITCREW_FIX_BREAKER_COOLDOWN_MS (default 3,600,000 ms).
   * Set them as on the workers, which decide with them.
   */
  ...FixBreakerEnv.shape,
  /**
   * Ingest processes sharing the port (`node:cluster`); 1 = a single process. One Node process
   * serves HTTP on one core: on a host given to ingest, use its number of cores.
   */
  PITCREW_INGEST_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * ms ingest keeps serving after SIGTERM before it closes its port, with `/readyz` answering 503
   * (and `Connection: close`) meanwhile, so a load balancer that polls `/readyz` takes it out of
   * rotation first. 0 = close at once (in-flight requests still finish). On Kubernetes the pod's
   * preStop delay does this job (deploy/k8s); set it for load balancers with their own health checks.
   */
  PITCREW_INGEST_DRAIN_MS: z.coerce.number().int().min(0).max(300_000).default(0),
  /** TCP port of the HTTP server. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface to bind; `0.0.0.0` for containers. */
  HOST: z.string().default('0.0.0.0'),
  /**
   * Webhook secret(s), comma-separated. A delivery passes when its signature matches any of them,
   * so a secret can be rotated by adding the new one first and removing the old one later.
   */
  GITHUB_WEBHOOK_SECRET: z
    .string({ error: 'required: the secret configured on the GitHub webhook' })
    .transform(splitList)
    .pipe(z.array(z.string().min(1)).min(1, 'needs at least one secret')),
  /**
   * Largest accepted body in bytes; GitHub caps payloads at 25 MiB (GitHub docs, "Webhook events
   * and payloads": "Payloads are capped at 25 MB").
   */
  PITCREW_MAX_BODY_BYTES: z.coerce.number().int().positive().default(25 * 1024 * 1024),
  /** Attempts of each BullMQ job before it is marked failed. */
  PITCREW_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  /** Glob patterns over `owner/repo`, comma-separated; only matching repositories are triaged (unset: all). */
  PITCREW_REPOS_ALLOW: z.string().default('').transform(splitList),
  /** Glob patterns over `owner/repo`, comma-separated; matching repositories are ignored. Deny wins. */
  PITCREW_REPOS_DENY: z.string().default('').transform(splitList),
  /**
   * Resolution of failures when CI goes green: a completed success of a branch with open failures
   * (one Redis `EXISTS` per success) becomes a `resolutions` job. `false` answers every success
   * 202 ignored, as before.
   */
  PITCREW_RESOLUTION: z.stringbool().default(true),
  /** Bearer token (or basic-auth password) guarding Bull Board at /admin/queues and the admin API at /api; unset = neither. */
  PITCREW_ADMIN_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /** Bearer token Prometheus must send to `GET /metrics` (ingest and worker); unset = open (keep the port internal). */
  PITCREW_METRICS_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
});
export type IngestEnv = z.infer<typeof IngestEnv>;
