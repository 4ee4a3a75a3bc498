import { BrokenCircuitError } from 'cockatiel';
import { LlmError } from '@pitcrew/llm';
import { BudgetExceededError, describeError, RateLimitedError } from '../errors.ts';
import type { StageDeps, TriageScope } from '../stages/stage.ts';
import type { Breakers } from './breakers.ts';
import type { Budget } from './budget.ts';

/** Circuit breakers and budgets guarding every model call. */
export interface Guards {
  breakers: Breakers;
  budget: Budget | null;
}

/**
 * Default of `StageDeps.degradeAfterMs`: 8 s. The target is a failure triaged by rules within
 * 15 s of its delivery while the model is down (issue 12). A failing model call takes about
 * 1.5-2 s with the SDK's two retries (0.5 s then 1 s backoff, openai-node defaults) and BullMQ
 * waits 2 s, 4 s, … between attempts (`defaultJobOptions`), so with the classify and execute
 * calls both failing the last model attempt ends about 8 s after delivery; a model that fails one
 * attempt early still gets its retry (2 s + 2 s < 8 s).
 */
export const DEGRADE_AFTER_MS = 8_000;

/** A guarded call's value, or why rules should stand in. */
export type Guarded<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Runs a paid call behind the budget and the runner's breaker. Free runners (rules) run directly.
 * Returns `{ok: false, reason}` when rules should stand in: budget spent, a budget configured and
 * the model's price unknown (never taken as 0), circuit open, or the call failed and no retry
 * would start before the degrade deadline (or none follows).
 *
 * @param estimate USD the call may cost at most; `null` when its price is unknown
 * @throws {RateLimitedError} when the server answered 429 with a `Retry-After` that ends before
 *   the degrade deadline: the runner's queue waits that long, the attempt is not used
 * @throws the call's error when a retry follows in time (BullMQ backoff)
 */
export async function guarded<T extends { costUsd: number }>(
  deps: StageDeps,
  scope: TriageScope,
  runner: { name: string; model?: string | null },
  estimate: () => number | null,
  call: () => Promise<T>,
): Promise<Guarded<T>> {
  if (runner.name === 'rules') return { ok: true, value: await call() };
  const { guards } = deps;
  let reservation;
  if (guards?.budget) {
    const estimateUsd = estimate();
    if (estimateUsd === null) {
      const model = runner.model ?? 'the configured model';
      deps.observer?.unpricedRefused(runner.name, runner.model ?? null);
      return { ok: false, reason: `budget_skipped: the price of ${model} is unknown and a USD budget is set; price it in LLM_PRICES or mark it free in LLM_FREE_MODELS` };
    }
    try {
      reservation = await guards.budget.reserve({ owner: scope.failure.owner, repo: scope.failure.repo, failureId: scope.failureId }, estimateUsd);
    } catch (error) {
      if (error instanceof BudgetExceededError) {
        deps.observer?.budgetSkipped(runner.name);
        return { ok: false, reason: `budget_skipped: ${error.message}` };
      }
      throw error;
    }
  }
  try {
    const value = guards ? await guards.breakers.get(runner.name).execute(call) : await call();
    await reservation?.settle(value.costUsd);
    return { ok: true, value };
  } catch (error) {
    await reservation?.release();
    if (error instanceof BrokenCircuitError) return { ok: false, reason: `circuit open for runner ${runner.name}` };
    if (scope.run.signal.aborted) throw error;
    const degradeAfterMs = deps.degradeAfterMs ?? DEGRADE_AFTER_MS;
    const retryAfterMs = error instanceof LlmError && error.status === 429 ? error.retryAfterMs : undefined;
    if (retryAfterMs !== undefined && retryAfterMs !== null && !scope.retryStartsTooLate(degradeAfterMs, retryAfterMs)) {
      // A rate limit is not a failed attempt: every worker of this runner waits, then tries again.
      throw new RateLimitedError(runner.name, retryAfterMs, { cause: error });
    }
    if (scope.run.finalAttempt) return { ok: false, reason: describeError(error) };
    if (scope.retryStartsTooLate(degradeAfterMs)) {
      return { ok: false, reason: `model unavailable, not waiting for a retry past ${degradeAfterMs} ms after delivery: ${describeError(error)}` };
    }
    throw error;
  }
}
