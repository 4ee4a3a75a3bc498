import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createUuidv7, isUuidv7 } from '@pitcrew/core';

/**
 * A small OpenAI-compatible chat completions server for tests. It speaks the real wire format —
 * JSON completions, SSE streaming with `stream_options.include_usage`, OpenAI-style error bodies
 * and `Retry-After` on 429 — so production code talks to it exactly as to Ollama, vLLM or OpenAI
 * and never knows it exists.
 */
export interface FakeLlmRequest {
  body: any;
  headers: Record<string, string | string[] | undefined>;
  /** `Date.now()` when the request arrived, ms. */
  receivedAt: number;
}

export interface FakeLlmOptions {
  port?: number;
  /** Address to listen on (default `127.0.0.1`), e.g. a bridge address other network namespaces reach. */
  host?: string;
  /** Model reported in responses when the request names none. */
  model?: string;
  /** ms before the first byte of each answer. */
  latencyMs?: number;
  reply?: (body: any) => string;
  /** Send usage when the client asks for it (default true); false imitates servers that never do. */
  usage?: boolean;
  /** `response_format` types the server accepts (default both); others get a 400, as servers without structured output answer. */
  responseFormats?: ('json_schema' | 'json_object')[];
  /** Imitate the TensorZero gateway instead (see {@link FakeTensorZeroOptions}). */
  tensorzero?: FakeTensorZeroOptions;
}

/** A metric as `[metrics.<name>]` in `tensorzero.toml` declares it. */
export interface FakeTensorZeroMetric {
  type: 'boolean' | 'float';
  level: 'inference' | 'episode';
}

/**
 * TensorZero mode: the chat endpoint moves to `/openai/v1/chat/completions`, wants a model named
 * `tensorzero::function_name::…` or `tensorzero::model_name::…`, answers with `id` (the inference
 * id, a UUIDv7) and `episode_id` (the request's `tensorzero::episode_id`, else a new UUIDv7) on
 * the completion and on every chunk; `POST /feedback` validates and records feedback, answering
 * `{ feedback_id }`, or 400 with `{ error }` as the gateway does. Source: TensorZero docs, API
 * Reference "Inference (OpenAI-Compatible)" and "Feedback",
 * https://www.tensorzero.com/docs/gateway/api-reference/feedback
 */
export interface FakeTensorZeroOptions {
  /** Metrics the gateway's config declares; default pitcrew's two, at episode level (`pitcrew_fix_merged` boolean, `pitcrew_fix_iterations` float). */
  metrics?: Record<string, FakeTensorZeroMetric>;
}

/** The default metrics of the fake gateway: what `docs/tensorzero.md` tells operators to declare. */
export const PITCREW_TENSORZERO_METRICS: Record<string, FakeTensorZeroMetric> = {
  pitcrew_fix_merged: { type: 'boolean', level: 'episode' },
  pitcrew_fix_iterations: { type: 'float', level: 'episode' },
};

export interface FakeLlm {
  /** Base URL ending in `/v1` (TensorZero mode: `<gateway>/openai/v1`). */
  url: string;
  /** The server's root, where TensorZero mode serves `POST /feedback`. */
  gatewayUrl: string;
  requests: FakeLlmRequest[];
  /** TensorZero mode: every `POST /feedback` request, answered or refused. */
  feedbackRequests: FakeLlmRequest[];
  /** TensorZero mode: the feedback bodies accepted, in order. */
  feedback: any[];
  /** TensorZero mode: the inference and episode ids the chat endpoint handed out. */
  issued: { inferenceIds: Set<string>; episodeIds: Set<string> };
  /** TensorZero mode: the next `count` feedback requests get this status (e.g. 503) and are not recorded as accepted. */
  failFeedbackNext(count: number, status: number): void;
  /** The next `count` chat requests get this error answer. */
  failNext(count: number, response: { status: number; retryAfterSeconds?: number; body?: unknown }): void;
  /** The next `count` chat requests are accepted and never answered (until `stop`). */
  hangNext(count: number): void;
  /** Drops the failures and hangs still queued by `failNext` and `hangNext`: the server answers again. */
  recover(): void;
  /**
   * From now on every chat request is read and then held unanswered until {@link release}; for
   * tests that need a stage to block at a known point (e.g. to kill the worker running it).
   */
  hold(): void;
  /** Stops holding and answers every held request normally (clients that went away get nothing). */
  release(): void;
  /** Chat requests held right now. */
  readonly held: number;
  /** Replaces the reply; `undefined` restores the default diagnosis. */
  setReply(reply: ((body: any) => string) | undefined): void;
  setLatency(ms: number): void;
  setResponseFormats(types: ('json_schema' | 'json_object')[]): void;
  stop(): Promise<void>;
}

/** Deterministic token count: one per 4 characters, at least 1. */
function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function lastUserMessage(body: any): string {
  const messages: { role: string; content: unknown }[] = Array.isArray(body?.messages) ? body.messages : [];
  const user = [...messages].reverse().find((m) => m.role === 'user');
  return typeof user?.content === 'string' ? user.content : '';
}

/** The default reply: a markdown diagnosis with Diagnosis, Investigation plan and Summary sections. */
export function defaultDiagnosis(body: any): string {
  const prompt = lastUserMessage(body);
  const job = /"job": "([^"]+)"/.exec(prompt)?.[1] ?? 'the job';
  const category = /"rulesCategory": "([^"]+)"/.exec(prompt)?.[1] ?? 'unknown';
  return [
    '## Diagnosis',
    `The ${category} step of ${job} failed.`,
    '',
    '## Investigation plan',
    `1. Reproduce ${job} locally at the failing commit.`,
    '2. Read the first error in the log.',
    '3. Compare with the last passing run.',
    '',
    '## Summary',
    `${job} failed with a ${category} error; reproduce it locally and fix the first error.`,
  ].join('\n');
}

export async function startFakeLlm(options: FakeLlmOptions = {}): Promise<FakeLlm> {
  const requests: FakeLlmRequest[] = [];
  const failures: { status: number; retryAfterSeconds?: number; body?: unknown }[] = [];
  let hangs = 0;
  let holding: { promise: Promise<void>; resolve: () => void } | null = null;
  let held = 0;
  let reply = options.reply ?? defaultDiagnosis;
  let latencyMs = options.latencyMs ?? 0;
  const sendUsage = options.usage ?? true;
  let responseFormats = options.responseFormats ?? ['json_schema', 'json_object'];
  const sockets = new Set<Socket>();
  let counter = 0;
  const tensorzero = options.tensorzero;
  const metrics = tensorzero?.metrics ?? PITCREW_TENSORZERO_METRICS;
  const chatPath = tensorzero ? '/openai/v1/chat/completions' : '/v1/chat/completions';
  const feedbackRequests: FakeLlmRequest[] = [];
  const feedback: any[] = [];
  const feedbackFailures: number[] = [];
  const issued = { inferenceIds: new Set<string>(), episodeIds: new Set<string>() };

  const server = createServer(async (req, res) => {
    try {
      await handle(req, res);
    } catch (error) {
      if (!res.headersSent) sendError(res, 500, (error as Error).message, 'server_error');
      else res.end();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: options.model ?? 'fake-model', object: 'model', owned_by: 'pitcrew-test' }] });
    }
    if (tensorzero && req.method === 'POST' && url.pathname === '/feedback') return handleFeedback(req, res);
    if (req.method !== 'POST' || url.pathname !== chatPath) {
      return sendError(res, 404, `no route ${req.method} ${url.pathname}`, 'invalid_request_error');
    }
    const raw = await readBody(req);
    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      return sendError(res, 400, 'body is not JSON', 'invalid_request_error');
    }
    requests.push({ body, headers: req.headers, receivedAt: Date.now() });
    if (hangs > 0) {
      hangs -= 1;
      return; // never answer
    }
    if (holding) {
      held += 1;
      try {
        await holding.promise;
      } finally {
        held -= 1;
      }
      if (res.destroyed || req.socket.destroyed) return;
    }
    const failure = failures.shift();
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    if (failure) {
      const headers: Record<string, string> = {};
      if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
      return sendJson(
        res,
        failure.status,
        failure.body ?? { error: { message: `fake failure ${failure.status}`, type: failure.status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null } },
        headers,
      );
    }
    if (!Array.isArray(body.messages)) return sendError(res, 400, "'messages' is required", 'invalid_request_error');
    const format = body.response_format?.type;
    if (format && format !== 'text' && !responseFormats.includes(format)) {
      return sendError(res, 400, `response_format ${format} is not supported by this server`, 'invalid_request_error');
    }
    let episodeId: string | undefined;
    if (tensorzero) {
      if (typeof body.model !== 'string' || !/^tensorzero::(function_name|model_name)::./.test(body.model)) {
        return sendJson(res, 400, { error: `Invalid request to OpenAI-compatible endpoint: model name must start with "tensorzero::function_name::" or "tensorzero::model_name::", got ${JSON.stringify(body.model)}` });
      }
      const given = body['tensorzero::episode_id'];
      if (given !== undefined && given !== null && !isUuidv7(given)) {
        return sendJson(res, 400, { error: `Invalid Episode ID: ${JSON.stringify(given)} is not a UUIDv7` });
      }
      episodeId = given ?? createUuidv7();
      issued.episodeIds.add(episodeId!);
    }
    const model: string = body.model ?? options.model ?? 'fake-model';
    const text = reply(body);
    const promptTokens = tokens(body.messages.map((m: { content: unknown }) => String(m.content ?? '')).join('\n'));
    const completionTokens = tokens(text);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const id = tensorzero ? createUuidv7() : `chatcmpl-fake-${++counter}`;
    if (tensorzero) issued.inferenceIds.add(id);
    const ids = episodeId ? { id, episode_id: episodeId } : { id };
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      return sendJson(res, 200, {
        ...ids,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null }],
        ...(sendUsage ? { usage } : {}),
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ ...ids, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`);
    chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    for (const piece of text.match(/[\s\S]{1,24}/g) ?? []) {
      chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
    }
    chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    if (sendUsage && body.stream_options?.include_usage) chunk([], { usage });
    res.end('data: [DONE]\n\n');
  }

  /** `POST /feedback` as TensorZero validates it: a declared metric, a value of its type, the id its level names. */
  async function handleFeedback(req: IncomingMessage, res: ServerResponse) {
    const raw = await readBody(req);
    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      return sendJson(res, 400, { error: 'Failed to parse the request body as JSON' });
    }
    feedbackRequests.push({ body, headers: req.headers, receivedAt: Date.now() });
    const failure = feedbackFailures.shift();
    if (failure !== undefined) return sendJson(res, failure, { error: `fake failure ${failure}` });
    const refuse = (error: string) => sendJson(res, 400, { error });
    if (typeof body !== 'object' || body === null) return refuse('feedback must be a JSON object');
    if (typeof body.metric_name !== 'string') return refuse('missing field `metric_name`');
    const metric = metrics[body.metric_name];
    if (!metric) return refuse(`Unknown metric: ${body.metric_name}`);
    const hasInference = body.inference_id !== undefined && body.inference_id !== null;
    const hasEpisode = body.episode_id !== undefined && body.episode_id !== null;
    if (hasInference === hasEpisode) return refuse('Exactly one of `inference_id` or `episode_id` must be provided');
    const target = hasInference ? body.inference_id : body.episode_id;
    if (!isUuidv7(target)) return refuse(`Invalid ${hasInference ? 'Inference' : 'Episode'} ID: ${JSON.stringify(target)} is not a UUIDv7`);
    if ((metric.level === 'episode') !== hasEpisode) return refuse(`Correct ID was not provided for feedback level "${metric.level}"`);
    const typed = metric.type === 'boolean' ? typeof body.value === 'boolean' : typeof body.value === 'number' && Number.isFinite(body.value);
    if (!typed) return refuse(`Feedback value for metric \`${body.metric_name}\` must be a ${metric.type}`);
    if (body.tags !== undefined && (typeof body.tags !== 'object' || body.tags === null || Object.values(body.tags).some((v) => typeof v !== 'string'))) {
      return refuse('`tags` must be a flat object of strings');
    }
    feedback.push(body);
    return sendJson(res, 200, { feedback_id: createUuidv7() });
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}${tensorzero ? '/openai/v1' : '/v1'}`,
    gatewayUrl: `http://${host}:${port}`,
    requests,
    feedbackRequests,
    feedback,
    issued,
    failFeedbackNext(count, status) {
      for (let i = 0; i < count; i++) feedbackFailures.push(status);
    },
    failNext(count, response) {
      for (let i = 0; i < count; i++) failures.push(response);
    },
    hangNext(count) {
      hangs += count;
    },
    recover() {
      failures.length = 0;
      hangs = 0;
    },
    hold() {
      if (holding) return;
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      holding = { promise, resolve };
    },
    release() {
      const current = holding;
      holding = null;
      current?.resolve();
    },
    get held() {
      return held;
    },
    setReply(next) {
      reply = next ?? options.reply ?? defaultDiagnosis;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setResponseFormats(types) {
      responseFormats = types;
    },
    stop() {
      holding?.resolve();
      holding = null;
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, message: string, type: string) {
  sendJson(res, status, { error: { message, type, code: null } });
}
