import { buildExecutePrompt } from '@pitcrew/core';
import type { LlmClient } from '@pitcrew/llm';
import type { Runner } from './runner.ts';

/**
 * A runner that asks an OpenAI-compatible model for the diagnosis, with the failure's facts and
 * log excerpt redacted and fenced as untrusted data (see `buildExecutePrompt`).
 *
 * @throws {LlmError} when the model call fails after the SDK's retries
 */
export function createLlmRunner(client: LlmClient): Runner {
  return {
    name: 'llm',
    model: client.model,
    async execute({ failure, classification, logExcerpt, signal }) {
      const completion = await client.complete({
        messages: buildExecutePrompt(failure, classification, logExcerpt),
        signal,
      });
      return {
        markdown: completion.text,
        model: completion.model,
        tokensIn: completion.tokensIn,
        tokensOut: completion.tokensOut,
        usageReported: completion.usageReported,
        costUsd: completion.costUsd,
      };
    },
  };
}
