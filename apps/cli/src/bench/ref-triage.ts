/**
 * The naive reference of `pitcrew bench worker` (target `reference`): one BullMQ job per failure
 * (the intake job), whose processor does the rules triage pitcrew does (classification, the rules
 * plan, the summary) and writes the same rows naively, in one transaction: the failure, its
 * delivery and three execution rows. No stage protocol, no resumption, no per-runner queue: what a
 * first version of such a worker would be. `ref-triage-main.ts` runs it as a child process.
 */
import type { Job } from 'bullmq';
import type { Kysely } from 'kysely';
import { classifyFailure, IntakeJobData, planFromRules, summaryFromRules, type Database } from '@pitcrew/core';

/** The reference processor over `db`: parse, triage by rules, one transaction of three inserts (the failure, its delivery, three execution rows). */
export function referenceProcessor(db: Kysely<Database>) {
  return async (job: Job) => {
    const data = IntakeJobData.parse(job.data);
    const f = data.failure;
    const classification = classifyFailure(f, null);
    const markdown = planFromRules(f, classification);
    const summary = summaryFromRules(f, classification);
    const now = new Date();
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('failures')
        .values({
          id: f.id, provider: f.provider, kind: f.kind, owner: f.owner, repo: f.repo, branch: f.branch, head_sha: f.headSha, run_id: f.runId,
          run_attempt: f.runAttempt, job_id: f.jobId, check_suite_id: f.checkSuiteId, workflow_name: f.workflowName, job_name: f.jobName,
          check_name: f.checkName, html_url: f.htmlUrl, conclusion: f.conclusion, failed_steps: JSON.stringify(f.failedSteps),
          installation_id: f.installationId, data: JSON.stringify(f), status: 'triaged', category: classification.category,
          confidence: classification.confidence, runner: 'rules', summary, first_delivery_id: data.deliveryId, received_at: data.receivedAt, finished_at: now,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      await trx
        .insertInto('deliveries')
        .values({ id: data.deliveryId, event: data.event, action: data.action, received_at: data.receivedAt, outcome: 'accepted', failure_id: f.id, payload: JSON.stringify(data.payload) })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      const row = (stage: string, output: unknown) => ({ failure_id: f.id, stage, attempt: 1, runner: 'rules', model: null, status: 'succeeded' as const, started_at: now, finished_at: now, duration_ms: 0, output: JSON.stringify(output) });
      await trx
        .insertInto('executions')
        .values([row('classify', classification), row('execute', { runner: 'rules', model: null, markdown }), row('summarize', { summary, source: 'rules' })])
        .onConflict((oc) => oc.columns(['failure_id', 'stage', 'attempt']).doNothing())
        .execute();
    });
  };
}
