import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('failures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('job', 'run')`))
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('branch', 'text')
    .addColumn('head_sha', 'text', (c) => c.notNull())
    .addColumn('run_id', 'bigint')
    .addColumn('run_attempt', 'integer')
    .addColumn('job_id', 'bigint')
    .addColumn('check_suite_id', 'bigint')
    .addColumn('workflow_name', 'text')
    .addColumn('job_name', 'text')
    .addColumn('check_name', 'text')
    .addColumn('html_url', 'text')
    .addColumn('conclusion', 'text', (c) => c.notNull())
    .addColumn('failed_steps', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('installation_id', 'bigint')
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('queued', 'running', 'triaged', 'failed')`),
    )
    .addColumn('category', 'text')
    .addColumn('confidence', 'real')
    .addColumn('runner', 'text')
    .addColumn('summary', 'text')
    .addColumn('error', 'text')
    .addColumn('first_delivery_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('failures_repo_received_idx')
    .on('failures')
    .columns(['owner', 'repo', 'received_at'])
    .execute();
  await db.schema.createIndex('failures_status_idx').on('failures').column('status').execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('action', 'text')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('accepted', 'merged')`))
    .addColumn('failure_id', 'text', (c) => c.references('failures.id').onDelete('set null'))
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('deliveries_failure_idx').on('deliveries').column('failure_id').execute();

  await db.schema
    .createTable('executions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('failure_id', 'text', (c) => c.notNull().references('failures.id').onDelete('cascade'))
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('runner', 'text', (c) => c.notNull())
    .addColumn('model', 'text')
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('running', 'succeeded', 'failed')`),
    )
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addColumn('duration_ms', 'integer')
    .addColumn('tokens_in', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tokens_out', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', sql`numeric(14, 6)`, (c) => c.notNull().defaultTo(0))
    .addColumn('output', 'jsonb')
    .addColumn('error', 'text')
    .addUniqueConstraint('executions_failure_stage_attempt_key', ['failure_id', 'stage', 'attempt'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('executions').execute();
  await db.schema.dropTable('deliveries').execute();
  await db.schema.dropTable('failures').execute();
}
