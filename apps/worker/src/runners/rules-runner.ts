import { planFromRules } from '@pitcrew/core';
import type { Runner } from './runner.ts';

/** The runner used when no model is configured, and the fallback of every other runner. */
export function createRulesRunner(): Runner {
  return {
    name: 'rules',
    model: null,
    estimateUsd: () => 0,
    async execute({ failure, classification, logExcerpt }) {
      return {
        markdown: planFromRules(failure, classification, logExcerpt),
        model: null,
        tokensIn: 0,
        tokensOut: 0,
        usageReported: true,
        costUsd: 0,
      };
    },
  };
}
