/**
 * Reference server of `pitcrew bench ingest`: the minimal webhook receiver most projects write —
 * Hono, `@octokit/webhooks-methods` verify, `JSON.parse`, and a BullMQ `add` of the whole payload
 * under the delivery id. No filtering, no dedupe beyond the job id. Run as a child process with
 * `PORT`, `REDIS_URL`, `BENCH_SECRET` and `BENCH_PREFIX`.
 */
import { serve } from '@hono/node-server';
import { verify } from '@octokit/webhooks-methods';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const secret = process.env.BENCH_SECRET!;
const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
const queue = new Queue('peer-intake', { connection: redis, prefix: process.env.BENCH_PREFIX ?? 'peer' });
const app = new Hono();
app.get('/healthz', (c) => c.json({ ok: true }));
app.post('/webhooks/github', async (c) => {
  const raw = await c.req.text();
  if (!(await verify(secret, raw, c.req.header('x-hub-signature-256') ?? ''))) return c.json({ error: 'bad_signature' }, 401);
  const payload = JSON.parse(raw) as object;
  const event = c.req.header('x-github-event') ?? 'unknown';
  await queue.add(event, { event, payload }, { jobId: `delivery-${c.req.header('x-github-delivery')}` });
  return c.json({ accepted: true }, 202);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
process.on('SIGTERM', () => void queue.close().then(() => redis.quit()).finally(() => process.exit(0)));
