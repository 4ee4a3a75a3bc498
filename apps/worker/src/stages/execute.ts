import { z } from 'zod';
import { findFailure, findSucceededExecution, loopEpisodeId } from '@pitcrew/core';
import { LeaderPendingError } from '../errors.ts';
import { guarded } from '../guards/guarded.ts';
import type { Runner, RunnerInput } from '../runners/runner.ts';
import type { ClassifyOutput } from './classify.ts';
import { parseOutput } from './runner.ts';
import type { StageDefinition, StageDeps, TriageScope } from './stage.ts';

/** Output of the execute stage: the runner's markdown (`## Diagnosis`, `## Investigation plan`, `## Summary`). */
export const ExecuteOutput = z.object({
  runner: z.string(),
  model: z.string().nullable(),
  markdown: z.string(),
  /** Set when the chosen runner could not serve and rules stood in. */
  fallbackFrom: z.string().optional(),
  /** Why: `budget_skipped: …`, `circuit open …`, the runner's error. */
  fallbackReason: z.string().optional(),
  /** Set when this is the incident leader's execution, reused. */
  sharedFrom: z.string().optional(),
  incidentId: z.string().optional(),
});
export type ExecuteOutput = z.infer<typeof ExecuteOutput>;

/** What execute needs: the classification, and the incident leader's execution when this failure follows one. */
export interface ExecuteNeeds {
  classify: ClassifyOutput;
  /** From {@link leaderExecution}; `null` for leaders and failures without incident. */
  shared: ExecuteOutput | null;
}

/** How long a follower waits for its incident leader before executing on its own, ms. */
export const LEADER_WAIT_MS = 10 * 60_000;

/**
 * execute: the runner chosen at classify diagnoses the failure. A follower of an incident reuses
 * its leader's execution (one breakage, one diagnosis, paid once). Model and agent calls pass the
 * failure's budgets and the runner's breaker; when either refuses, or the runner fails on the last
 * attempt (or past the degrade deadline), the rules runner stands in and the output says so
 * (degrade, don't drop).
 */
export const executeStage: StageDefinition<ExecuteOutput, ExecuteNeeds> = {
  name: 'execute',
  output: ExecuteOutput,
  needs: ['classify'],
  plan(_scope, { classify, shared }, deps) {
    if (shared) return { runner: shared.runner, model: shared.model };
    const chosen = chosenRunner(deps, classify);
    return { runner: chosen.name, model: classify.model ?? chosen.model };
  },
  async run(scope, { classify, shared }, deps) {
    // One breakage, one diagnosis: the incident leader's execution serves this failure too.
    if (shared) return { output: shared, runner: shared.runner, model: shared.model };
    const { runners } = deps;
    const chosen = chosenRunner(deps, classify);
    const input: RunnerInput = { failure: scope.failure, classification: classify, logExcerpt: classify.logExcerpt, model: classify.model, signal: scope.run.signal };
    // One TensorZero episode per fix loop; only the llm runner's calls go through the gateway.
    if (chosen.name === 'llm') input.episodeId = await loopEpisodeId(deps.db, scope.failure);
    const attempt = await guarded(deps, scope, { name: chosen.name, model: input.model ?? chosen.model }, () => chosen.estimateUsd(input), () => chosen.execute(input));
    if (attempt.ok) {
      const out = attempt.value;
      return {
        output: { runner: chosen.name, model: out.model, markdown: out.markdown },
        runner: chosen.name,
        model: out.model,
        tokensIn: out.tokensIn,
        tokensOut: out.tokensOut,
        costUsd: out.costUsd,
        inferenceId: out.inferenceId ?? null,
        episodeId: out.episodeId ?? null,
      };
    }
    scope.log.warn({ runner: chosen.name, reason: attempt.reason }, 'runner could not serve; triaging by rules');
    const out = await runners.fallback.execute(input);
    return {
      output: { runner: 'rules', model: null, markdown: out.markdown, fallbackFrom: chosen.name, fallbackReason: attempt.reason },
      runner: 'rules',
      model: null,
    };
  },
};

/** The runner classify chose, or the rules runner when this deployment does not have it. */
function chosenRunner(deps: StageDeps, classify: ClassifyOutput): Runner {
  return deps.runners.runners[classify.runner] ?? deps.runners.fallback;
}

/**
 * For a follower of an incident: the leader's finished execution (to reuse), or
 * {@link LeaderPendingError} while the leader is still at work (up to {@link LEADER_WAIT_MS}
 * after this failure was recorded). `null` for leaders, failures without incident, and leaders
 * that ended without an execution. Read before the execute stage, so waiting writes no row.
 *
 * @throws {LeaderPendingError} while the leader is queued or running
 */
export async function leaderExecution(deps: StageDeps, scope: TriageScope, classify: ClassifyOutput): Promise<ExecuteOutput | null> {
  const leaderId = classify.incident?.leaderFailureId;
  if (!leaderId || leaderId === scope.failureId) return null;
  const done = await findSucceededExecution(deps.db, leaderId, 'execute');
  if (done) return { ...parseOutput(executeStage, leaderId, done.output), sharedFrom: leaderId, incidentId: classify.incident!.id };
  const leader = await findFailure(deps.db, leaderId);
  const waited = Date.now() - scope.round.recordedAt.getTime();
  if (leader && (leader.status === 'queued' || leader.status === 'running') && waited < LEADER_WAIT_MS) throw new LeaderPendingError(leaderId);
  return null;
}
