import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // Retry from a stage: executions of this triage round have attempt > attempt_base.
  await db.schema
    .alterTable('failures')
    .addColumn('attempt_base', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('retry_from_stage', 'text')
    .addColumn('signature', 'text')
    .addColumn('incident_id', 'bigint')
    .execute();

  await db.schema
    .createTable('incidents')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('leader_failure_id', 'text', (c) => c.notNull().references('failures.id').onDelete('cascade'))
    .addColumn('occurrences', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('first_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('incidents_lookup_idx')
    .on('incidents')
    .columns(['owner', 'repo', 'signature', 'last_seen_at'])
    .execute();
  await db.schema
    .alterTable('failures')
    .addForeignKeyConstraint('failures_incident_fk', ['incident_id'], 'incidents', ['id'])
    .onDelete('set null')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('failures').dropConstraint('failures_incident_fk').execute();
  await db.schema.dropTable('incidents').execute();
  await db.schema
    .alterTable('failures')
    .dropColumn('attempt_base')
    .dropColumn('retry_from_stage')
    .dropColumn('signature')
    .dropColumn('incident_id')
    .execute();
}
