import { z } from 'zod';
import { splitList } from '@pitcrew/core';

/**
 * What the operator commands (`pitcrew failures|replay|spend|incidents|breakers`) read. They talk
 * to the admin API of a running console over HTTP, so they need no database or Redis credentials.
 */
export const CliEnv = z.object({
  /** Base URL of the console, whose `/api` is the admin API (`pitcrew console`, PITCREW_CONSOLE_PORT). */
  PITCREW_API_URL: z.string().url().default('http://127.0.0.1:3001').describe('base URL of the console serving the admin API (default http://127.0.0.1:3001)'),
  /** Base URL of ingest, whose `/webhooks/github` takes `pitcrew replay FILE`. */
  PITCREW_INGEST_URL: z.string().url().default('http://127.0.0.1:3000').describe('base URL of ingest, for replay FILE (default http://127.0.0.1:3000)'),
  /** The admin token the console was started with (sent as a bearer token). */
  PITCREW_ADMIN_TOKEN: z.string().min(16, 'use at least 16 characters').optional().describe('the admin token the console was started with'),
  /** Webhook secret(s), comma-separated; `pitcrew replay FILE` signs with the first. */
  GITHUB_WEBHOOK_SECRET: z
    .string()
    .optional()
    .transform((value) => (value ? splitList(value) : []))
    .describe('replay FILE signs the delivery with the first secret'),
});
export type CliEnv = z.infer<typeof CliEnv>;
