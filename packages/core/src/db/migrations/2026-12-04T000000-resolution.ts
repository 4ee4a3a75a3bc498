import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // Resolution: a success of the same check on the same branch (or the fix loop's merged PR)
  // resolves a failure; time to green is resolved_at - received_at. Re-runs of transient failures
  // are recorded on the failure they re-ran.
  await db.schema
    .alterTable('failures')
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('resolved_by_sha', 'text')
    .addColumn('resolved_by_run_id', 'bigint')
    .addColumn('rerun', 'jsonb')
    .execute();
  // The resolution job's lookup: open failures of one repository and branch.
  await sql`create index failures_open_branch_idx on failures (owner, repo, branch) where resolved_at is null`.execute(db);
  // An incident whose escalation issue pitcrew closed after its quiet window.
  await db.schema.alterTable('incidents').addColumn('closed_at', 'timestamptz').execute();
  // The flaky registry: per (repository, workflow, job) with test = '', and per failing test name.
  await db.schema
    .createTable('flaky_tests')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('repo', 'text', (c) => c.notNull())
    .addColumn('workflow', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('job', 'text', (c) => c.notNull())
    .addColumn('test', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('observations', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('occurrences', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('first_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_failure_id', 'text')
    .addUniqueConstraint('flaky_tests_key', ['owner', 'repo', 'workflow', 'job', 'test'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('flaky_tests').execute();
  await db.schema.alterTable('incidents').dropColumn('closed_at').execute();
  await sql`drop index failures_open_branch_idx`.execute(db);
  await db.schema.alterTable('failures').dropColumn('resolved_at').dropColumn('resolved_by_sha').dropColumn('resolved_by_run_id').dropColumn('rerun').execute();
}
