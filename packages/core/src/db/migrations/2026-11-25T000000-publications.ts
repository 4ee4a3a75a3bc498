import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // What each sink published for each failure: one row per (failure, sink), so re-running a
  // publish job finds the object it made (check run id, comment id, issue number) and updates it.
  await db.schema
    .createTable('publications')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('failure_id', 'text', (c) => c.notNull().references('failures.id').onDelete('cascade'))
    .addColumn('sink', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('external_id', 'text')
    .addColumn('external_url', 'text')
    .addColumn('detail', 'jsonb')
    .addColumn('content_hash', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('published_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('publications_failure_sink_key', ['failure_id', 'sink'])
    .execute();
  // One escalation issue per incident.
  await db.schema
    .alterTable('incidents')
    .addColumn('issue_number', 'integer')
    .addColumn('issue_url', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('incidents').dropColumn('issue_number').dropColumn('issue_url').execute();
  await db.schema.dropTable('publications').execute();
}
