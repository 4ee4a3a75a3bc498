import { calcPrice } from '@pydantic/genai-prices';
import type { ModelPrices } from '@pitcrew/core';

/** Where a model's price came from. */
export type PriceSource = 'operator' | 'free' | 'genai-prices';

/** A model's price as found: USD per million tokens in and out, and its source. */
export interface ModelPrice {
  input: number;
  output: number;
  source: PriceSource;
  /** The catalogue entry that matched (`openai/gpt-4o-mini`), or the operator's key. */
  matched: string;
}

/**
 * Prices of the models pitcrew calls. An unknown price is `null`, never 0: a model is free only
 * when the operator says so (an explicit 0 in `LLM_PRICES`, or a pattern in `LLM_FREE_MODELS`),
 * so a USD budget always applies to a hosted model whose price pitcrew does not know.
 */
export interface PriceBook {
  /** The price of `model`, or `null` when neither the operator nor the catalogue knows it. */
  price(model: string): ModelPrice | null;
  /**
   * Cost of one call in USD, or `null` when the model's price is unknown.
   * @param tokensIn prompt tokens
   * @param tokensOut completion tokens
   */
  cost(model: string, tokensIn: number, tokensOut: number): number | null;
}

/** Options of {@link createPriceBook}. */
export interface PriceBookOptions {
  /**
   * The operator's table (`LLM_PRICES`), USD per million tokens; wins over the catalogue. A key
   * matches a model exactly or as its longest prefix (`gpt-4o-mini` prices
   * `gpt-4o-mini-2024-07-18`, never `gpt-4o`). `{input: 0, output: 0}` marks a model free.
   */
  overrides?: ModelPrices;
  /**
   * Glob patterns (`*` = any run of characters) of models the operator runs for free, e.g.
   * `llama*`, `qwen2.5-coder:*`, or `*` for a server that only hosts local models (`LLM_FREE_MODELS`).
   */
  freeModels?: readonly string[];
  /**
   * The OpenAI-compatible base URL the calls go to; lets the catalogue tell providers apart
   * (`api.openai.com` → OpenAI). A gateway or proxy URL the catalogue does not know falls back
   * to matching the model name alone.
   */
  baseURL?: string;
}

/**
 * Prices from a maintained source, the Pydantic `genai-prices` catalogue (npm
 * `@pydantic/genai-prices`, data from each provider's pricing page, bundled with the package and
 * updated with it), under the operator's own table and free-model patterns:
 * 1. `overrides`: exact key, else the longest key that prefixes the model name;
 * 2. `freeModels`: any matching pattern → 0;
 * 3. the catalogue, for the provider of `baseURL` when it knows the URL, else by model name
 *    (`calcPrice`, which also handles tiered and dated prices);
 * 4. otherwise unknown (`null`).
 */
export function createPriceBook(options: PriceBookOptions = {}): PriceBook {
  const overrides = options.overrides ?? {};
  const keys = Object.keys(overrides).sort((a, b) => b.length - a.length);
  const free = (options.freeModels ?? []).map(globToRegExp);
  const fromCatalogue = (model: string, tokensIn: number, tokensOut: number) => {
    const usage = { input_tokens: tokensIn, output_tokens: tokensOut };
    return (options.baseURL ? calcPrice(usage, model, { providerApiUrl: options.baseURL }) : null) ?? calcPrice(usage, model);
  };
  const operator = (model: string) => {
    const key = overrides[model] ? model : keys.find((k) => model.startsWith(k));
    return key ? { key, price: overrides[key]! } : null;
  };
  const cache = new Map<string, ModelPrice | null>();
  return {
    price(model) {
      if (cache.has(model)) return cache.get(model)!;
      let found: ModelPrice | null = null;
      const own = operator(model);
      if (own) found = { ...own.price, source: 'operator', matched: own.key };
      else if (free.some((re) => re.test(model))) found = { input: 0, output: 0, source: 'free', matched: model };
      else {
        const million = fromCatalogue(model, 1_000_000, 0);
        const out = fromCatalogue(model, 0, 1_000_000);
        if (million && out) found = { input: million.input_price, output: out.output_price, source: 'genai-prices', matched: `${million.provider.id}/${million.model.id}` };
      }
      cache.set(model, found);
      return found;
    },
    cost(model, tokensIn, tokensOut) {
      const price = this.price(model);
      if (!price) return null;
      if (price.source !== 'genai-prices') return (tokensIn * price.input + tokensOut * price.output) / 1_000_000;
      // The catalogue prices the actual usage (tiers depend on the prompt's size).
      return fromCatalogue(model, tokensIn, tokensOut)?.total_price ?? null;
    },
  };
}

/** `*` → any run of characters; everything else literal; whole-name match. */
function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Models whose price is unknown, for the start-up warning: each of `models` (the configured
 * `LLM_MODEL`, `LLM_MODEL_CHEAP`, `LLM_MODEL_STRONG` and strategy models), once.
 */
export function unpricedModels(book: PriceBook, models: readonly (string | null | undefined)[]): string[] {
  return [...new Set(models.filter((m): m is string => Boolean(m)))].filter((m) => book.price(m) === null);
}
