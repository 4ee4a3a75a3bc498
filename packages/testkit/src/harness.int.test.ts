import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from './index.ts';

describe('createTestDatabase', () => {
  let a: TestDatabase;
  let b: TestDatabase;

  beforeAll(async () => {
    [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });

  afterAll(async () => {
    await Promise.all([a?.destroy(), b?.destroy()]);
  });

  it('gives each caller its own migrated database', async () => {
    expect(a.name).not.toBe(b.name);
    for (const t of [a, b]) {
      const tables = await t.db
        .selectFrom('information_schema.tables' as never)
        .select(sql<string>`table_name`.as('table_name'))
        .where(sql`table_schema`, '=', 'public')
        .execute();
      const names = tables.map((r) => r.table_name);
      expect(names).toEqual(expect.arrayContaining(['failures', 'deliveries', 'executions']));
      const current = await sql<{ db: string }>`select current_database() as db`.execute(t.db);
      expect(current.rows[0]?.db).toBe(t.name);
    }
  });

  it('keeps the databases independent', async () => {
    await sql`create table probe (id int)`.execute(a.db);
    await sql`insert into probe values (1)`.execute(a.db);
    const inA = await sql<{ n: number }>`select count(*)::int as n from probe`.execute(a.db);
    expect(inA.rows[0]?.n).toBe(1);
    await expect(sql`select * from probe`.execute(b.db)).rejects.toThrow(/relation "probe" does not exist/);
  });

  it('drops the database on destroy', async () => {
    const c = await createTestDatabase();
    await c.destroy();
    await c.destroy(); // idempotent
    const exists = await sql<{ n: number }>`select count(*)::int as n from pg_database where datname = ${c.name}`.execute(a.db);
    expect(exists.rows[0]?.n).toBe(0);
  });
});

describe('Redis prefixes', () => {
  const redis = createTestRedis();

  afterAll(async () => {
    await redis.quit();
  });

  it('are unique and cleaned up by deleteKeysWithPrefix', async () => {
    const mine = testPrefix();
    const other = testPrefix();
    expect(mine).not.toBe(other);
    expect(mine).toMatch(/^\{test-[0-9a-f-]{36}\}$/);
    for (let i = 0; i < 1200; i++) redis.set(`${mine}:key:${i}`, 'x');
    await redis.set(`${other}:key`, 'y');
    expect(await deleteKeysWithPrefix(redis, mine)).toBe(1200);
    expect(await redis.keys(`${mine}*`)).toEqual([]);
    expect(await redis.get(`${other}:key`)).toBe('y');
    expect(await deleteKeysWithPrefix(redis, other)).toBe(1);
  });

  it('talks to a noeviction Redis, as BullMQ requires', async () => {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    expect(policy).toBe('noeviction');
  });
});
