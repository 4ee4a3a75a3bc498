/**
 * The test LLM server (`@pitcrew/testkit/fake-llm`: OpenAI wire format, JSON and SSE streaming
 * with usage) as a child process for `pitcrew bench llm`, so its CPU is not the client's. Listens
 * on `PORT` with 0 ms latency, prints `ready <url>` on stdout.
 */
import { startFakeLlm } from '@pitcrew/testkit/fake-llm';

const llm = await startFakeLlm({ port: Number(process.env.PORT), latencyMs: 0, model: 'bench-model' });
// Recorded requests are for tests; the bench sends thousands, so keep none.
setInterval(() => (llm.requests.length = 0), 1_000).unref();
process.stdout.write(`ready ${llm.url}\n`);
process.on('SIGTERM', () => void llm.stop().finally(() => process.exit(0)));
