import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { hostname } from 'node:os';
import { stopChild } from '@pitcrew/stack';

/**
 * When and how often a child that died is started again. The shape follows two supervisors most
 * operators know: Kubernetes restarts a crashed container after an exponentially growing delay
 * (10 s doubling to 5 min, reset once it ran 10 min without trouble: "Container restarts" in the
 * Pod lifecycle docs), and systemd refuses to start a unit more than `StartLimitBurst` (5) times
 * within `StartLimitIntervalSec` (10 s by default). Our numbers are smaller delays and a longer
 * window, sized for `pitcrew start`'s Node children, which take 2-3 s to boot through tsx on the
 * 2-core CI machine: a one-off crash (OOM, a stray `kill -9`) is back within a second, and a
 * child that crashes on every start (bad configuration, a port taken) is given up on within
 * about 30 s instead of looping forever.
 */
export interface RestartPolicy {
  /** ms from a crash to the first restart; each further crash in a row doubles it. */
  initialDelayMs: number;
  /** ms the doubled delay never exceeds. */
  maxDelayMs: number;
  /** ms of uptime after which a crash counts as the first in a row again (delay back to `initialDelayMs`). */
  stableAfterMs: number;
  /** Restarts of one child allowed within `windowMs`; the crash after those gives up. */
  maxRestarts: number;
  /** ms of the sliding window in which one child's crashes are counted. */
  windowMs: number;
}

/**
 * Defaults: 500 ms doubling to 15 s (500, 1000, 2000, 4000, 8000 ms for five crashes in a row);
 * 30 s up (twice the cap, ten times a child's boot) resets the delay; at most 5 restarts per
 * 60 s, so a child that crashes at boot gives up on its sixth crash, 15.5 s of delays plus six
 * boots after the first.
 */
export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 15_000,
  stableAfterMs: 30_000,
  maxRestarts: 5,
  windowMs: 60_000,
};

/**
 * ms to wait before restarting a child after its `crashesInARow`-th crash in a row (1 = the
 * first): `initialDelayMs × 2^(crashesInARow - 1)`, at most `maxDelayMs`.
 */
export function restartDelayMs(crashesInARow: number, policy: Pick<RestartPolicy, 'initialDelayMs' | 'maxDelayMs'>): number {
  const exponent = Math.max(0, crashesInARow - 1);
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(exponent, 30));
}

/** A process the supervisor runs and restarts. */
export interface ChildSpec {
  /** Name in messages (`ingest`, `worker-1`); one child per name. */
  name: string;
  command: string;
  args: string[];
  /** The whole environment of the child, the same at every restart. */
  env: NodeJS.ProcessEnv;
  /** File that the child's stdout and stderr, and the supervisor's notes about it, are appended to, across restarts. */
  logFile: string;
}

/** Why the supervisor gave up: one child crashed too often. */
export interface GiveUp {
  name: string;
  /** Crashes of that child within `windowMs`. */
  crashes: number;
  windowMs: number;
  logFile: string;
  /** The sentence printed on stderr. */
  message: string;
}

export interface SupervisorOptions {
  /** Overrides of {@link DEFAULT_RESTART_POLICY}. */
  policy?: Partial<RestartPolicy>;
  /** Told each restart (default: stdout). */
  info?: (line: string) => void;
  /** Told each crash and the give-up (default: stderr). */
  warn?: (line: string) => void;
}

interface Supervised {
  spec: ChildSpec;
  log: WriteStream;
  child: ChildProcess | undefined;
  /** Resolves when the current run's stdout and stderr are closed (all its output is in the log). */
  closed: Promise<void>;
  /** `performance.now()` at the current run's spawn, ms. */
  startedAt: number;
  /** Crashes since the last run that lasted `stableAfterMs`. */
  crashesInARow: number;
  /** `performance.now()` of each crash within the window, ms. */
  crashTimes: number[];
  /** Restarts so far (0 for the first run). */
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs child processes and restarts each one that dies while the supervisor is not stopping,
 * after {@link restartDelayMs}, with the same name, environment and log file. A child that
 * crashes more than `maxRestarts` times within `windowMs` is not restarted: the supervisor
 * resolves {@link gaveUp}, restarts nothing more, and leaves it to the caller to {@link stop}
 * the rest. Children run in their own process group (`detached`), so a Ctrl-C in the terminal
 * reaches only the supervising process, which then stops each child once, with its grace
 * period, instead of the child seeing SIGINT and then SIGTERM (its second signal, which exits at
 * once).
 */
export class Supervisor {
  readonly policy: RestartPolicy;
  /** Resolves when a child crashed too often; never rejects. */
  readonly gaveUp: Promise<GiveUp>;
  private readonly children = new Map<string, Supervised>();
  private readonly info: (line: string) => void;
  private readonly warn: (line: string) => void;
  private stopping = false;
  private giveUp: GiveUp | undefined;
  private resolveGiveUp!: (giveUp: GiveUp) => void;

  constructor(options: SupervisorOptions = {}) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...options.policy };
    for (const [key, value] of Object.entries(this.policy)) {
      if (!Number.isFinite(value) || value < (key === 'maxRestarts' ? 0 : 1)) throw new Error(`restart policy ${key}=${value} is not a positive number`);
    }
    this.info = options.info ?? ((line) => console.log(line));
    this.warn = options.warn ?? ((line) => console.error(line));
    this.gaveUp = new Promise((resolve) => (this.resolveGiveUp = resolve));
  }

  /**
   * Starts `spec` and supervises it from now on.
   * @throws {Error} when a child of that name exists or the supervisor is stopping
   */
  start(spec: ChildSpec): void {
    if (this.children.has(spec.name)) throw new Error(`a child named ${spec.name} is already supervised`);
    if (this.stopping) throw new Error(`cannot start ${spec.name}: the supervisor is stopping`);
    const entry: Supervised = {
      spec,
      log: createWriteStream(spec.logFile, { flags: 'a' }),
      child: undefined,
      closed: Promise.resolve(),
      startedAt: 0,
      crashesInARow: 0,
      crashTimes: [],
      restarts: 0,
      timer: undefined,
    };
    entry.log.on('error', (error) => this.warn(`${spec.name}: cannot write its log ${spec.logFile}: ${error.message}`));
    this.children.set(spec.name, entry);
    this.run(entry);
  }

  /** Pid of the current run of child `name`; undefined while it is down or waiting for its restart. */
  pid(name: string): number | undefined {
    const child = this.children.get(name)?.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** The give-up, once it happened. */
  get failure(): GiveUp | undefined {
    return this.giveUp;
  }

  /**
   * Stops supervising: cancels pending restarts, sends each running child SIGTERM and, after
   * `graceMs` ms without an exit, SIGKILL; resolves once all are gone and their logs closed.
   * Nothing is restarted from the moment it is called. Calling it again waits for the same stop.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(async (entry) => {
        clearTimeout(entry.timer);
        entry.timer = undefined;
        if (entry.child) {
          await stopChild(entry.child, 'SIGTERM', graceMs);
          // Output still in the pipes after the exit goes to the log too; a grandchild that holds
          // them open gets 1 s.
          await Promise.race([entry.closed, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
          entry.child.stdout?.unpipe(entry.log);
          entry.child.stderr?.unpipe(entry.log);
        }
        if (!entry.log.writableEnded) await new Promise<void>((resolve) => entry.log.end(resolve));
      }),
    );
  }

  /** SIGKILLs every running child at once, restarting nothing: for an operator's second Ctrl-C. */
  kill(): void {
    this.stopping = true;
    for (const entry of this.children.values()) {
      clearTimeout(entry.timer);
      if (entry.child && entry.child.exitCode === null && entry.child.signalCode === null) entry.child.kill('SIGKILL');
    }
  }

  private run(entry: Supervised): void {
    const { spec } = entry;
    const child = spawn(spec.command, spec.args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    entry.child = child;
    entry.closed = new Promise((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => child.pid === undefined && resolve());
    });
    entry.startedAt = performance.now();
    // One log stream for every run: a child's end of output must not end the file.
    child.stdout!.pipe(entry.log, { end: false });
    child.stderr!.pipe(entry.log, { end: false });
    let ended = false;
    const onEnd = (how: string) => {
      if (ended) return;
      ended = true;
      this.onCrash(entry, how);
    };
    child.once('exit', (code, signal) => onEnd(signal ? `exited (${signal})` : `exited (code ${code})`));
    // A spawn that fails (ENOENT, EAGAIN) emits 'error' and maybe no 'exit'.
    child.once('error', (error) => {
      if (child.pid === undefined) onEnd(`could not start (${error.message})`);
    });
    if (entry.restarts > 0 && child.pid !== undefined) {
      const line = `${spec.name} restarted (pid ${child.pid})`;
      this.info(line);
      this.note(entry, 30, line);
    }
  }

  private onCrash(entry: Supervised, how: string): void {
    if (this.stopping) return;
    const { spec } = entry;
    const now = performance.now();
    const uptimeMs = now - entry.startedAt;
    entry.crashesInARow = uptimeMs >= this.policy.stableAfterMs ? 1 : entry.crashesInARow + 1;
    entry.crashTimes = [...entry.crashTimes.filter((t) => now - t < this.policy.windowMs), now];
    const windowS = formatSeconds(this.policy.windowMs);
    const what = `${spec.name} ${how} after ${(uptimeMs / 1000).toFixed(1)} s`;
    if (entry.crashTimes.length > this.policy.maxRestarts) {
      const crashes = entry.crashTimes.length;
      const message =
        `${what}: it crashed ${crashes} times within ${windowS} s (at most ${this.policy.maxRestarts} restarts per ${windowS} s), ` +
        `so pitcrew gives up on it and stops everything; see its log: ${spec.logFile}`;
      this.stopping = true;
      this.giveUp = { name: spec.name, crashes, windowMs: this.policy.windowMs, logFile: spec.logFile, message };
      this.warn(message);
      this.note(entry, 50, message);
      this.resolveGiveUp(this.giveUp);
      return;
    }
    const delayMs = restartDelayMs(entry.crashesInARow, this.policy);
    const line = `${what}; restarting in ${delayMs} ms (restart ${entry.crashTimes.length} of at most ${this.policy.maxRestarts} per ${windowS} s)`;
    this.warn(line);
    this.note(entry, 40, line);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.stopping) return;
      entry.restarts++;
      this.run(entry);
    }, delayMs);
  }

  /** Appends a pino-shaped line to the child's log, so the file stays one JSON object per line. */
  private note(entry: Supervised, level: number, msg: string): void {
    if (entry.log.writable) {
      entry.log.write(`${JSON.stringify({ level, time: Date.now(), pid: process.pid, hostname: hostname(), name: 'supervisor', child: entry.spec.name, msg })}\n`);
    }
  }
}

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

