import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { sign } from '@octokit/webhooks-methods';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startIngest, type IngestHandle } from './main.ts';
import { actionFromPrefix, conclusionIfNoFailure } from './webhook.ts';

// The webhook route over real HTTP: on @hono/node-server it reads the Node request stream itself
// (raw-body.ts, readRawBody), a path `app.request` in webhook.int.test.ts never takes.

const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
const jobFailure = () => structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
const SECRET = 'node-path-secret-0123';
const LIMIT = 64 * 1024;
const prefix = testPrefix();
let tdb: TestDatabase;
let ingest: IngestHandle;

beforeAll(async () => {
  tdb = await createTestDatabase();
  ingest = await startIngest(
    {
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: tdb.url,
      GITHUB_WEBHOOK_SECRET: SECRET,
      PORT: '0',
      HOST: '127.0.0.1',
      PITCREW_MAX_BODY_BYTES: String(LIMIT),
      PITCREW_QUEUE_PREFIX: prefix,
    },
    pino({ level: 'silent' }),
  );
});
afterAll(async () => {
  await ingest.close();
  await tdb.destroy();
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

async function deliver(event: string, body: string) {
  const response = await fetch(`${ingest.url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': await sign(SECRET, body),
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('actionFromPrefix', () => {
  it('reads the action from a compact first key only', () => {
    expect(actionFromPrefix('{"action":"in_progress","workflow_job":{}}')).toBe('in_progress');
    expect(actionFromPrefix('{"action":"completed","x":1}')).toBe('completed');
    expect(actionFromPrefix('{ "action": "queued" }')).toBeUndefined();
    expect(actionFromPrefix('{"workflow_job":{},"action":"queued"}')).toBeUndefined();
    expect(actionFromPrefix('{"action":"compl\\u0065ted"}')).toBeUndefined();
    expect(actionFromPrefix('{"action":"')).toBeUndefined();
  });
});

describe('conclusionIfNoFailure', () => {
  it('names the first conclusion when no failure conclusion appears anywhere', () => {
    expect(conclusionIfNoFailure('{"action":"completed","check_run":{"conclusion":"success","check_suite":{"conclusion":"neutral"}}}')).toBe('success');
    expect(conclusionIfNoFailure('{"action":"completed","workflow_run":{"conclusion":null}}')).toBe('null');
  });

  it('leaves to the full parse any body that could be a failure', () => {
    for (const conclusion of ['failure', 'timed_out', 'startup_failure']) {
      expect(conclusionIfNoFailure(`{"action":"completed","workflow_job":{"conclusion":"${conclusion}"}}`)).toBeUndefined();
    }
    // A failed step is enough to parse: the job's own conclusion decides there.
    expect(conclusionIfNoFailure('{"action":"completed","workflow_job":{"conclusion":"success","steps":[{"conclusion":"failure"}]}}')).toBeUndefined();
    // An escaped letter could spell "failure".
    expect(conclusionIfNoFailure('{"action":"completed","workflow_job":{"conclusion":"\\u0066ailure"}}')).toBeUndefined();
  });
});

describe('POST /webhooks/github on the Node server', () => {
  it('accepts a signed failure read from the request stream', async () => {
    const res = await deliver('workflow_job', JSON.stringify(jobFailure()));
    expect(res).toMatchObject({ status: 202, body: { accepted: true, failureId: expect.stringMatching(/^gh-job-/) } });
  });

  it('ignores a delivery whose first key is an action other than completed, without parsing the rest', async () => {
    const res = await deliver('workflow_job', '{"action":"in_progress","workflow_job":{"id": 1, truncated');
    expect(res).toMatchObject({ status: 202, body: { ignored: true, reason: 'action in_progress is not completed' } });
  });

  it('ignores a completed success without parsing, naming its conclusion', async () => {
    const success = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'success'));
    const res = await deliver('workflow_job', JSON.stringify(success));
    expect(res).toMatchObject({ status: 202, body: { ignored: true, reason: 'conclusion success is not a failure' } });
  });

  it('still parses (and rejects) a malformed body that could be a failure', async () => {
    const res = await deliver('workflow_job', '{"action":"completed","workflow_job":{"conclusion":"failure",');
    expect(res).toMatchObject({ status: 400, body: { error: 'malformed_json' } });
  });

  it('413 by Content-Length, and for a chunked body as soon as it passes the limit', async () => {
    const declared = await deliver('workflow_job', JSON.stringify({ action: 'completed', pad: 'x'.repeat(LIMIT + 10) }));
    expect(declared).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });

    const { status, body, written } = await new Promise<{ status: number; body: string; written: number }>((resolve, reject) => {
      let written = 0;
      let answered = false;
      const req = request(
        `${ingest.url}/webhooks/github`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
            'x-github-event': 'workflow_job',
            'x-github-delivery': randomUUID(),
            'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
          },
        },
        (res) => {
          answered = true;
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode!, body: text, written });
          });
        },
      );
      req.on('error', (error) => (answered ? undefined : reject(error)));
      const chunk = Buffer.alloc(16 * 1024, 120);
      const pump = () => {
        // Up to 16 MiB, far past the limit, unless the server answers first.
        while (!answered && written < 16 * 1024 * 1024) {
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!answered) req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ error: 'payload_too_large' });
    expect(written).toBeLessThan(16 * 1024 * 1024);
  });
});
