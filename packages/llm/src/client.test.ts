import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { createLlmClient } from './client.ts';
import { LlmError, parseRetryAfter } from './errors.ts';
import { costUsd, resolvePrices } from './prices.ts';

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
    const client = createLlmClient({ baseURL: llm.url, model: 'fake-model', prices: { 'fake-model': { input: 3, output: 15 } } });
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
  it('prefers the exact model, then the longest prefix, else 0', () => {
    const prices = resolvePrices();
    expect(costUsd('gpt-4o-mini-2024-07-18', 1_000_000, 0, prices)).toBe(0.15);
    expect(costUsd('gpt-4o', 0, 1_000_000, prices)).toBe(10);
    expect(costUsd('llama3.1:8b', 5_000, 5_000, prices)).toBe(0);
    expect(costUsd('llama3.1:8b', 1_000_000, 0, resolvePrices({ 'llama3.1': { input: 0.2, output: 0 } }))).toBe(0.2);
  });
  it('parses Retry-After as seconds, ms and HTTP dates', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '150' }))).toBe(150);
    const inTwoSeconds = new Date(Date.now() + 2_000).toUTCString();
    expect(parseRetryAfter(new Headers({ 'retry-after': inTwoSeconds }))).toBeGreaterThan(0);
    expect(parseRetryAfter(new Headers())).toBeUndefined();
  });
});
