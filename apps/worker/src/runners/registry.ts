import type { LlmClient } from '@pitcrew/llm';
import { createLlmRunner } from './llm-runner.ts';
import { createRulesRunner } from './rules-runner.ts';
import type { Runner } from './runner.ts';

/** The runners of a worker process and which one the execute stage uses by default. */
export interface RunnerRegistry {
  /** The runner for new executions. */
  primary: Runner;
  /** Always `rules`: used when the primary fails on the last attempt. */
  fallback: Runner;
  /** Model client for summaries, when a model is configured. */
  llm: LlmClient | null;
}

/**
 * Builds the registry. `choice` is `PITCREW_RUNNER`: `auto` picks `llm` when a client exists.
 * @throws {Error} when `llm` is chosen but no model is configured
 */
export function createRunnerRegistry(choice: 'auto' | 'rules' | 'llm', llm: LlmClient | null): RunnerRegistry {
  const rules = createRulesRunner();
  if (choice === 'llm' && !llm) {
    throw new Error('PITCREW_RUNNER=llm needs LLM_BASE_URL (an OpenAI-compatible server)');
  }
  const useLlm = llm !== null && choice !== 'rules';
  return { primary: useLlm ? createLlmRunner(llm) : rules, fallback: rules, llm };
}
