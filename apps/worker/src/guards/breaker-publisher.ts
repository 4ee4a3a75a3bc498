import { breakerStateField, breakerStatesKey, type BreakerStateEntry, type Logger, type RedisConnection } from '@pitcrew/core';
import { workerName } from '../worker.ts';
import type { BreakerState, Breakers } from './breakers.ts';

/** Options of {@link createBreakerPublisher}. */
export interface BreakerPublisherOptions {
  redis: RedisConnection;
  /** BullMQ prefix; the hash is `<prefix>:breakers` (see `breakerStatesKey`). */
  prefix: string;
  breakers: Breakers;
  /** Runners whose breakers are shown even before their first model call (as `closed`). */
  runners: string[];
  logger: Logger;
  /** The process's BullMQ worker name (`<hostname>:<pid>`, see `workerName`) unless given. */
  workerId?: string;
  /** ms between refreshes of this worker's fields. */
  refreshMs?: number;
  /** s a field stays valid without a refresh; at least 3 refreshes, so one slow write is no gap. */
  ttlSeconds?: number;
}

/** Publishes one worker process's breaker states to Redis for the admin API. */
export interface BreakerPublisher {
  readonly workerId: string;
  /** Records a state change (call from the breakers' `onStateChange`) and publishes at once. */
  changed(runner: string, state: BreakerState): void;
  /** Writes every runner's state now. */
  publish(): Promise<void>;
  /** Stops refreshing and deletes this worker's fields. */
  stop(): Promise<void>;
}

/** Default ms between refreshes. */
export const BREAKER_REFRESH_MS = 10_000;

/**
 * Breaker states of this process into the `<prefix>:breakers` hash (contract in
 * `@pitcrew/core` `breaker-states.ts`): one field per runner, rewritten on every state change and
 * every `refreshMs`, each valid for `ttlSeconds`; the hash key's TTL is refreshed with it. A
 * worker that dies stops refreshing and its fields expire; a worker that stops cleanly deletes
 * them. Redis errors are logged and never reach a job: publishing is for visibility only.
 */
export function createBreakerPublisher(options: BreakerPublisherOptions): BreakerPublisher {
  const { redis, breakers, logger } = options;
  const key = breakerStatesKey(options.prefix);
  const workerId = options.workerId ?? workerName();
  const refreshMs = options.refreshMs ?? BREAKER_REFRESH_MS;
  const ttlSeconds = options.ttlSeconds ?? Math.ceil((3 * refreshMs) / 1000);
  const startedAt = new Date().toISOString();
  const since = new Map<string, { state: BreakerState; since: string }>();
  let stopped = false;

  const current = (): Map<string, { state: BreakerState; since: string }> => {
    const all = new Map<string, { state: BreakerState; since: string }>();
    for (const runner of options.runners) all.set(runner, { state: 'closed', since: startedAt });
    for (const [runner, state] of Object.entries(breakers.states())) {
      const known = since.get(runner);
      all.set(runner, known && known.state === state ? known : { state, since: known?.since ?? startedAt });
    }
    return all;
  };

  let writing: Promise<void> = Promise.resolve();
  const publish = (): Promise<void> => {
    // Serialized, so a refresh never overwrites a newer state change with an older snapshot.
    writing = writing.then(async () => {
      if (stopped) return;
      const now = Date.now();
      const fields: string[] = [];
      for (const [runner, s] of current()) {
        const entry: BreakerStateEntry = {
          state: s.state,
          since: s.since,
          updatedAt: new Date(now).toISOString(),
          expiresAt: new Date(now + ttlSeconds * 1000).toISOString(),
        };
        fields.push(breakerStateField(workerId, runner), JSON.stringify(entry));
      }
      if (fields.length === 0) return;
      await redis.multi().hset(key, ...fields).expire(key, ttlSeconds).exec();
    }).catch((error) => logger.warn({ err: error }, 'could not publish circuit-breaker states'));
    return writing;
  };

  const timer = setInterval(() => void publish(), refreshMs);
  timer.unref();
  void publish();

  return {
    workerId,
    changed(runner, state) {
      since.set(runner, { state, since: new Date().toISOString() });
      void publish();
    },
    publish,
    async stop() {
      clearInterval(timer);
      // Bounded: the worker connection queues commands while Redis is away, and shutdown must not hang on it.
      await Promise.race([writing, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      stopped = true;
      const fields = [...current().keys()].map((runner) => breakerStateField(workerId, runner));
      if (fields.length === 0) return;
      const removing = redis.hdel(key, ...fields).catch((error) => logger.warn({ err: error }, 'could not remove circuit-breaker states'));
      await Promise.race([removing, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    },
  };
}
