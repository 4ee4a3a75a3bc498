import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUuidv7 } from '@pitcrew/core';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { startFakeTensorZero } from '@pitcrew/testkit/fake-tensorzero';
import { createLlmClient } from './client.ts';
import { LlmError, parseRetryAfter } from './errors.ts';
import { createPriceBook, unpricedModels } from './prices.ts';

let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm({ model: 'fake-model' });
});
afterAll(() => llm.stop());

const messages = [
  { role: 'system' as const, content: 'You triage CI failures.' },
  { role: 'user' as const, content: 'The "job": "lint" failed.' },
];

describe('createLlmClient against an OpenAI-compatible server', () => {
  it('streams the text with usage, timing and cost', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model', prices: createPriceBook({ overrides: { 'fake-model': { input: 3, output: 15 } } }) });
    const result = await client.complete({ messages });
    expect(result.text).toContain('## Summary');
    expect(result).toMatchObject({ model: 'fake-model', usageReported: true, finishReason: 'stop' });
    expect(result.tokensIn).toBe(Math.ceil((messages[0]!.content + '\n' + messages[1]!.content).length / 4));
    expect(result.tokensOut).toBe(Math.ceil(result.text.length / 4));
    expect(result.costUsd).toBeCloseTo((result.tokensIn * 3 + result.tokensOut * 15) / 1e6, 10);
    expect(result.firstTokenMs).not.toBeNull();
    expect(result.durationMs).toBeGreaterThanOrEqual(result.firstTokenMs!);
    expect(llm.requests.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_tokens: 1024 });
  });

  it('redacts every message at the outgoing boundary: no secret reaches the model server', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model' });
    const secret = 'ghp_' + 'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2';
    await client.complete({ messages: [{ role: 'system', content: 'triage' }, { role: 'user', content: `log: export GITHUB_TOKEN=${secret}` }] });
    const sent = JSON.stringify(llm.requests.at(-1)!.body);
    expect(sent).not.toContain(secret);
    expect(sent).toContain('[REDACTED:');
  });

  it('estimates tokens when the server sends no usage, and says so', async () => {
    const quiet = await startFakeLlm({ usage: false });
    try {
      const result = await createLlmClient({ baseURL: quiet.url, model: 'local' }).complete({ messages });
      expect(result.usageReported).toBe(false);
      expect(result.tokensOut).toBe(Math.ceil(result.text.length / 4));
      expect(result.costUsd).toBe(0);
    } finally {
      await quiet.stop();
    }
  });

  it('retries a 429 after the Retry-After the server asked for', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model', maxRetries: 2 });
    const before = llm.requests.length;
    llm.failNext(1, { status: 429, retryAfterSeconds: 1 });
    const result = await client.complete({ messages });
    expect(result.text).toContain('## Diagnosis');
    const [first, second] = llm.requests.slice(before);
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('gives up on a 429 after its retries with a retryable LlmError carrying Retry-After', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model', maxRetries: 0 });
    llm.failNext(1, { status: 429, retryAfterSeconds: 7 });
    const error = await client.complete({ messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: 7000 });
  });

  it('does not retry a 400 and reports it as not retryable', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model', maxRetries: 2 });
    const before = llm.requests.length;
    llm.failNext(1, { status: 400 });
    await expect(client.complete({ messages })).rejects.toMatchObject({ name: 'LlmError', status: 400, retryable: false });
    expect(llm.requests.length - before).toBe(1);
  });

  it('times out a server that never answers, as a retryable error', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model', timeoutMs: 300, maxRetries: 0 });
    llm.hangNext(1);
    const started = performance.now();
    await expect(client.complete({ messages })).rejects.toMatchObject({ name: 'LlmError', retryable: true });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('stops when the caller aborts', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model', maxRetries: 0 });
    llm.hangNext(1);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(client.complete({ messages, signal: controller.signal })).rejects.toMatchObject({ retryable: false });
  });
});

describe('TensorZero ids', () => {
  it('keeps the inference and episode ids a TensorZero gateway returns, and joins the episode it is given', async () => {
    const gateway = await startFakeTensorZero();
    try {
      const client = createLlmClient({ baseURL: gateway.url, model: 'tensorzero::function_name::triage' });
      const first = await client.complete({ messages });
      expect(isUuidv7(first.inferenceId)).toBe(true);
      expect(isUuidv7(first.episodeId)).toBe(true);
      expect(gateway.issued.inferenceIds.has(first.inferenceId!)).toBe(true);
      expect(gateway.requests.at(-1)!.body).not.toHaveProperty(['tensorzero::episode_id']);

      const second = await client.complete({ messages, episodeId: first.episodeId! });
      expect(gateway.requests.at(-1)!.body['tensorzero::episode_id']).toBe(first.episodeId);
      expect(second.episodeId).toBe(first.episodeId);
      expect(second.inferenceId).not.toBe(first.inferenceId);
    } finally {
      await gateway.stop();
    }
  });

  it('takes the gateway from the option too, whatever the model is named', async () => {
    const gateway = await startFakeTensorZero({ model: 'x' });
    try {
      const client = createLlmClient({ baseURL: gateway.url, model: 'tensorzero::model_name::openai::gpt-4o-mini', gateway: 'tensorzero' });
      expect(isUuidv7((await client.complete({ messages })).inferenceId)).toBe(true);
    } finally {
      await gateway.stop();
    }
  });

  it('keeps no id from a plain OpenAI-compatible server, and sends it no episode', async () => {
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model' });
    const result = await client.complete({ messages, episodeId: '0190c8a2-0000-7000-8000-000000000000' });
    expect(result).toMatchObject({ inferenceId: null, episodeId: null });
    expect(llm.requests.at(-1)!.body).not.toHaveProperty(['tensorzero::episode_id']);
  });
});

describe('the fake server speaks the wire format the raw SDK expects', () => {
  it('non-streaming completion with usage, and the models list', async () => {
    const sdk = new OpenAI({ baseURL: llm.url, apiKey: 'x', maxRetries: 0 });
    const completion = await sdk.chat.completions.create({ model: 'm', messages });
    expect(completion.choices[0]!.message.content).toContain('## Summary');
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    const models = await sdk.models.list();
    expect(models.data[0]!.id).toBe('fake-model');
  });
});

describe('prices', () => {
  it('costs a known hosted model from the maintained catalogue (genai-prices), dated variants included', () => {
    const book = createPriceBook();
    expect(book.price('gpt-4o-mini')).toMatchObject({ input: 0.15, output: 0.6, source: 'genai-prices', matched: 'openai/gpt-4o-mini' });
    expect(book.cost('gpt-4o-mini-2024-07-18', 1_000_000, 0)).toBeCloseTo(0.15, 10);
    expect(book.cost('claude-3-5-sonnet-latest', 0, 1_000_000)).toBeCloseTo(15, 10);
    expect(createPriceBook({ baseURL: 'https://api.openai.com/v1' }).price('gpt-4o')).toMatchObject({ source: 'genai-prices', matched: 'openai/gpt-4o' });
  });
  it('never takes an unknown price as 0: unknown is null until the operator prices it or marks it free', () => {
    expect(createPriceBook().price('llama3.1:8b')).toBeNull();
    expect(createPriceBook().cost('llama3.1:8b', 5_000, 5_000)).toBeNull();
    expect(createPriceBook({ freeModels: ['llama*'] }).price('llama3.1:8b')).toMatchObject({ input: 0, output: 0, source: 'free' });
    expect(createPriceBook({ freeModels: ['*'] }).cost('anything-local', 9_999, 9_999)).toBe(0);
    expect(createPriceBook({ freeModels: ['qwen2.5-coder:*'] }).price('qwen2.5-coder')).toBeNull();
    expect(createPriceBook({ overrides: { 'llama3.1': { input: 0.2, output: 0 } } }).cost('llama3.1:8b', 1_000_000, 0)).toBeCloseTo(0.2, 10);
    expect(createPriceBook({ overrides: { 'my-local': { input: 0, output: 0 } } }).price('my-local')).toMatchObject({ source: 'operator', input: 0 });
  });
  it("lets the operator's table win over the catalogue, longest prefix first", () => {
    const book = createPriceBook({ overrides: { 'gpt-4o': { input: 1, output: 1 }, 'gpt-4o-mini': { input: 0.5, output: 0.5 } } });
    expect(book.cost('gpt-4o-mini-2024-07-18', 1_000_000, 0)).toBe(0.5);
    expect(book.cost('gpt-4o-2024-08-06', 1_000_000, 0)).toBe(1);
  });
  it('names the configured models without a price, once each', () => {
    expect(unpricedModels(createPriceBook(), ['gpt-4o-mini', 'llama3.1:8b', null, 'llama3.1:8b', undefined, 'qwen3'])).toEqual(['llama3.1:8b', 'qwen3']);
  });
  it('parses Retry-After as seconds, ms and HTTP dates', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '150' }))).toBe(150);
    const inTwoSeconds = new Date(Date.now() + 2_000).toUTCString();
    expect(parseRetryAfter(new Headers({ 'retry-after': inTwoSeconds }))).toBeGreaterThan(0);
    expect(parseRetryAfter(new Headers())).toBeUndefined();
  });
});
