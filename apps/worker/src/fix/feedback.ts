import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { listLoopInferences, type Db, type FixLoopRow, type Logger } from '@pitcrew/core';
import type { WorkerEnv } from '../env.ts';

/**
 * Fix-loop outcome feedback to TensorZero (fix loop part 2). When a loop ends, every model call of
 * the loop (executions of its own failure and of the failures with `fix_loop_id` = the loop) that a
 * TensorZero gateway answered is told how the loop went, through `POST <url>/feedback`:
 *
 * - `metrics.merged`: boolean, `loop.outcome === 'merged'`;
 * - `metrics.iterations`: float, `loop.iterations` (fix attempts of the loop).
 *
 * Targets: each distinct episode id of those calls (the loop's episode, `loopEpisodeId`), as
 * episode-level feedback (`{ metric_name, value, episode_id, tags }`); a call stored with an
 * inference id and no episode id gets inference-level feedback (`inference_id`). Declare both
 * metrics with `level = "episode"` in `tensorzero.toml`: the gateway refuses an id that does not
 * match the metric's level (400).
 *
 * Redelivery: TensorZero's feedback has no idempotency key, so a second `loopEnded` of the same
 * loop from another process (a redelivered webhook, a retried job) stores the same value again as
 * another feedback row. Each body carries `tags.pitcrew_feedback_key` =
 * `<loop id>:<metric>:<value>` so such repeats can be told apart and deduplicated in queries; a
 * repeat never changes the value. Within one process, a (target, metric, value) already accepted
 * is not sent again. A loop whose outcome changes (closed, then reopened and merged) sends the new
 * value, under a new key.
 *
 * Failures never reach the caller: a 5xx, 429 or network error is retried with exponential
 * backoff (cockatiel), then logged and counted in `failed`; a 4xx is logged at once (it names the
 * metric the gateway's config lacks or refuses) and counted.
 *
 * Source: TensorZero docs, "API Reference: Feedback",
 * https://www.tensorzero.com/docs/gateway/api-reference/feedback
 */
export interface TensorZeroFeedbackOptions {
  /** Gateway base URL, e.g. `http://tensorzero:3000` (the feedback endpoint is `<url>/feedback`). */
  url: string;
  /** Metric names as declared in `tensorzero.toml`: `merged` boolean, `iterations` float. */
  metrics: { merged: string; iterations: string };
  /** Default the global `fetch`. */
  fetch?: typeof fetch;
  logger: Logger;
  /** Attempts per feedback (default 4) and backoff between them, ms (default 250 doubling to 4000). */
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** ms per request before it is aborted and retried (default 10000). */
  timeoutMs?: number;
}

export interface TensorZeroFeedback {
  /**
   * Sends the ended loop's outcome as feedback on its episodes (else inferences). Never throws.
   *
   * @returns `sent`: feedback requests the gateway accepted; `failed`: those given up on
   */
  loopEnded(db: Db, loop: FixLoopRow): Promise<{ sent: number; failed: number }>;
}

/** One `POST /feedback` body. */
interface FeedbackBody {
  metric_name: string;
  value: boolean | number;
  inference_id?: string;
  episode_id?: string;
  tags: Record<string, string>;
}

/** A non-2xx answer of the gateway; `status` decides whether it is retried. */
class FeedbackHttpError extends Error {
  constructor(readonly status: number, body: string) {
    super(`TensorZero feedback answered ${status}: ${body.slice(0, 500)}`);
    this.name = 'FeedbackHttpError';
  }
}

/** 5xx, 429 and network errors or timeouts (anything but a 4xx answer) may succeed later. */
function retryable(error: Error): boolean {
  return !(error instanceof FeedbackHttpError) || error.status >= 500 || error.status === 429;
}

/** Keys remembered per process to skip repeats, oldest forgotten first. */
const REMEMBERED = 10_000;

/** @see TensorZeroFeedbackOptions */
export function createTensorZeroFeedback(options: TensorZeroFeedbackOptions): TensorZeroFeedback {
  const endpoint = new URL('feedback', options.url.endsWith('/') ? options.url : `${options.url}/`).toString();
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const policy = retry(handleWhen(retryable), {
    maxAttempts: Math.max(0, (options.retry?.maxAttempts ?? 4) - 1),
    backoff: new ExponentialBackoff({ initialDelay: options.retry?.initialDelayMs ?? 250, maxDelay: options.retry?.maxDelayMs ?? 4_000 }),
  });
  const accepted = new Set<string>();

  async function post(body: FeedbackBody): Promise<void> {
    await policy.execute(async () => {
      const response = await doFetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      if (!response.ok) throw new FeedbackHttpError(response.status, text);
    });
  }

  return {
    async loopEnded(db, loop) {
      const log = options.logger.child({ loopId: loop.loop_id, outcome: loop.outcome, iterations: loop.iterations });
      let inferences;
      try {
        inferences = await listLoopInferences(db, loop.loop_id);
      } catch (error) {
        log.error({ err: error }, 'could not read the loop’s model calls; no TensorZero feedback sent');
        return { sent: 0, failed: 0 };
      }
      const episodes = [...new Set(inferences.flatMap((i) => (i.episodeId ? [i.episodeId] : [])))];
      const loose = [...new Set(inferences.flatMap((i) => (!i.episodeId && i.inferenceId ? [i.inferenceId] : [])))];
      const targets: ({ episode_id: string; inference_id?: never } | { inference_id: string; episode_id?: never })[] = [
        ...episodes.map((id) => ({ episode_id: id })),
        ...loose.map((id) => ({ inference_id: id })),
      ];
      if (targets.length === 0) {
        log.debug('no TensorZero inference in this loop; no feedback');
        return { sent: 0, failed: 0 };
      }
      const values: [string, boolean | number][] = [
        [options.metrics.merged, loop.outcome === 'merged'],
        [options.metrics.iterations, Number(loop.iterations)],
      ];
      let sent = 0;
      let failed = 0;
      for (const target of targets) {
        for (const [metric, value] of values) {
          const key = `${loop.loop_id}:${metric}:${value}`;
          const seen = `${target.episode_id ?? target.inference_id}|${key}`;
          if (accepted.has(seen)) continue;
          try {
            await post({ metric_name: metric, value, ...target, tags: { pitcrew_loop_id: loop.loop_id, pitcrew_feedback_key: key } });
            sent++;
            accepted.add(seen);
            if (accepted.size > REMEMBERED) accepted.delete(accepted.values().next().value!);
          } catch (error) {
            failed++;
            const hint =
              error instanceof FeedbackHttpError && !retryable(error)
                ? `check that tensorzero.toml declares [metrics.${metric}] with type = "${typeof value === 'boolean' ? 'boolean' : 'float'}" and level = "${target.episode_id ? 'episode' : 'inference'}"`
                : 'the gateway is unreachable or failing; this feedback is lost (not queued)';
            log.error({ err: error, metric, ...target }, `TensorZero feedback not sent: ${hint}`);
          }
        }
      }
      log.info({ sent, failed, episodes: episodes.length, inferences: loose.length }, 'TensorZero feedback for the ended fix loop');
      return { sent, failed };
    },
  };
}

/**
 * The feedback client the worker's environment asks for: `null` when `PITCREW_TENSORZERO_URL` is
 * unset. `main.ts` calls `loopEnded` from its `onLoopOutcome(loop)` hook.
 */
export function tensorZeroFeedbackFromEnv(
  config: Pick<WorkerEnv, 'PITCREW_TENSORZERO_URL' | 'PITCREW_TENSORZERO_METRIC_MERGED' | 'PITCREW_TENSORZERO_METRIC_ITERATIONS'>,
  logger: Logger,
): TensorZeroFeedback | null {
  if (!config.PITCREW_TENSORZERO_URL) return null;
  return createTensorZeroFeedback({
    url: config.PITCREW_TENSORZERO_URL,
    metrics: { merged: config.PITCREW_TENSORZERO_METRIC_MERGED, iterations: config.PITCREW_TENSORZERO_METRIC_ITERATIONS },
    logger: logger.child({ component: 'tensorzero-feedback' }),
  });
}
