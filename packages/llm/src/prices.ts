import type { ModelPrices } from '@pitcrew/core';

/**
 * USD per million tokens for common hosted models, a snapshot of OpenAI's pricing page
 * (platform.openai.com/docs/pricing, standard tier, read 2025). Prices change: override or extend
 * with `LLM_PRICES`. Models not listed (local models on Ollama, vLLM, llama.cpp, LM Studio) cost 0
 * and still record tokens and wall time.
 */
export const BUILT_IN_PRICES: ModelPrices = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'o3': { input: 2, output: 8 },
  'o3-mini': { input: 1.1, output: 4.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
};

/** The built-in table with `overrides` merged over it. */
export function resolvePrices(overrides: ModelPrices = {}): ModelPrices {
  return { ...BUILT_IN_PRICES, ...overrides };
}

/**
 * Cost of one call in USD: `(tokensIn × input + tokensOut × output) / 1e6`.
 *
 * The model's price is its exact entry, else the longest entry that prefixes its name
 * (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, never `gpt-4o`), else 0.
 */
export function costUsd(model: string, tokensIn: number, tokensOut: number, prices: ModelPrices): number {
  let price = prices[model];
  if (!price) {
    const key = Object.keys(prices)
      .filter((k) => model.startsWith(k))
      .sort((a, b) => b.length - a.length)[0];
    price = key ? prices[key] : undefined;
  }
  if (!price) return 0;
  return (tokensIn * price.input + tokensOut * price.output) / 1_000_000;
}
