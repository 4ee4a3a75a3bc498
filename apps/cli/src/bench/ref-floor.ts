/**
 * Reference server of `pitcrew bench ingest`: the floor, the least a receiver of ingest's contract
 * with resolution on can do. pitcrew's own body reader, HMAC check and pre-parse filter
 * (imported, so only what comes after differs), then for a completed success one `EXISTS` on its
 * branch's open-failure set (ingest's own `hasOpenFailures`), and for a possible failure or a
 * success with open failures `JSON.parse` and one BullMQ `add` of the parsed payload under the
 * delivery id, as the minimal peer does. Not done, unlike pitcrew: header checks, the shape check, storing the payload
 * beside the job, the seen mark, the deadline, the log line, the metrics. pitcrew's ratio to bare
 * Hono cannot beat this one's by much; the gap between the two is pitcrew's own cost. Run as a
 * child process with `PORT`, `REDIS_URL`, `BENCH_SECRET` and `BENCH_PREFIX`.
 */
import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { createResolutionProducer, decideBeforeParsing, readRawBody, signatureMatches, signingKey } from '@pitcrew/ingest';

const keys = [signingKey(process.env.BENCH_SECRET!)];
const prefix = process.env.BENCH_PREFIX!;
const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
const queue = new Queue('floor-intake', { connection: redis, prefix });
// Only its lookup is used: the floor enqueues on its own queue, without the seen mark.
const lookups = createResolutionProducer(queue, redis, prefix);
const app = new Hono();
app.get('/healthz', (c) => c.json({ ok: true }));
app.post('/webhooks/github', async (c) => {
  const bytes = await readRawBody(c, 25 * 1024 * 1024);
  if (!signatureMatches(keys, bytes, c.req.header('x-hub-signature-256') ?? '')) return c.json({ error: 'bad_signature' }, 401);
  const raw = bytes.toString('utf8');
  const event = c.req.header('x-github-event') ?? 'unknown';
  const decision = decideBeforeParsing(event, raw, c.req.header('content-type') ?? 'application/json');
  if ('ignored' in decision) return c.json({ ignored: true, reason: decision.ignored }, 202);
  if ('lookup' in decision && !(await lookups.hasOpenFailures(decision.repository, decision.branch))) return c.json({ ignored: true, reason: decision.reason }, 202);
  const payload = JSON.parse(raw) as object;
  await queue.add(event, { event, payload }, { jobId: `delivery-${c.req.header('x-github-delivery')}` });
  return c.json({ accepted: true }, 202);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
process.on('SIGTERM', () => void queue.close().then(() => redis.quit()).finally(() => process.exit(0)));
