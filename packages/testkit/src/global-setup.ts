import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDb, migrateToLatest } from '@pitcrew/core';
import {
  ensureBubblewrap,
  ensureRedisServer,
  ensureSocat,
  startEmbeddedPostgres,
  startRedisServer,
  type PostgresHandle,
  type RedisServerHandle,
} from '@pitcrew/stack';
import { TEMPLATE_DATABASE } from './provided-context.ts';

/**
 * Vitest globalSetup: starts one redis-server (no AOF) and one embedded Postgres (non-durable,
 * deleted afterwards) in a temporary directory for the whole run, creates and migrates the
 * template database, and provides `redisUrl`, `postgresAdminUrl` and `postgresTemplate`.
 * redis-server, bubblewrap and socat are installed with apt-get when missing and running as root on Debian.
 *
 * @returns the teardown, which stops both servers and removes the directory
 * @throws {Error} when a server cannot start or a migration fails (everything started is stopped)
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const startedAt = performance.now();
  const root = await mkdtemp(join(tmpdir(), 'pitcrew-test-'));
  await chmod(root, 0o755); // as root, Postgres runs as `postgres`, which must pass through
  let redis: RedisServerHandle | undefined;
  let postgres: PostgresHandle | undefined;
  const teardown = async (): Promise<void> => {
    await Promise.allSettled([redis?.stop(), postgres?.stop()]);
    await rm(root, { recursive: true, force: true });
  };

  try {
    const log = (line: string): void => {
      if (line.startsWith('apt: ')) console.log(`[testkit] ${line}`);
    };
    // The sandbox tests run real bubblewrap; installed like redis-server when missing.
    if (!(await ensureBubblewrap({ log }))) console.log('[testkit] bubblewrap (bwrap) is missing; the sandbox tests will fail: apt-get install bubblewrap');
    // The egress tests bridge the sandbox to its allow-list proxy with socat.
    if (!(await ensureSocat({ log }))) console.log('[testkit] socat is missing; the sandbox egress tests will fail: apt-get install socat');
    const [redisResult, postgresResult] = await Promise.allSettled([
      ensureRedisServer({ log }).then((bin) => startRedisServer({ bin, dir: join(root, 'redis'), appendonly: false })),
      startEmbeddedPostgres({
        dataDir: join(root, 'postgres'),
        database: TEMPLATE_DATABASE,
        persistent: false,
        durable: false,
      }),
    ]);
    if (redisResult.status === 'fulfilled') redis = redisResult.value;
    if (postgresResult.status === 'fulfilled') postgres = postgresResult.value;
    if (redisResult.status === 'rejected') throw redisResult.reason;
    if (postgresResult.status === 'rejected') throw postgresResult.reason;
    if (!redis || !postgres) throw new Error('unreachable: both servers started');

    await migrateTemplate(postgres);
    project.provide('redisUrl', redis.url);
    project.provide('postgresAdminUrl', postgres.adminUrl);
    project.provide('postgresTemplate', TEMPLATE_DATABASE);
  } catch (err) {
    await teardown();
    throw new Error('testkit: cannot start the test servers', { cause: err });
  }

  const ms = Math.round(performance.now() - startedAt);
  console.log(`[testkit] redis :${redis.port} + postgres :${postgres.port} up in ${ms} ms`);
  return teardown;
}

/** Migrates the template, then locks it against connections so clones never find it busy. */
async function migrateTemplate(postgres: PostgresHandle): Promise<void> {
  const db = createDb(postgres.url, 1);
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE ${TEMPLATE_DATABASE} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
  } finally {
    await admin.end();
  }
}
