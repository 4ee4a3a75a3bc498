import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureRedisServer,
  pingRedis,
  RedisServerMissingError,
  startEmbeddedPostgres,
  startRedisServer,
} from './index.ts';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pitcrew-stack-test-'));
  await chmod(root, 0o755); // as root, Postgres runs as `postgres` and must pass through
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('redis-server', () => {
  it('starts with BullMQ settings, answers PING and stops', async () => {
    const redis = await startRedisServer({ dir: join(root, 'redis') });
    try {
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(await pingRedis(redis.port)).toBe(true);
      expect(isRunning(redis.pid)).toBe(true);
    } finally {
      await redis.stop();
      await redis.stop(); // idempotent
    }
    expect(isRunning(redis.pid)).toBe(false);
    expect(await pingRedis(redis.port, '127.0.0.1', 500)).toBe(false);
  });

  it('reports its output when it cannot start', async () => {
    const redis = await startRedisServer({ dir: join(root, 'redis-a') });
    try {
      const taken = startRedisServer({ dir: join(root, 'redis-b'), port: redis.port });
      await expect(taken).rejects.toThrow(/exited before it was ready[\s\S]*Address already in use/);
    } finally {
      await redis.stop();
    }
  });

  it('throws RedisServerMissingError when REDIS_SERVER_BIN points nowhere', async () => {
    const saved = process.env.REDIS_SERVER_BIN;
    process.env.REDIS_SERVER_BIN = join(root, 'no-such-redis-server');
    try {
      const error = await ensureRedisServer({ install: false }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(RedisServerMissingError);
      const message = (error as Error).message;
      expect(message).toContain('REDIS_SERVER_BIN is set to');
      expect(message).toContain('apt-get install redis-server');
      expect(message).toContain('brew install redis');
      expect(message).toContain('REDIS_URL');
    } finally {
      if (saved === undefined) delete process.env.REDIS_SERVER_BIN;
      else process.env.REDIS_SERVER_BIN = saved;
    }
  });
});

describe('embedded Postgres', () => {
  it('starts, keeps data across a restart, and stops', async () => {
    const dataDir = join(root, 'pg');
    const first = await startEmbeddedPostgres({ dataDir });
    try {
      expect((await query(first.url, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
      await query(first.url, 'create table kept (id int primary key); insert into kept values (42)');
      expect(first.url).toMatch(/\/pitcrew$/);
      expect(first.adminUrl).toMatch(/\/postgres$/);
    } finally {
      await first.stop();
      await first.stop(); // idempotent
    }
    expect(isRunning(first.pid)).toBe(false);

    const second = await startEmbeddedPostgres({ dataDir });
    try {
      expect((await query(second.url, 'select id from kept')).rows).toEqual([{ id: 42 }]);
      await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(/already running on/);
    } finally {
      await second.stop();
    }
    expect(isRunning(second.pid)).toBe(false);
  });

  it('starts over a stale postmaster.pid whose pid now belongs to another process', async () => {
    const dataDir = join(root, 'pg-stale');
    const first = await startEmbeddedPostgres({ dataDir, durable: false, database: 'other' });
    await first.stop();
    const sleeper = spawn('sleep', ['30']);
    try {
      await writeFile(join(dataDir, 'postmaster.pid'), `${sleeper.pid}\n${dataDir}\n`);
      const again = await startEmbeddedPostgres({ dataDir, durable: false, database: 'other' });
      try {
        expect((await query(again.url, 'select current_database() as db')).rows).toEqual([{ db: 'other' }]);
      } finally {
        await again.stop();
      }
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('deletes a non-persistent data directory on stop', async () => {
    const dataDir = join(root, 'pg-temp');
    const server = await startEmbeddedPostgres({ dataDir, persistent: false, durable: false });
    await server.stop();
    expect(existsSync(dataDir)).toBe(false);
    expect(isRunning(server.pid)).toBe(false);
  });
});
