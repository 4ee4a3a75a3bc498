import type { Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // A dry-run proposal is written to disk, not pushed: where it went, and that it was a dry run.
  await db.schema
    .alterTable('fix_attempts')
    .addColumn('dry_run', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('proposal_path', 'text')
    .addColumn('reason', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('fix_attempts').dropColumn('dry_run').dropColumn('proposal_path').dropColumn('reason').execute();
}
