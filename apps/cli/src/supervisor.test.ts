import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restartDelayMs, Supervisor, type ChildSpec, type RestartPolicy } from './supervisor.ts';

// Real child processes (`node -e`), real signals. Waits are bounded by generous timeouts; nothing
// asserts how fast anything happens.

/** Stays up, prints its pid and FOO once. */
const STAYS_UP = `console.log('up ' + process.pid + ' FOO=' + process.env.FOO); setInterval(() => {}, 1000);`;
/** Dies at once with code 3. */
const CRASHES = `console.log('up ' + process.pid); process.exit(3);`;
/** Ignores SIGTERM. */
const IGNORES_SIGTERM = `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up ' + process.pid); setInterval(() => {}, 1000);`;

let dir: string;
let supervisor: Supervisor | undefined;
let lines: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pitcrew-supervisor-'));
  lines = [];
});
afterEach(async () => {
  supervisor?.kill();
  await supervisor?.stop(1_000);
  supervisor = undefined;
  await rm(dir, { recursive: true, force: true });
});

function spec(name: string, script: string, env: NodeJS.ProcessEnv = {}): ChildSpec {
  return { name, command: process.execPath, args: ['-e', script], env: { PATH: process.env.PATH, ...env }, logFile: join(dir, `${name}.log`) };
}

function supervise(policy: Partial<RestartPolicy>): Supervisor {
  supervisor = new Supervisor({ policy, info: (l) => lines.push(l), warn: (l) => lines.push(l) });
  return supervisor;
}

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lines so far:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pid of `name` once it has printed its `up` line (so it is past boot). */
async function upPid(s: Supervisor, name: string, notPid?: number): Promise<number> {
  return until(`${name} up`, async () => {
    const pid = s.pid(name);
    if (pid === undefined || pid === notPid) return undefined;
    const log = await readFile(join(dir, `${name}.log`), 'utf8').catch(() => '');
    return log.includes(`up ${pid}`) ? pid : undefined;
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('restartDelayMs', () => {
  it('doubles from the initial delay up to the cap', () => {
    const policy = { initialDelayMs: 500, maxDelayMs: 15_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((n) => restartDelayMs(n, policy))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });
});

describe('Supervisor', () => {
  it('restarts a SIGKILLed child with doubling delays, same log (appended) and env, while the others keep running', async () => {
    const s = supervise({ initialDelayMs: 100, maxDelayMs: 1_000, stableAfterMs: 60_000, maxRestarts: 5, windowMs: 60_000 });
    s.start(spec('worker-1', STAYS_UP, { FOO: 'bar' }));
    s.start(spec('worker-2', STAYS_UP));
    const other = await upPid(s, 'worker-2');
    const first = await upPid(s, 'worker-1');

    process.kill(first, 'SIGKILL');
    const second = await upPid(s, 'worker-1', first);
    process.kill(second, 'SIGKILL');
    const third = await upPid(s, 'worker-1', second);

    expect(lines[0]).toMatch(/^worker-1 exited \(SIGKILL\) after \d+\.\d s; restarting in 100 ms \(restart 1 of at most 5 per 60 s\)$/);
    expect(lines[1]).toBe(`worker-1 restarted (pid ${second})`);
    expect(lines[2]).toMatch(/^worker-1 exited \(SIGKILL\) after \d+\.\d s; restarting in 200 ms \(restart 2 of at most 5 per 60 s\)$/);
    expect(lines[3]).toBe(`worker-1 restarted (pid ${third})`);
    expect(s.pid('worker-2')).toBe(other);
    expect(alive(other)).toBe(true);

    const log = await readFile(join(dir, 'worker-1.log'), 'utf8');
    for (const pid of [first, second, third]) expect(log).toContain(`up ${pid} FOO=bar`);
    const notes = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { name: string; child: string; msg: string });
    expect(notes.map((n) => n.msg)).toEqual(lines.slice(0, 4));
    expect(notes.every((n) => n.name === 'supervisor' && n.child === 'worker-1')).toBe(true);
  });

  it('resets the delay after a run that lasted stableAfterMs', async () => {
    const s = supervise({ initialDelayMs: 100, maxDelayMs: 10_000, stableAfterMs: 1_500, maxRestarts: 10, windowMs: 60_000 });
    s.start(spec('ingest', STAYS_UP));
    const a = await upPid(s, 'ingest');
    await sleep(2_000); // a stable run
    process.kill(a, 'SIGKILL');
    const b = await upPid(s, 'ingest', a);
    process.kill(b, 'SIGKILL'); // a short run: the delay doubles
    const c = await upPid(s, 'ingest', b);
    await sleep(2_000); // stable again: back to the initial delay
    process.kill(c, 'SIGKILL');
    await upPid(s, 'ingest', c);
    const delays = lines.filter((l) => l.includes('restarting in')).map((l) => /restarting in (\d+) ms/.exec(l)![1]);
    expect(delays).toEqual(['100', '200', '100']);
  });

  it('gives up on a child that crashes more than maxRestarts times within windowMs, says so, and restarts nothing more', async () => {
    const s = supervise({ initialDelayMs: 50, maxDelayMs: 200, stableAfterMs: 60_000, maxRestarts: 3, windowMs: 60_000 });
    s.start(spec('worker-2', STAYS_UP));
    const healthy = await upPid(s, 'worker-2');
    s.start(spec('worker-1', CRASHES));
    const giveUp = await Promise.race([s.gaveUp, sleep(30_000).then(() => undefined)]);
    expect(giveUp).toBeDefined();
    const logFile = join(dir, 'worker-1.log');
    expect(giveUp).toMatchObject({ name: 'worker-1', crashes: 4, windowMs: 60_000, logFile });
    expect(giveUp!.message).toMatch(/^worker-1 exited \(code 3\) after \d+\.\d s: it crashed 4 times within 60 s \(at most 3 restarts per 60 s\), so pitcrew gives up on it and stops everything; see its log: /);
    expect(giveUp!.message).toContain(logFile);
    expect(lines.at(-1)).toBe(giveUp!.message);
    expect(s.failure).toBe(giveUp);
    expect(lines.filter((l) => l.includes('restarting in')).map((l) => /restarting in (\d+) ms \(restart (\d) of/.exec(l)!.slice(1))).toEqual([
      ['50', '1'],
      ['100', '2'],
      ['200', '3'],
    ]);

    // The healthy child is untouched until the caller stops; the crashing one never runs again.
    expect(alive(healthy)).toBe(true);
    await sleep(500);
    const log = await readFile(logFile, 'utf8');
    expect(log.match(/^up \d+$/gm)).toHaveLength(4);
    expect(log).toContain('gives up on it');
    await s.stop(5_000);
    expect(alive(healthy)).toBe(false);
  });

  it('stop() never restarts: children get SIGTERM (SIGKILL after the grace), a pending restart is cancelled', async () => {
    const s = supervise({ initialDelayMs: 1_000, maxDelayMs: 1_000, stableAfterMs: 60_000, maxRestarts: 5, windowMs: 60_000 });
    s.start(spec('ingest', STAYS_UP));
    s.start(spec('worker-1', IGNORES_SIGTERM));
    s.start(spec('worker-2', STAYS_UP));
    const pids = [await upPid(s, 'ingest'), await upPid(s, 'worker-1'), await upPid(s, 'worker-2')];
    process.kill(pids[2]!, 'SIGKILL');
    await until('the restart to be scheduled', () => lines.some((l) => l.startsWith('worker-2 exited (SIGKILL)')));

    await s.stop(1_000);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    await sleep(1_500); // past the cancelled restart's delay
    expect(lines.filter((l) => l.includes('restarted'))).toEqual([]);
    expect(lines.filter((l) => l.includes('exited'))).toHaveLength(1);
    for (const name of ['ingest', 'worker-1', 'worker-2']) expect(s.pid(name)).toBeUndefined();
    expect(await readFile(join(dir, 'worker-1.log'), 'utf8')).toContain('ignoring SIGTERM');
    expect(() => s.start(spec('worker-3', STAYS_UP))).toThrow(/stopping/);
  });
});
