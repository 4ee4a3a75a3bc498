import pg from 'pg';

const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** SQLSTATEs meaning "someone else created it first". */
const ALREADY_EXISTS = new Set(['42P04', '23505']);

/**
 * Creates database `name` unless it exists (safe to call concurrently).
 *
 * @param adminUrl URL of a role allowed to create databases, e.g. to the `postgres` database
 * @param name letters, digits and `_`, not starting with a digit, at most 63 characters
 * @throws {Error} when the name is invalid, or (with `cause`) when the connection or query fails
 */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  if (!DATABASE_NAME.test(name)) {
    throw new Error(`invalid database name ${JSON.stringify(name)}: use letters, digits and _, at most 63 characters`);
  }
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  try {
    await client.connect();
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } catch (err) {
    if (ALREADY_EXISTS.has((err as { code?: string }).code ?? '')) return;
    throw new Error(`cannot create database ${name}`, { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
}
