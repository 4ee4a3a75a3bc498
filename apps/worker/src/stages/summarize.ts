import { z } from 'zod';
import { buildSummaryPrompt, checkNameOf, extractSummarySection, findFailure, summaryFromRules, triageCompleted, type CiFailure } from '@pitcrew/core';
import { estimateTokens } from '@pitcrew/llm';
import { guarded } from '../guards/guarded.ts';
import type { ClassifyOutput } from './classify.ts';
import type { ExecuteOutput } from './execute.ts';
import type { StageDefinition, StageResult } from './stage.ts';

/** Output of the summarize stage; `source` says where the summary came from. */
export const SummarizeOutput = z.object({
  summary: z.string(),
  source: z.enum(['runner-output', 'llm', 'rules']),
});
export type SummarizeOutput = z.infer<typeof SummarizeOutput>;

/** What summarize needs: the classification and the execution it summarizes. */
export interface SummarizeNeeds {
  classify: ClassifyOutput;
  execute: ExecuteOutput;
}

/** Completion tokens a model summary may use (two or three sentences). */
const SUMMARY_MAX_TOKENS = 256;

/**
 * summarize: one paragraph for check runs, comments and the failure list. The runner's own
 * `## Summary` section when it wrote one; else the model, when one is configured and the
 * execution was not already a fallback from it; else the rules' sentence. Completes the
 * failure's triage (`triaged`, its runner and summary) in the same write as the execution.
 *
 * A follower of an incident (`execute.sharedFrom`) shares its leader's diagnosis, which names the
 * leader's job; its summary then starts by naming both jobs ({@link sharedDiagnosisLead}), so a
 * check run or comment on the follower's job does not read as about another job.
 */
export const summarizeStage: StageDefinition<SummarizeOutput, SummarizeNeeds> = {
  name: 'summarize',
  output: SummarizeOutput,
  needs: ['classify', 'execute'],
  plan: (_scope, _needs, deps) => ({ runner: deps.runners.llm ? 'llm' : 'rules', model: deps.runners.llm?.model ?? null }),
  async run(scope, { classify, execute }, deps) {
    const lead = execute.sharedFrom ? await sharedDiagnosisLead(scope.failure, execute.sharedFrom, deps.db) : '';
    const done = (result: Omit<StageResult<SummarizeOutput>, 'failure'>): StageResult<SummarizeOutput> => {
      const output = { ...result.output, summary: lead + result.output.summary };
      return {
        ...result,
        output,
        failure: triageCompleted({ runner: execute.runner, summary: output.summary, budgetSkipped: Boolean(execute.fallbackReason?.startsWith('budget')) }),
      };
    };
    const section = extractSummarySection(execute.markdown);
    if (section) return done({ output: { summary: section, source: 'runner-output' }, runner: 'runner-output', model: null });
    const llm = deps.runners.llm;
    if (llm && !execute.fallbackFrom) {
      const messages = buildSummaryPrompt(execute.markdown);
      const attempt = await guarded(
        deps,
        scope,
        { name: 'llm', model: llm.model },
        () => llm.prices.cost(llm.model, estimateTokens(messages.map((m) => m.content).join('\n')), SUMMARY_MAX_TOKENS),
        async () => llm.complete({ messages, maxTokens: SUMMARY_MAX_TOKENS, signal: scope.run.signal }),
      );
      if (attempt.ok && attempt.value.text.trim()) {
        const c = attempt.value;
        return done({ output: { summary: c.text.trim(), source: 'llm' }, runner: 'llm', model: c.model, tokensIn: c.tokensIn, tokensOut: c.tokensOut, costUsd: c.costUsd });
      }
    }
    return done({ output: { summary: summaryFromRules(scope.failure, classify), source: 'rules' }, runner: 'rules', model: null });
  },
};

/**
 * "`unit (node 22)` failed the same way as `unit (node 20)` (one incident, one diagnosis): ", the
 * start of a follower's summary: its own job and its leader's (`checkNameOf` both; the leader's
 * id when its row is gone or names no check).
 */
async function sharedDiagnosisLead(failure: CiFailure, leaderId: string, db: Parameters<typeof findFailure>[0]): Promise<string> {
  const leader = await findFailure(db, leaderId);
  const own = checkNameOf(failure) ?? 'this job';
  const theirs = (leader && checkNameOf({ jobName: leader.job_name, workflowName: leader.workflow_name, checkName: leader.check_name })) || leaderId;
  return `\`${own}\` failed the same way as \`${theirs}\` (one incident, one diagnosis): `;
}
