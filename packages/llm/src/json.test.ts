import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import { createLlmClient } from './client.ts';
import { LlmError } from './errors.ts';
import { createJsonCompleter, extractJsonObject } from './json.ts';

const Verdict = z.object({ category: z.enum(['lint', 'test']), confidence: z.number().min(0).max(1), reason: z.string() });
const messages = [{ role: 'user' as const, content: 'classify this' }];
let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(() => llm.stop());

describe('createJsonCompleter', () => {
  it('asks with response_format json_schema first and validates the answer', async () => {
    llm.setResponseFormats(['json_schema', 'json_object']);
    llm.setReply(() => JSON.stringify({ category: 'lint', confidence: 0.9, reason: 'prettier' }));
    const complete = createJsonCompleter(createLlmClient({ baseURL: llm.url, model: 'm' }));
    const result = await complete(Verdict, 'verdict', { messages });
    expect(result).toMatchObject({ value: { category: 'lint', confidence: 0.9 }, mode: 'json_schema' });
    const sent = llm.requests.at(-1)!.body.response_format;
    expect(sent.type).toBe('json_schema');
    expect(sent.json_schema.schema.properties.category.enum).toEqual(['lint', 'test']);
    expect(result.tokensOut).toBeGreaterThan(0);
  });

  it('falls back to json_object when the server rejects json_schema, and remembers it', async () => {
    llm.setResponseFormats(['json_object']);
    llm.setReply(() => JSON.stringify({ category: 'test', confidence: 0.7, reason: 'assertion' }));
    const complete = createJsonCompleter(createLlmClient({ baseURL: llm.url, model: 'm', maxRetries: 0 }));
    const before = llm.requests.length;
    expect(await complete(Verdict, 'verdict', { messages })).toMatchObject({ mode: 'json_object', value: { category: 'test' } });
    expect(llm.requests.slice(before).map((r) => r.body.response_format?.type)).toEqual(['json_schema', 'json_object']);
    await complete(Verdict, 'verdict', { messages });
    expect(llm.requests.at(-1)!.body.response_format.type).toBe('json_object');
    expect(llm.requests.length - before).toBe(3);
  });

  it('falls back to tolerant extraction from text for servers with no structured output', async () => {
    llm.setResponseFormats([]);
    llm.setReply(() => 'Sure! Here is the JSON:\n```json\n{"category": "test", "confidence": 0.6, "reason": "a {brace} in a string"}\n```\nHope it helps.');
    const complete = createJsonCompleter(createLlmClient({ baseURL: llm.url, model: 'm', maxRetries: 0 }));
    const result = await complete(Verdict, 'verdict', { messages });
    expect(result).toMatchObject({ mode: 'text', value: { category: 'test', reason: 'a {brace} in a string' } });
    expect(llm.requests.at(-1)!.body.response_format).toBeUndefined();
    expect(llm.requests.at(-1)!.body.messages.at(-1).content).toContain('JSON schema');
  });

  it('throws a non-retryable LlmError when no mode yields a valid value', async () => {
    llm.setResponseFormats(['json_schema', 'json_object']);
    llm.setReply(() => JSON.stringify({ category: 'build', confidence: 2 }));
    const complete = createJsonCompleter(createLlmClient({ baseURL: llm.url, model: 'm' }));
    const error = await complete(Verdict, 'verdict', { messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect((error as LlmError).retryable).toBe(false);
    expect((error as LlmError).message).toMatch(/did not match the schema/);
    llm.setReply(undefined);
  });
});

describe('extractJsonObject', () => {
  it('finds the first balanced object, skipping broken candidates', () => {
    expect(extractJsonObject('x {not json} then {"a": {"b": "}"}} y')).toEqual({ a: { b: '}' } });
    expect(extractJsonObject('no object here')).toBeUndefined();
  });
});
