import { z } from 'zod';
import { splitList } from '@pitcrew/core';

/**
 * What the operator commands (`pitcrew failures|replay|spend|incidents|breakers`) read. They talk
 * to the admin API of a running ingest over HTTP, so they need no database or Redis credentials.
 */
export const CliEnv = z.object({
  /** Base URL of the ingest server, whose `/api` is the admin API (and `/webhooks/github` takes `replay FILE`). */
  PITCREW_API_URL: z.string().url().default('http://127.0.0.1:3000').describe('base URL of the ingest serving the admin API (default http://127.0.0.1:3000)'),
  /** The admin token the ingest was started with (sent as a bearer token). */
  PITCREW_ADMIN_TOKEN: z.string().min(16, 'use at least 16 characters').optional().describe('the admin token ingest was started with'),
  /** Webhook secret(s), comma-separated; `pitcrew replay FILE` signs with the first. */
  GITHUB_WEBHOOK_SECRET: z
    .string()
    .optional()
    .transform((value) => (value ? splitList(value) : []))
    .describe('replay FILE signs the delivery with the first secret'),
});
export type CliEnv = z.infer<typeof CliEnv>;
