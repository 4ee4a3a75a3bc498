import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here.

export async function up(db: Kysely<any>): Promise<void> {
  // Fix loop part 2: each iteration answers CI's verdict on the previous one; the loop ends
  // verified by CI, escalated, or with the pull request's outcome.
  await db.schema
    .alterTable('fix_attempts')
    .addColumn('head_sha', 'text')
    .addColumn('commit_sha', 'text')
    .addColumn('ci_failure_id', 'text')
    .addColumn('ci_verdict', 'text')
    .addColumn('ci_verdict_at', 'timestamptz')
    .addColumn('escalation', 'text')
    .addColumn('merged_by', 'text')
    .addColumn('outcome_at', 'timestamptz')
    .addColumn('ready_for_review', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.createIndex('fix_attempts_branch_idx').on('fix_attempts').column('branch').execute();
  // A failure of CI on a fix branch belongs to the loop of the failure it fixes: no incident, no publishing of its own.
  await db.schema.alterTable('failures').addColumn('fix_loop_id', 'text').execute();
  await db.schema.alterTable('executions').addColumn('inference_id', 'text').addColumn('episode_id', 'text').execute();
  await sql`
    create view fix_loops as
    select
      a.failure_id as loop_id,
      f.owner,
      f.repo,
      f.category,
      max(a.iteration) as iterations,
      (array_agg(a.status order by a.iteration desc))[1] as last_status,
      (array_agg(a.fixer order by a.iteration desc))[1] as fixer,
      (array_agg(a.escalation order by a.iteration desc))[1] as escalation,
      bool_or(a.ci_verdict = 'passed') as verified_by_ci,
      (array_agg(a.outcome order by a.iteration desc) filter (where a.outcome is not null))[1] as outcome,
      (array_agg(a.merged_by order by a.iteration desc) filter (where a.merged_by is not null))[1] as merged_by,
      max(a.outcome_at) as outcome_at,
      max(a.branch) as branch,
      max(a.pr_number) as pr_number,
      max(a.pr_url) as pr_url,
      sum(a.tokens_in)::integer as tokens_in,
      sum(a.tokens_out)::integer as tokens_out,
      sum(a.cost_usd) as cost_usd,
      min(a.started_at) as started_at,
      max(a.finished_at) as finished_at,
      min(a.finished_at) filter (where a.status = 'proposed') as proposed_at,
      case
        when bool_or(a.outcome is not null) then (array_agg(a.outcome order by a.iteration desc) filter (where a.outcome is not null))[1]
        when bool_or(a.ci_verdict = 'passed') then 'verified_by_ci'
        when (array_agg(a.status order by a.iteration desc))[1] = 'escalated' or (array_agg(a.escalation order by a.iteration desc))[1] is not null then 'escalated'
        when (array_agg(a.status order by a.iteration desc))[1] in ('running', 'proposed') then 'open'
        else 'ended'
      end as status
    from fix_attempts a
    join failures f on f.id = a.failure_id
    group by a.failure_id, f.owner, f.repo, f.category
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop view fix_loops`.execute(db);
  await db.schema.alterTable('executions').dropColumn('inference_id').dropColumn('episode_id').execute();
  await db.schema.alterTable('failures').dropColumn('fix_loop_id').execute();
  await db.schema.dropIndex('fix_attempts_branch_idx').execute();
  await db.schema
    .alterTable('fix_attempts')
    .dropColumn('head_sha').dropColumn('commit_sha').dropColumn('ci_failure_id').dropColumn('ci_verdict').dropColumn('ci_verdict_at')
    .dropColumn('escalation').dropColumn('merged_by').dropColumn('outcome_at').dropColumn('ready_for_review')
    .execute();
}
