/**
 * Reference server of `pitcrew bench ingest`: bare Hono on @hono/node-server that reads the body
 * and answers 202. Whatever pitcrew does beyond this is its cost. Run as a child process with
 * `PORT`.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.get('/healthz', (c) => c.json({ ok: true }));
app.post('/webhooks/github', async (c) => {
  await c.req.text();
  return c.json({ accepted: true }, 202);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
process.on('SIGTERM', () => process.exit(0));
