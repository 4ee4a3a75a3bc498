import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findFreePort } from '@pitcrew/stack';
import { createTestDatabase, type TestDatabase } from '@pitcrew/testkit';
import { childrenOf } from './bench/infra.ts';

// `pitcrew ingest` with PITCREW_INGEST_PROCESSES=2: a node:cluster primary and two servers on one
// port; the primary re-forks a server that dies and stops them all on SIGTERM.

const BIN = fileURLToPath(new URL('../bin/pitcrew.mjs', import.meta.url));
let tdb: TestDatabase;

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

/** Waits for a state of the processes: a readiness bound, not a speed assertion (forks of tsx take seconds on a loaded 2-core machine). */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('pitcrew ingest with PITCREW_INGEST_PROCESSES', () => {
  it('serves from two processes on one port, replaces one that dies, and stops them all on SIGTERM', async () => {
    const port = await findFreePort();
    const primary = spawn(process.execPath, [BIN, 'ingest'], {
      env: {
        ...process.env,
        REDIS_URL: inject('redisUrl'),
        DATABASE_URL: tdb.url,
        GITHUB_WEBHOOK_SECRET: 'cluster-secret-0123',
        PORT: String(port),
        HOST: '127.0.0.1',
        PITCREW_INGEST_PROCESSES: '2',
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
    try {
      const healthy = async () => (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok).catch(() => false)) || undefined;
      await until('the servers to answer', healthy);
      const servers = await until('two server processes', () => {
        const pids = childrenOf(primary.pid!);
        return pids.length === 2 ? pids : undefined;
      });

      process.kill(servers[0]!, 'SIGKILL');
      const replaced = await until('a replacement process', () => {
        const pids = childrenOf(primary.pid!);
        return pids.length === 2 && !pids.includes(servers[0]!) ? pids : undefined;
      });
      expect(replaced).toContain(servers[1]);
      expect(await healthy()).toBe(true);

      primary.kill('SIGTERM');
      expect(await exited).toBe(0);
      for (const pid of replaced) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      if (primary.exitCode === null) primary.kill('SIGKILL');
    }
  }, 150_000);
});
