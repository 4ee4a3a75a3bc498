import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // `/pitcrew quiet` on a pull request: no further PR comments there.
  await db.schema
    .createTable('pr_quiet')
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('pr_number', 'integer', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('comment_id', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('pr_quiet_pkey', ['owner', 'repo', 'pr_number'])
    .execute();
  // `/pitcrew explain`: a requested retry that classifies for the strong model.
  await db.schema.alterTable('failures').addColumn('retry_model', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('failures').dropColumn('retry_model').execute();
  await db.schema.dropTable('pr_quiet').execute();
}
