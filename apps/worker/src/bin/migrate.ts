// One-shot migration entry point of the worker container image (the compose `migrate` service):
// brings DATABASE_URL to the latest schema and exits 0, like `pitcrew migrate`. Exits 2 on an
// invalid environment, 1 when a migration fails.
import { createDb, DatabaseEnv, exitOnStartError, migrateToLatest, parseEnv } from '@pitcrew/core';

try {
  const config = parseEnv(DatabaseEnv, process.env);
  const db = createDb(config.DATABASE_URL, 1);
  try {
    const applied = await migrateToLatest(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date');
  } finally {
    await db.destroy();
  }
} catch (error) {
  exitOnStartError(error);
}
