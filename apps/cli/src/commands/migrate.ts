import { createDb, DatabaseEnv, migrateToLatest, parseEnv } from '@pitcrew/core';

/**
 * `pitcrew migrate`: brings `DATABASE_URL` to the latest schema.
 * @returns the names of the migrations applied
 */
export async function runMigrate(env: Record<string, string | undefined> = process.env): Promise<string[]> {
  const config = parseEnv(DatabaseEnv, env);
  const db = createDb(config.DATABASE_URL, 1);
  try {
    return await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}
