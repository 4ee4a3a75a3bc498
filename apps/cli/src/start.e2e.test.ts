import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';

const BIN = fileURLToPath(new URL('../bin/pitcrew.mjs', import.meta.url));

let tdb: TestDatabase;
let dataDir: string;
const prefix = testPrefix();

beforeAll(async () => {
  tdb = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-start-'));
});
afterAll(async () => {
  await tdb.destroy();
  await rm(dataDir, { recursive: true, force: true });
  const redis = createTestRedis();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pitcrew start --demo --once', () => {
  it('takes the GitHub example deliveries through ingest, BullMQ and the workers into Postgres, then exits 0', async () => {
    const result = await run(['start', '--demo', '--once', '--workers', '2', '--data-dir', dataDir], {
      DATABASE_URL: tdb.url,
      REDIS_URL: inject('redisUrl'),
      PITCREW_QUEUE_PREFIX: prefix,
      GITHUB_WEBHOOK_SECRET: 'e2e-secret-0123456789',
      LLM_BASE_URL: '',
      PORT: '',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const line of ['ingest  http://127.0.0.1:', 'console http://127.0.0.1:', 'api     http://127.0.0.1:', `DATABASE_URL=${tdb.url}`, 'REDIS_URL=']) {
      expect(result.stdout).toContain(line);
    }
    // The console ran as its own supervised process on its own port, off ingest's.
    const ingestPort = /ingest {2}http:\/\/127\.0\.0\.1:(\d+)/.exec(result.stdout)![1];
    const consolePort = /console http:\/\/127\.0\.0\.1:(\d+)/.exec(result.stdout)![1];
    expect(consolePort).not.toBe(ingestPort);
    expect(readFileSync(join(dataDir, 'logs', 'console.log'), 'utf8')).toMatch(/console listening/);
    expect(result.stdout).toMatch(/demo: 5 failures final, 0 not/);
    // The fixable failure: a real repository, prettier's fix form in bubblewrap, the guard, the
    // verification, a dry-run proposal on disk.
    expect(result.stdout).toMatch(/proposed \(dry run\), verified; rules; 4\/4 stages/);
    expect(result.stdout).toMatch(/202 duplicate/);
    expect(result.stdout).toMatch(/202 ignored/);
    expect(result.stdout).toMatch(/200 ping/);
    // CI goes green after triage: the successes of branches with open failures are resolution
    // jobs; only the check_suite success completed after its failure was received.
    expect(result.stdout).toMatch(/202 resolution/);
    expect(result.stdout).toMatch(/demo: 3 resolution jobs ended, 0 not; 1 failures resolved \(gh-suite-118578147\)/);

    const rows = await tdb.db.selectFrom('failures').select(['id', 'status', 'kind']).orderBy('id').execute();
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.status === 'triaged')).toBe(true);
    const resolved = await tdb.db.selectFrom('failures').select('id').where('resolved_at', 'is not', null).execute();
    expect(resolved.map((r) => r.id)).toEqual(['gh-suite-118578147']);
    const executions = await tdb.db.selectFrom('executions').select(['failure_id', 'stage', 'status']).execute();
    expect(executions).toHaveLength(5 * 3 + 4);
    expect(executions.every((e) => e.status === 'succeeded')).toBe(true);
    const [fix, ...others] = await tdb.db.selectFrom('fix_attempts').selectAll().execute();
    expect(others).toEqual([]);
    expect(fix).toMatchObject({ status: 'proposed', dry_run: true, fixer: 'rules', verify_exit_code: 0, files_changed: 1 });
    expect(existsSync(join(fix!.proposal_path!, 'fix.patch'))).toBe(true);
    const deliveries = await tdb.db.selectFrom('deliveries').select(['outcome']).execute();
    expect(deliveries.map((d) => d.outcome).sort()).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'merged']);
  }, 120_000);
});
