import OpenAI from 'openai';
import { toOutgoing } from '@pitcrew/core';
import { toLlmError } from './errors.ts';
import { createPriceBook, type PriceBook } from './prices.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface LlmClientOptions {
  /** OpenAI-compatible base URL, e.g. `http://localhost:11434/v1`. */
  baseURL: string;
  /** Bearer key; default `pitcrew-local` (local servers ignore it, the SDK requires one). */
  apiKey?: string;
  model: string;
  /** Per-request timeout, ms (default 120000). */
  timeoutMs?: number;
  /** SDK retries of 408/409/429/5xx and connection errors, honouring Retry-After (default 2). */
  maxRetries?: number;
  /** Completion token cap (default 1024). */
  maxTokens?: number;
  /** Prices for `costUsd`; default {@link createPriceBook} with no operator table (catalogue only). */
  prices?: PriceBook;
  /**
   * The server behind `baseURL`. `tensorzero` (TensorZero's OpenAI-compatible endpoint,
   * `<gateway>/openai/v1`): a request's `episodeId` is sent as `tensorzero::episode_id` and the
   * response `id` is kept as the inference id. Default: `tensorzero` for a model named
   * `tensorzero::…` (`tensorzero::function_name::…`, `tensorzero::model_name::…`), else `openai`.
   */
  gateway?: LlmGateway;
}

/** `openai`: any OpenAI-compatible server; `tensorzero`: the TensorZero gateway. */
export type LlmGateway = 'openai' | 'tensorzero';

/** The gateway a call to `model` goes through: the configured one, else TensorZero for a `tensorzero::` model name. */
export function gatewayOf(model: string, configured?: LlmGateway): LlmGateway {
  return configured ?? (model.startsWith('tensorzero::') ? 'tensorzero' : 'openai');
}

export interface CompletionRequest {
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  signal?: AbortSignal;
  /** Overrides the client's model for this call. */
  model?: string;
  /** OpenAI `response_format` (structured output); see `createJsonCompleter`. */
  responseFormat?:
    | { type: 'json_schema'; json_schema: { name: string; schema: Record<string, unknown>; strict?: boolean } }
    | { type: 'json_object' }
    | undefined;
  /**
   * TensorZero episode this call belongs to (a UUIDv7, e.g. the fix loop's, see `loopEpisodeId`
   * in `@pitcrew/core`); sent only to a TensorZero gateway, as `tensorzero::episode_id`. Unset:
   * the gateway starts a new episode.
   */
  episodeId?: string | undefined;
}

/** One finished completion. Tokens are counts, cost USD, times ms. */
export interface LlmCompletion {
  text: string;
  /** The model the server says answered, else the one requested. */
  model: string;
  tokensIn: number;
  tokensOut: number;
  /** False when the server sent no usage and tokens are estimated (characters / 4). */
  usageReported: boolean;
  /** USD from the price book; 0 when the model's price is unknown (then `priced` is false). */
  costUsd: number;
  /** False when the price book knows no price for the model: `costUsd` is then not a real cost. */
  priced: boolean;
  durationMs: number;
  /** ms until the first content token, `null` when none came. */
  firstTokenMs: number | null;
  finishReason: string | null;
  /**
   * TensorZero's inference id (the response `id`, a UUIDv7), for feedback on this call; `null`
   * unless the gateway is TensorZero or the response carried an `episode_id` (other servers send
   * an `id` too, which names nothing feedback can use).
   */
  inferenceId: string | null;
  /** TensorZero's episode id (the response `episode_id`); `null` when the server sent none. */
  episodeId: string | null;
}

export interface LlmClient {
  readonly model: string;
  readonly baseURL: string;
  /** The prices this client costs calls with; callers estimate a call's cost from it before making it. */
  readonly prices: PriceBook;
  /**
   * Streams one chat completion and returns it whole. Every message passes the outgoing-text
   * boundary (`toOutgoing(…, 'model')`) first, so secrets never reach the model server.
   * @throws {LlmError} after the SDK's retries
   */
  complete(request: CompletionRequest): Promise<LlmCompletion>;
}

/**
 * Rough token count for servers that report no usage: one token per 4 characters, the rule of
 * thumb OpenAI gives for English text ("What are tokens and how to count them?").
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * A client for any OpenAI-compatible chat completions server, on the `openai` SDK. Calls stream
 * with `stream_options.include_usage` so the last chunk carries token usage.
 *
 * With TensorZero (`gateway`), each completion carries the ids its gateway returned: `id` is the
 * inference id and `episode_id` the episode id, on every streamed chunk; an episode is joined by
 * sending `tensorzero::episode_id` in the body. Source: TensorZero docs, "API Reference:
 * Inference (OpenAI-Compatible)",
 * https://www.tensorzero.com/docs/gateway/api-reference/inference-openai-compatible
 */
export function createLlmClient(options: LlmClientOptions): LlmClient {
  const sdk = new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey ?? 'pitcrew-local',
    timeout: options.timeoutMs ?? 120_000,
    maxRetries: options.maxRetries ?? 2,
  });
  const prices = options.prices ?? createPriceBook({ baseURL: options.baseURL });
  return {
    model: options.model,
    baseURL: options.baseURL,
    prices,
    async complete(request) {
      const model = request.model ?? options.model;
      const started = performance.now();
      let firstTokenMs: number | null = null;
      let text = '';
      let answeredModel: string | undefined;
      let finishReason: string | null = null;
      let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
      let responseId: string | undefined;
      let episodeId: string | null = null;
      const gateway = gatewayOf(model, options.gateway);
      // TensorZero-specific parameters travel as extra body fields with a `tensorzero::` prefix.
      const extra: Record<string, unknown> = gateway === 'tensorzero' && request.episodeId ? { 'tensorzero::episode_id': request.episodeId } : {};
      try {
        const stream = await sdk.chat.completions.create(
          {
            model,
            // The outgoing boundary for models: whatever a prompt builder put in, no secret leaves.
            messages: request.messages.map((m) => ({ role: m.role, content: toOutgoing(m.content, 'model').text })),
            stream: true,
            stream_options: { include_usage: true },
            max_tokens: request.maxTokens ?? options.maxTokens ?? 1024,
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            ...(request.responseFormat ? { response_format: request.responseFormat } : {}),
            ...extra,
          },
          request.signal ? { signal: request.signal } : {},
        );
        for await (const chunk of stream) {
          answeredModel ??= chunk.model || undefined;
          responseId ??= chunk.id || undefined;
          // TensorZero puts `episode_id` on every chunk, beside the OpenAI fields.
          const episode = (chunk as { episode_id?: unknown }).episode_id;
          if (typeof episode === 'string' && episode) episodeId ??= episode;
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices[0];
          if (!choice) continue;
          const delta = choice.delta?.content;
          if (delta) {
            firstTokenMs ??= performance.now() - started;
            text += delta;
          }
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
      } catch (error) {
        throw toLlmError(error);
      }
      const tokensIn = usage?.prompt_tokens ?? estimateTokens(request.messages.map((m) => m.content).join('\n'));
      const tokensOut = usage?.completion_tokens ?? estimateTokens(text);
      const reportedModel = answeredModel ?? model;
      // The model the server names may be a dated variant the book does not know: price the requested one then.
      const cost = prices.cost(reportedModel, tokensIn, tokensOut) ?? prices.cost(model, tokensIn, tokensOut);
      return {
        text,
        model: reportedModel,
        tokensIn,
        tokensOut,
        usageReported: usage !== undefined,
        costUsd: cost ?? 0,
        priced: cost !== null,
        durationMs: performance.now() - started,
        firstTokenMs,
        finishReason,
        inferenceId: responseId && (gateway === 'tensorzero' || episodeId !== null) ? responseId : null,
        episodeId,
      };
    },
  };
}
