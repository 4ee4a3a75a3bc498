import { z } from 'zod';
import { DatabaseEnv, FixBreakerEnv, LogEnv, RedisEnv } from '@pitcrew/core';

/**
 * Every variable the console process reads. Parsed once in `main.ts`; nothing else reads
 * `process.env`. The console is for operators: keep its port off the internet (ingest's port is
 * the one GitHub reaches).
 */
export const ConsoleEnv = z.object({
  ...LogEnv.shape,
  ...RedisEnv.shape,
  ...DatabaseEnv.shape,
  /**
   * The fix-loop breaker the admin API reports (`GET /api/fix-breakers`): PITCREW_FIX_BREAKER_THRESHOLD
   * exhausted loops in a row (default 3), PITCREW_FIX_BREAKER_COOLDOWN_MS (default 3,600,000 ms).
   * Set them as on the workers, which decide with them.
   */
  ...FixBreakerEnv.shape,
  /** TCP port of the console (admin API at /api, Bull Board at /admin/queues, the pages at /). */
  PITCREW_CONSOLE_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  /** Interface the console binds; `0.0.0.0` for containers. */
  PITCREW_CONSOLE_HOST: z.string().default('0.0.0.0'),
  /**
   * The admin token: the bearer token of `/api` and what an operator types at `/login`. Required:
   * the console serves nothing without it.
   */
  PITCREW_ADMIN_TOKEN: z.string({ error: 'required: the console signs operators in with it' }).min(16, 'use at least 16 characters'),
  /**
   * Key the session cookie is signed with (HMAC-SHA256) and CSRF tokens are derived from; unset =
   * derived from PITCREW_ADMIN_TOKEN, so rotating the token also ends every session.
   */
  PITCREW_CONSOLE_SESSION_SECRET: z.string().min(32, 'use at least 32 characters').optional(),
  /** How long a console sign-in lasts, ms (default 12 h). */
  PITCREW_CONSOLE_SESSION_TTL_MS: z.coerce.number().int().min(60_000).max(30 * 86_400_000).default(12 * 3_600_000),
  /**
   * The console's public base URL as browsers reach it (e.g. `https://pitcrew.example.com`, behind
   * a proxy): forms posted from that origin pass the CSRF origin check, and the session cookie is
   * `Secure` when it is https. Workers link check runs and PR comments to its failure pages with
   * the same variable.
   */
  PITCREW_CONSOLE_URL: z.string().url().optional(),
  /**
   * GitHub REST API base (as the workers'); GitHub Enterprise Server: `https://HOST/api/v3`. The
   * GitHub App page exchanges the manifest code there and posts the manifest form to the matching
   * web URL (`https://github.com`, `https://HOST`).
   */
  GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  /**
   * The dotenv file the GitHub App page (`/github-app`) writes the App id, private key and webhook
   * secret to, relative to the console's working directory: `.env`, the one `pitcrew start` and
   * the CLI load. A deployment creates its App with `pitcrew github-app create` and puts the
   * values into its Secret instead.
   */
  PITCREW_CONSOLE_ENV_FILE: z.string().min(1).default('.env'),
  /**
   * Ingest's public base URL as GitHub reaches it (e.g. `https://pitcrew.example.com`): the GitHub
   * App page proposes `<url>/webhooks/github` as the App's webhook URL. Unset: the operator types it.
   */
  PITCREW_INGEST_PUBLIC_URL: z.string().url().optional(),
  /** Attempts of each BullMQ job the console adds (a retry's triage job, a replay's intake job). */
  PITCREW_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
});
export type ConsoleEnv = z.infer<typeof ConsoleEnv>;
