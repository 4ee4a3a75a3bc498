import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { createDb, type Database } from '@pitcrew/core';
import { databaseUrl, withAdminClient } from './admin-client.ts';
import { injectProvided } from './inject-provided.ts';

/** A database of its own for one test file, cloned from the migrated template. */
export interface TestDatabase {
  /** Postgres URL of this database. */
  url: string;
  /** `test_<32 hex>`. */
  name: string;
  /** Kysely over a pool of at most 5 connections. */
  db: Kysely<Database>;
  /** Destroys `db` and drops the database, closing any other connection to it. Idempotent. */
  destroy(): Promise<void>;
}

/** SQLSTATE object_in_use: "source database ... is being accessed by other users". */
const OBJECT_IN_USE = '55006';
const CLONE_DEADLINE_MS = 15_000;

/**
 * Creates `test_<random>` from the template database provided by the testkit global setup
 * (all migrations applied, no rows). Call in `beforeAll`/`beforeEach` of a test file run by
 * the root vitest config, and `destroy()` it in the matching after-hook.
 *
 * @throws {Error} with `cause` when CREATE DATABASE fails, or is still refused after 15 s
 *   because the template is busy
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = injectProvided('postgresAdminUrl');
  const template = injectProvided('postgresTemplate');
  const name = `test_${randomUUID().replaceAll('-', '')}`;
  await withAdminClient(adminUrl, async (client) => {
    const sql = `CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(template)}`;
    const deadline = Date.now() + CLONE_DEADLINE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(sql);
        return;
      } catch (err) {
        const busy = (err as { code?: string }).code === OBJECT_IN_USE;
        if (!busy || Date.now() > deadline) {
          throw new Error(`cannot create test database ${name} from ${template}`, { cause: err });
        }
        await sleep(Math.min(500, 20 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  });

  const url = databaseUrl(adminUrl, name);
  const db = createDb(url, 5);
  let destroying: Promise<void> | undefined;
  return {
    url,
    name,
    db,
    destroy() {
      destroying ??= (async () => {
        await db.destroy();
        await withAdminClient(adminUrl, (client) =>
          client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`),
        );
      })();
      return destroying;
    },
  };
}
