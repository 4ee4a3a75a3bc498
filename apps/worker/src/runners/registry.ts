import { z } from 'zod';
import { CATEGORIES, type Category, type RunnerName } from '@pitcrew/core';
import type { LlmClient } from '@pitcrew/llm';
import { createRulesRunner } from './rules-runner.ts';
import type { Runner } from './runner.ts';

/** A strategy entry: which runner (and model) executes failures of a category. */
export const StrategyEntry = z.object({
  runner: z.enum(['rules', 'llm', 'agent']),
  model: z.string().min(1).optional(),
});
/** `PITCREW_STRATEGY`: category → runner and model, e.g. `{"test": {"runner": "agent"}}`. */
export const Strategy = z.partialRecord(z.enum(CATEGORIES), StrategyEntry);
export type Strategy = z.infer<typeof Strategy>;

/** The runners of a worker process and how the execute stage picks one. */
export interface RunnerRegistry {
  runners: Partial<Record<RunnerName, Runner>>;
  /** Always `rules`: used when another runner fails on the last attempt, is open-circuited or over budget. */
  fallback: Runner;
  /** Model client for model classification and summaries, when a model is configured. */
  llm: LlmClient | null;
  /**
   * Runner and model for a category; falls back to `rules` when the chosen runner is not
   * configured. `strong` (`/pitcrew explain`): the `llm` runner with the strong model when a model
   * is configured, whatever the strategy says; without one, the strategy's choice.
   */
  choose(category: Category, options?: { strong?: boolean }): { runner: RunnerName; model: string | null };
}

/**
 * Builds the registry.
 *
 * Default strategy (`choice` = `PITCREW_RUNNER`): `auto` uses `llm` when a model is configured,
 * else `rules`. With a model, lint and typecheck use `models.cheap` and test and unknown
 * `models.strong` (a formatter complaint needs no frontier model; an unexplained test failure
 * does), everything else the default model. `strategy` entries override per category.
 *
 * @throws {Error} when `choice` names a runner that is not configured
 */
export function createRunnerRegistry(options: {
  choice: 'auto' | RunnerName;
  llm?: Runner | null;
  llmClient?: LlmClient | null;
  agent?: Runner | null;
  strategy?: Strategy;
  models?: { cheap?: string | undefined; strong?: string | undefined };
}): RunnerRegistry {
  const rules = createRulesRunner();
  const runners: Partial<Record<RunnerName, Runner>> = { rules };
  if (options.llm) runners.llm = options.llm;
  if (options.agent) runners.agent = options.agent;
  if (options.choice !== 'auto' && !runners[options.choice]) {
    throw new Error(
      options.choice === 'llm'
        ? 'PITCREW_RUNNER=llm needs LLM_BASE_URL (an OpenAI-compatible server)'
        : `PITCREW_RUNNER=${options.choice} needs that runner configured (PITCREW_AGENT_COMMAND for agent)`,
    );
  }
  const base: RunnerName = options.choice === 'auto' ? (runners.llm ? 'llm' : 'rules') : options.choice;
  const modelFor = (runner: RunnerName, category: Category): string | null => {
    if (runner !== 'llm') return runners[runner]?.model ?? null;
    if ((category === 'lint' || category === 'typecheck') && options.models?.cheap) return options.models.cheap;
    if ((category === 'test' || category === 'unknown') && options.models?.strong) return options.models.strong;
    return runners.llm?.model ?? null;
  };
  return {
    runners,
    fallback: rules,
    llm: options.llmClient ?? null,
    choose(category, how) {
      if (how?.strong && runners.llm) return { runner: 'llm', model: options.models?.strong ?? runners.llm.model ?? null };
      const entry = options.strategy?.[category];
      const runner = entry && runners[entry.runner] ? entry.runner : base;
      return { runner, model: entry?.model ?? modelFor(runner, category) };
    },
  };
}
