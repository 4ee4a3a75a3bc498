import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // One row per fix attempt (iteration) of a failure: what the fixer changed, what the guard and
  // the verification decided, where it was proposed, and (part 2 of the fix loop) its outcome.
  await db.schema
    .createTable('fix_attempts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('failure_id', 'text', (c) => c.notNull().references('failures.id').onDelete('cascade'))
    .addColumn('iteration', 'integer', (c) => c.notNull())
    .addColumn('fixer', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('guard_rule', 'text')
    .addColumn('guard_detail', 'text')
    .addColumn('files_changed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lines_changed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('verify_command', 'text')
    .addColumn('verify_exit_code', 'integer')
    .addColumn('verify_ms', 'integer')
    .addColumn('verify_output', 'text')
    .addColumn('branch', 'text')
    .addColumn('pr_number', 'integer')
    .addColumn('pr_url', 'text')
    .addColumn('outcome', 'text')
    .addColumn('tokens_in', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tokens_out', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'numeric(12, 6)', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .addUniqueConstraint('fix_attempts_failure_iteration_key', ['failure_id', 'iteration'])
    .execute();
  await db.schema.createIndex('fix_attempts_started_idx').on('fix_attempts').column('started_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('fix_attempts').execute();
}
