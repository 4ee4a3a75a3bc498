import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Loads `.env` from the working directory into `process.env` when it exists, without overriding
 * variables already set (Node's own `process.loadEnvFile`, Node ≥ 20.12).
 *
 * @returns the path loaded, or `null`
 */
export function loadDotEnv(path = resolve(process.cwd(), '.env')): string | null {
  if (!existsSync(path)) return null;
  process.loadEnvFile(path);
  return path;
}
