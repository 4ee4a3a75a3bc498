import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // Model spend in USD per UTC day and scope (`org`, `repo:<owner>/<repo>`, `failure:<id>`):
  // `spent` is reconciled actual cost, `reserved` the estimates of calls in flight.
  await db.schema
    .createTable('spend')
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('spent_usd', sql`numeric(14, 6)`, (c) => c.notNull().defaultTo(0))
    .addColumn('reserved_usd', sql`numeric(14, 6)`, (c) => c.notNull().defaultTo(0))
    .addColumn('calls', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('spend_pkey', ['day', 'scope'])
    .execute();
  await db.schema
    .alterTable('failures')
    .addColumn('budget_skipped', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('failures').dropColumn('budget_skipped').execute();
  await db.schema.dropTable('spend').execute();
}
