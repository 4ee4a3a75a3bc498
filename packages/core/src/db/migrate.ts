import { Kysely, Migrator, PostgresDialect, type LogEvent, type Migration, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import type { Database } from './database.ts';
import * as m20261124initial from './migrations/2026-11-24T000000-initial.ts';
import * as m20261124retries from './migrations/2026-11-24T010000-retries-and-incidents.ts';
import * as m20261124spend from './migrations/2026-11-24T020000-spend.ts';
import * as m20261125publications from './migrations/2026-11-25T000000-publications.ts';
import * as m20261125adminIndexes from './migrations/2026-11-25T180000-admin-indexes.ts';
import * as m20261202fixAttempts from './migrations/2026-12-02T000000-fix-attempts.ts';
import * as m20261203fixProposals from './migrations/2026-12-03T000000-fix-proposals.ts';
import * as m20261203fixLoops from './migrations/2026-12-03T010000-fix-loops.ts';
import * as m20261204resolution from './migrations/2026-12-04T000000-resolution.ts';
import * as m20261204prCommands from './migrations/2026-12-04T100000-pr-commands.ts';

/**
 * Every migration, by name. Listed statically (not read from disk) so the set is the same under
 * tsx, a bundle or a container image; names sort in time order as Kysely's Migrator requires.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '2026-11-24T000000-initial': m20261124initial,
  '2026-11-24T010000-retries-and-incidents': m20261124retries,
  '2026-11-24T020000-spend': m20261124spend,
  '2026-11-25T000000-publications': m20261125publications,
  '2026-11-25T180000-admin-indexes': m20261125adminIndexes,
  '2026-12-02T000000-fix-attempts': m20261202fixAttempts,
  '2026-12-03T000000-fix-proposals': m20261203fixProposals,
  '2026-12-03T010000-fix-loops': m20261203fixLoops,
  '2026-12-04T000000-resolution': m20261204resolution,
  '2026-12-04T100000-pr-commands': m20261204prCommands,
};

/**
 * Brings the schema to the latest migration with Kysely's Migrator (which takes a Postgres
 * advisory lock, so several processes may call it at once).
 *
 * @returns the names of migrations applied by this call
 * @throws {Error} with `cause` set to the migration error when one fails
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed`, { cause: result.error });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Creates a Kysely instance over a pg pool.
 *
 * An idle pooled connection that Postgres closes (restart, failover, `pg_terminate_backend`)
 * makes the pool emit `error`; unhandled, that event would crash the process (pg docs, "Pool":
 * "you probably want to add an event listener"). The pool has already dropped the client, the
 * next query opens a new connection, and queries in flight fail on their own, so `onIdleError`
 * (default: nothing) is only told.
 *
 * @param url a Postgres URL
 * @param poolSize maximum connections in the pool
 * @param onIdleError called with the error of an idle connection that was lost
 * @param onQuery told of every statement sent, `begin`/`commit` included (Kysely's query log):
 *   what `pitcrew bench worker` counts as statements per failure
 */
export function createDb(url: string, poolSize = 10, onIdleError: (error: Error) => void = () => {}, onQuery?: (sql: string) => void): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  pool.on('error', onIdleError);
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery ? { log: (event: LogEvent) => onQuery(event.query.sql) } : {}),
  });
}
