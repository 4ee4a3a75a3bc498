import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import { CI_EVENTS, tokenMatcher } from '@pitcrew/core';
import type { DeliveryDetail, WebhookOutcome } from './webhook.ts';
import { withTimeout } from './timeout.ts';

/** Queue states reported by `pitcrew_queue_jobs` (BullMQ `getJobCounts` names). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * How long one read of the queue statistics serves scrapes, in ms. Prometheus scrapes every 15 s
 * to 1 min (its default `scrape_interval` is 1 min); 5 s means two scrapers, or a person reloading
 * `/metrics`, cost Redis at most one round of reads per 5 s.
 */
export const QUEUE_STATS_CACHE_MS = 5_000;

/** ms one read of the queue statistics may take before the scrape reports `pitcrew_queue_stats_up 0`. */
export const QUEUE_STATS_TIMEOUT_MS = 2_000;

/**
 * Buckets of `pitcrew_ingest_delivery_duration_seconds`, in seconds: the handler verifies an HMAC
 * and makes two or three Redis round trips, milliseconds on a local network, so the buckets are
 * dense from 0.5 ms to 100 ms and sparse up to GitHub's 10 s delivery timeout (GitHub docs,
 * "Handling webhook deliveries").
 */
export const DELIVERY_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Values of the `event` label: GitHub's CI events and `ping`; anything else is `other`. */
const EVENT_LABELS = new Set<string>([...CI_EVENTS, 'ping']);

/** Metrics of the ingest process, in a registry of its own. */
export interface IngestMetrics {
  registry: Registry;
  /**
   * The exposition to serve: this process's registry, or, in a `node:cluster` worker
   * (`PITCREW_INGEST_PROCESSES` > 1), the whole cluster's, aggregated by the primary (see
   * {@link serveClusterMetrics}), so every scrape sees every process whichever one answers it.
   *
   * @throws {Error} when the primary does not answer within 6 s
   */
  exposition(): Promise<string>;
  /** Counts one answered delivery; pass as the webhook routes' `onOutcome`. */
  observeDelivery(event: string, outcome: WebhookOutcome, detail: DeliveryDetail): void;
}

/** Options of {@link createIngestMetrics}. */
export interface IngestMetricsOptions {
  /** Queues whose depth and oldest waiting job are reported. */
  queues: Queue[];
  /** ms a read of the queue statistics is reused; default {@link QUEUE_STATS_CACHE_MS}. */
  cacheMs?: number;
  /** Node process metrics (`process_*`, `nodejs_*`); default true. */
  processMetrics?: boolean;
}

interface QueueStats {
  counts: Record<string, Record<string, number>>;
  /** Seconds since the job at the head of the wait list was added, per queue; 0 when none waits. */
  oldestWaitingAge: Record<string, number>;
}

/**
 * The ingest metrics (names, labels and units are listed in README "Metrics"):
 * - `pitcrew_ingest_deliveries_total{event,outcome,reason}` counter
 * - `pitcrew_ingest_delivery_duration_seconds{outcome}` histogram
 * - `pitcrew_queue_jobs{queue,state}`, `pitcrew_queue_oldest_waiting_age_seconds{queue}` and
 *   `pitcrew_queue_stats_up` gauges, read from Redis when scraped (BullMQ `getJobCounts` and the
 *   job at the head of the wait list), cached for `cacheMs`
 * - `pitcrew_ingest_processes` gauge (1; summed over the processes of a `node:cluster`)
 * - Node's default process metrics (prom-client `collectDefaultMetrics`)
 *
 * Label values are bounded: `event` is one of GitHub's CI events, `ping` or `other` (the header is
 * client-supplied, and unsigned requests are counted too); `reason` is one of the ingest error
 * codes.
 */
export function createIngestMetrics(options: IngestMetricsOptions): IngestMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const cacheMs = options.cacheMs ?? QUEUE_STATS_CACHE_MS;
  const deliveries = new Counter({
    name: 'pitcrew_ingest_deliveries_total',
    help: 'Webhook deliveries answered, by event, outcome (accepted, duplicate, ignored, ping, rejected) and rejection reason (error code; empty unless rejected).',
    labelNames: ['event', 'outcome', 'reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'pitcrew_ingest_delivery_duration_seconds',
    help: 'Time from a delivery reaching the webhook route to its answer, in seconds, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: DELIVERY_DURATION_BUCKETS,
    registers: [registry],
  });

  new Gauge({
    name: 'pitcrew_ingest_processes',
    help: 'Ingest processes whose metrics this scrape holds: 1, or PITCREW_INGEST_PROCESSES that answered under node:cluster.',
    registers: [registry],
    aggregator: 'sum',
  }).set(1);

  let cached: { at: number; stats: Promise<QueueStats> } | undefined;
  const readStats = (): Promise<QueueStats> => {
    const now = Date.now();
    if (!cached || now - cached.at >= cacheMs) {
      const stats = withTimeout(readQueueStats(options.queues), QUEUE_STATS_TIMEOUT_MS);
      cached = { at: now, stats };
      // A failed read is not cached: the next scrape tries again.
      stats.catch(() => {
        if (cached?.stats === stats) cached = undefined;
      });
    }
    return cached.stats;
  };

  new Gauge({
    name: 'pitcrew_queue_jobs',
    help: 'Jobs in each queue by state (waiting, active, delayed, failed), read from Redis at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    // Every process of a cluster reads the same Redis: aggregate by taking one, not the sum.
    aggregator: 'first',
    async collect() {
      this.reset();
      const stats = await readStats().catch(() => null);
      if (!stats) return;
      for (const [queue, counts] of Object.entries(stats.counts)) {
        for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'pitcrew_queue_oldest_waiting_age_seconds',
    help: 'Seconds since the job at the head of each wait list (the next to run) was added, by its BullMQ timestamp; 0 when none waits.',
    labelNames: ['queue'] as const,
    registers: [registry],
    aggregator: 'max',
    async collect() {
      this.reset();
      const stats = await readStats().catch(() => null);
      if (!stats) return;
      for (const [queue, age] of Object.entries(stats.oldestWaitingAge)) this.set({ queue }, age);
    },
  });
  new Gauge({
    name: 'pitcrew_queue_stats_up',
    help: `1 when the queue statistics could be read from Redis at the last scrape (within ${QUEUE_STATS_TIMEOUT_MS} ms), else 0.`,
    registers: [registry],
    aggregator: 'min',
    async collect() {
      this.set((await readStats().then(() => 1).catch(() => 0)));
    },
  });

  if (cluster.isWorker && process.send) answerPrimary(registry);
  return {
    registry,
    exposition: () => (cluster.isWorker && process.send ? askPrimary() : registry.metrics()),
    observeDelivery(event, outcome, detail) {
      deliveries.inc({ event: EVENT_LABELS.has(event) ? event : 'other', outcome, reason: detail.reason ?? '' });
      duration.observe({ outcome }, detail.latencyMs / 1_000);
    },
  };
}

/**
 * `GET /` serving the registry in Prometheus text format, to mount at `/metrics`. With a token,
 * scrapes must send `Authorization: Bearer <token>` (Prometheus `authorization` in its
 * scrape_config); without one the route is open, like most Prometheus targets on an internal
 * network: it reveals counts and latencies, never payloads, repositories or ids.
 *
 * @throws {Error} at construction when a token shorter than 16 characters is given
 */
export function createMetricsRoutes(metrics: Pick<IngestMetrics, 'registry' | 'exposition'>, token?: string): Hono {
  const app = new Hono();
  if (token !== undefined) {
    if (token.length < 16) throw new Error('metrics token must have at least 16 characters');
    const matches = tokenMatcher(token);
    app.use('*', bearerAuth({ verifyToken: (given) => matches(given) }));
  }
  app.get('/', async (c) => {
    const body = await metrics.exposition();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });
  return app;
}

const CLUSTER_REQUEST = 'pitcrew:cluster-metrics-request';
const CLUSTER_ANSWER = 'pitcrew:cluster-metrics-answer';
const PROCESS_READY = 'pitcrew:metrics-ready';
const PROCESS_COLLECT = 'pitcrew:metrics-collect';
const PROCESS_COLLECTED = 'pitcrew:metrics-collected';
/** ms the primary waits for every process's metrics. */
const COLLECT_TIMEOUT_MS = 5_000;
/** ms a cluster worker waits for the primary's aggregate. */
const CLUSTER_TIMEOUT_MS = COLLECT_TIMEOUT_MS + 1_000;

interface ClusterMessage {
  type?: string;
  id?: string;
  text?: string;
  error?: string;
  metrics?: MetricObjectWithValues<MetricValue<string>>[];
}

/**
 * In the `node:cluster` primary of ingest: answers a worker's request for the cluster's metrics
 * by collecting every ready process's registry (`getMetricsAsJSON`) and aggregating them with
 * prom-client's `AggregatorRegistry.aggregate` (counters and histograms summed, queue gauges
 * taken once, see their `aggregator`). The primary serves no HTTP itself: the worker that
 * receives `GET /metrics` asks it. Only processes that said they are ready are asked, so one
 * still starting cannot stall a scrape (prom-client's own `clusterMetrics()` asks every forked
 * process and times out on one whose listener is not installed yet).
 */
export function serveClusterMetrics(): void {
  const ready = new Set<ClusterWorker>();
  const pending = new Map<string, { waiting: number; parts: ClusterMessage['metrics'][]; settle(error: Error | null): void }>();
  cluster.on('exit', (worker) => ready.delete(worker));
  const gather = () =>
    new Promise<string>((resolve, reject) => {
      const targets = [...ready].filter((w) => w.isConnected());
      if (targets.length === 0) return resolve('');
      const id = randomUUID();
      const timer = setTimeout(() => entry.settle(new Error(`not every ingest process answered within ${COLLECT_TIMEOUT_MS} ms`)), COLLECT_TIMEOUT_MS);
      const entry = {
        waiting: targets.length,
        parts: [] as ClusterMessage['metrics'][],
        settle(error: Error | null) {
          clearTimeout(timer);
          pending.delete(id);
          if (error) return reject(error);
          AggregatorRegistry.aggregate(entry.parts as MetricObjectWithValues<MetricValue<string>>[][]).metrics().then(resolve, reject);
        },
      };
      pending.set(id, entry);
      for (const worker of targets) worker.send({ type: PROCESS_COLLECT, id });
    });
  cluster.on('message', (worker, message: ClusterMessage) => {
    if (message?.type === PROCESS_READY) ready.add(worker);
    else if (message?.type === PROCESS_COLLECTED) {
      const entry = pending.get(message.id ?? '');
      if (!entry) return;
      if (message.error !== undefined) return entry.settle(new Error(`an ingest process could not collect: ${message.error}`));
      entry.parts.push(message.metrics);
      if (--entry.waiting === 0) entry.settle(null);
    } else if (message?.type === CLUSTER_REQUEST) {
      gather().then(
        (text) => worker.send({ type: CLUSTER_ANSWER, id: message.id, text }),
        (error: Error) => worker.send({ type: CLUSTER_ANSWER, id: message.id, error: error.message }),
      );
    }
  });
}

/** In a cluster worker: answers the primary's collect requests with this registry, then says it is ready. */
function answerPrimary(registry: Registry): void {
  process.on('message', (message: ClusterMessage) => {
    if (message?.type !== PROCESS_COLLECT) return;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send!({ type: PROCESS_COLLECTED, id: message.id, metrics }),
      (error: Error) => process.send!({ type: PROCESS_COLLECTED, id: message.id, error: error.message }),
    );
  });
  process.send!({ type: PROCESS_READY });
}

function askPrimary(): Promise<string> {
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error(`the cluster primary did not answer a metrics request within ${CLUSTER_TIMEOUT_MS} ms`));
    }, CLUSTER_TIMEOUT_MS);
    const onMessage = (message: ClusterMessage) => {
      if (message?.type !== CLUSTER_ANSWER || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (message.error !== undefined) reject(new Error(`cluster metrics: ${message.error}`));
      else resolve(message.text ?? '');
    };
    process.on('message', onMessage);
    process.send!({ type: CLUSTER_REQUEST, id });
  });
}

/**
 * Job counts of every queue and the age of the job at the head of its wait list. Jobs are LPUSHed
 * and taken from the tail (FIFO), so `getJobs('wait', 0, 0, true)` (ascending) is the next to
 * run, the earliest added. A retried job keeps its original timestamp, so its age counts from
 * its first add.
 */
async function readQueueStats(queues: Queue[]): Promise<QueueStats> {
  const now = Date.now();
  const entries = await Promise.all(
    queues.map(async (queue) => {
      const [counts, [oldest]] = await Promise.all([queue.getJobCounts(...QUEUE_STATES), queue.getJobs('wait', 0, 0, true)]);
      const age = oldest?.timestamp ? Math.max(0, (now - oldest.timestamp) / 1_000) : 0;
      return [queue.name, counts, age] as const;
    }),
  );
  return {
    counts: Object.fromEntries(entries.map(([name, counts]) => [name, counts])),
    oldestWaitingAge: Object.fromEntries(entries.map(([name, , age]) => [name, age])),
  };
}
