import { buildExecutePrompt } from '@pitcrew/core';
import { estimateTokens, type LlmClient } from '@pitcrew/llm';
import type { Runner, RunnerInput } from './runner.ts';

/**
 * A runner that asks an OpenAI-compatible model for the diagnosis, with the failure's facts and
 * log excerpt redacted and fenced as untrusted data (see `buildExecutePrompt`).
 *
 * The budget estimate uses the client's price book (`null` for a model with no known price).
 *
 * @throws {LlmError} when the model call fails after the SDK's retries
 */
export function createLlmRunner(client: LlmClient, options: { maxTokens: number }): Runner {
  const prompt = (input: RunnerInput) => buildExecutePrompt(input.failure, input.classification, input.logExcerpt);
  return {
    name: 'llm',
    model: client.model,
    estimateUsd(input) {
      // Upper bound: the whole prompt in, the completion cap out.
      const tokensIn = estimateTokens(prompt(input).map((m) => m.content).join('\n'));
      return client.prices.cost(input.model ?? client.model, tokensIn, options.maxTokens);
    },
    async execute(input) {
      const completion = await client.complete({
        messages: prompt(input),
        signal: input.signal,
        ...(input.model ? { model: input.model } : {}),
        ...(input.episodeId ? { episodeId: input.episodeId } : {}),
      });
      return {
        markdown: completion.text,
        model: completion.model,
        tokensIn: completion.tokensIn,
        tokensOut: completion.tokensOut,
        usageReported: completion.usageReported,
        costUsd: completion.costUsd,
        inferenceId: completion.inferenceId,
        episodeId: completion.episodeId,
      };
    },
  };
}
