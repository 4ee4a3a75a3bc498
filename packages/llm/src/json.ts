import { z } from 'zod';
import type { ChatMessage, LlmClient, LlmCompletion } from './client.ts';
import { describeIssues } from '@pitcrew/core';
import { LlmError } from './errors.ts';

/** How a server was asked for JSON, best first. */
export type JsonMode = 'json_schema' | 'json_object' | 'text';

/** A structured completion: the parsed value plus the call's accounting. */
export interface JsonCompletion<T> extends Omit<LlmCompletion, 'text'> {
  value: T;
  mode: JsonMode;
  text: string;
}

/**
 * The first balanced JSON object in `text`, parsed: tolerant of prose and markdown fences around
 * it, as small local models often add. `undefined` when there is none.
 */
export function extractJsonObject(text: string): unknown {
  for (let start = text.indexOf('{'); start >= 0; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        if (ch === '\\') i++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '{') depth++;
      else if (ch === '}' && --depth === 0) {
        try {
          return JSON.parse(text.slice(start, i + 1));
        } catch {
          break;
        }
      }
    }
  }
  return undefined;
}

/**
 * Asks for JSON matching `schema` and validates it with zod. Tries `response_format` with the JSON
 * schema (OpenAI structured outputs; vLLM, llama.cpp and Ollama accept it too), then
 * `json_object`, then plain text with {@link extractJsonObject}, moving down when a server
 * rejects the mode with a 4xx or answers something that does not validate. The mode that worked
 * is remembered per client so later calls start there.
 *
 * @throws {LlmError} when no mode yields a valid value (`retryable` false), or the call fails
 */
export function createJsonCompleter(client: LlmClient) {
  let startAt = 0;
  const modes: JsonMode[] = ['json_schema', 'json_object', 'text'];
  return async function completeJson<S extends z.ZodType>(
    schema: S,
    name: string,
    request: { messages: ChatMessage[]; maxTokens?: number; signal?: AbortSignal; model?: string },
  ): Promise<JsonCompletion<z.infer<S>>> {
    const jsonSchema = z.toJSONSchema(schema, { target: 'draft-7' }) as Record<string, unknown>;
    let lastProblem = '';
    const spent = { tokensIn: 0, tokensOut: 0, costUsd: 0, durationMs: 0 };
    for (let i = startAt; i < modes.length; i++) {
      const mode = modes[i]!;
      const messages =
        mode === 'json_schema'
          ? request.messages
          : [
              ...request.messages,
              { role: 'user' as const, content: `Answer with one JSON object only, matching this JSON schema:\n${JSON.stringify(jsonSchema)}` },
            ];
      let completion: LlmCompletion;
      try {
        completion = await client.complete({
          ...request,
          messages,
          responseFormat:
            mode === 'json_schema'
              ? { type: 'json_schema', json_schema: { name, schema: jsonSchema, strict: false } }
              : mode === 'json_object'
                ? { type: 'json_object' }
                : undefined,
        });
      } catch (error) {
        // A server without this response_format answers 400/422: try the next mode.
        if (error instanceof LlmError && (error.status === 400 || error.status === 422) && mode !== 'text') {
          lastProblem = error.message;
          startAt = i + 1;
          continue;
        }
        throw error;
      }
      spent.tokensIn += completion.tokensIn;
      spent.tokensOut += completion.tokensOut;
      spent.costUsd += completion.costUsd;
      spent.durationMs += completion.durationMs;
      const raw = mode === 'text' ? extractJsonObject(completion.text) : safeParse(completion.text) ?? extractJsonObject(completion.text);
      const parsed = schema.safeParse(raw);
      if (parsed.success) {
        return { ...completion, ...spent, value: parsed.data, mode, text: completion.text };
      }
      lastProblem = `answer did not match the schema: ${describeIssues(parsed.error.issues)}`;
    }
    throw new LlmError(`no JSON answer for ${name}: ${lastProblem}`, { retryable: false });
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
