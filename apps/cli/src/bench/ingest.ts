import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { openFailuresKey, OPEN_FAILURES_TTL_SECONDS, QUEUES } from '@pitcrew/core';
import { findFreePort } from '@pitcrew/stack';
import { renderTable } from '../table.ts';
import { buildDeliveryMixes, MIX_NON_FAILURES_PER_FAILURE, type BenchRequest } from './deliveries.ts';
import {
  childrenOf,
  cpuMs,
  machineInfo,
  PITCREW_BIN,
  progress,
  round,
  spawnChild,
  startBenchStack,
  waitForHttp,
  type BenchChild,
} from './infra.ts';

/** Options of `pitcrew bench ingest`. */
export interface IngestBenchOptions {
  /** Seconds of load per target per round. */
  durationS: number;
  /** Concurrent HTTP connections of autocannon (the issue fixes 50). */
  connections: number;
  /** Rounds; targets run interleaved within a round, in a rotating order, for fairness. */
  rounds: number;
  /**
   * Above 1, a second pitcrew ingest with this many processes (`PITCREW_INGEST_PROCESSES`, node
   * cluster) runs beside the single-process one, as `pitcrewCluster`.
   */
  ingestProcesses: number;
  /** Also write the result here. */
  json?: string;
}

/** The branch of GitHub's examples seeded with an open failure: its successes (4 in 80 of the mix) become resolution jobs. */
const OPEN_BRANCH = ['octo-org', 'octo-repo', 'master'] as const;

export const INGEST_TARGETS = ['pitcrew', 'pitcrewCluster', 'floor', 'bare', 'peer'] as const;
export type IngestTarget = (typeof INGEST_TARGETS)[number];
export const INGEST_MIXES = ['failures', 'mix'] as const;
export type IngestMix = (typeof INGEST_MIXES)[number];

/** One target under one mix: medians over the rounds. Latencies in ms. */
export interface IngestFigures {
  /** Requests per second (mean of autocannon's per-second samples). */
  rps: number;
  p50: number;
  p99: number;
  /** Answers outside 2xx, summed over the rounds. */
  non2xx: number;
  /** Connection errors and timeouts, summed over the rounds. */
  errors: number;
  /**
   * CPU µs of the server's processes per request answered (user + system, from /proc), and of
   * redis-server: what a request costs, much less sensitive than req/s to other load on the host.
   */
  cpuUsPerRequest: number;
  redisCpuUsPerRequest: number;
  /** Each round's figures, in run order. */
  rounds: { rps: number; p50: number; p99: number; cpuUsPerRequest: number; redisCpuUsPerRequest: number }[];
}

export interface IngestMixResult extends Record<Exclude<IngestTarget, 'pitcrewCluster'>, IngestFigures> {
  /** pitcrew with `ingestProcesses` processes, when above 1. */
  pitcrewCluster?: IngestFigures;
  ratios: {
    pitcrewToBare: number;
    pitcrewToPeer: number;
    /** The floor reference ÷ bare Hono: about the best pitcrew's `pitcrewToBare` can be (`ref-floor.ts`). */
    floorToBare: number;
    pitcrewClusterToBare?: number;
    /** Server CPU per request, pitcrew ÷ bare Hono (≥ 1; lower is better). */
    cpuPitcrewToBare: number;
  };
}

/** What `pitcrew bench ingest` prints and writes as JSON. */
export interface IngestBenchResult {
  bench: 'ingest';
  machine: ReturnType<typeof machineInfo>;
  settings: {
    durationS: number;
    connections: number;
    rounds: number;
    ingestProcesses: number;
    mixFailureShare: number;
    examples: { failures: number; nonFailures: number };
    /**
     * Resolution is on (`PITCREW_RESOLUTION`, the default): every completed success of the mix
     * costs pitcrew one Redis `EXISTS`, and the successes of `openBranch` (seeded with an open
     * failure before each run) are parsed and enqueued as resolution jobs.
     */
    resolution: { on: true; openBranch: string };
  };
  failures: IngestMixResult;
  mix: IngestMixResult;
  /**
   * 2xx answers pitcrew gave in its failure runs vs intake jobs found after them: jobs must be at
   * least the answers (a few more when requests were in flight as autocannon stopped).
   */
  check: { pitcrewFailureAnswers2xx: number; pitcrewIntakeJobs: number };
  targets: { failures: string; mix: string };
}

/**
 * `pitcrew bench ingest`: starts Redis and Postgres, the pitcrew ingest server as its own process
 * (`pitcrew ingest`, exactly as production runs it), and three references in child processes —
 * bare Hono that reads the body and answers 202 (`ref-bare.ts`), a minimal peer (Hono +
 * webhooks-methods verify + JSON.parse + BullMQ `add` of the whole payload, `ref-peer.ts`), and
 * the floor (pitcrew's HMAC and pre-parse filter, one `EXISTS` per completed success, then
 * JSON.parse and one `add`: the least ingest's contract allows, `ref-floor.ts`). Drives each with
 * autocannon (`connections` connections, signed example deliveries, a unique `X-GitHub-Delivery`
 * per request) for two mixes: failures only, and 1 failure per 20 deliveries. Targets are
 * interleaved within each round in a rotating order, and Redis is flushed between runs, so all of
 * them see the same machine state.
 *
 * Progress goes to stderr, the table to stdout.
 */
export async function runIngestBench(options: IngestBenchOptions): Promise<IngestBenchResult> {
  const stack = await startBenchStack();
  const children: BenchChild[] = [];
  const redis = new Redis(stack.redisUrl, { maxRetriesPerRequest: null });
  try {
    const secret = randomBytes(20).toString('hex');
    const mixes = await buildDeliveryMixes(secret);
    const targets: IngestTarget[] = options.ingestProcesses > 1 ? [...INGEST_TARGETS] : ['pitcrew', 'floor', 'bare', 'peer'];
    const ports: Record<IngestTarget, number> = {
      pitcrew: await findFreePort(),
      pitcrewCluster: await findFreePort(),
      floor: await findFreePort(),
      bare: await findFreePort(),
      peer: await findFreePort(),
    };
    const base = { ...process.env, REDIS_URL: stack.redisUrl, DATABASE_URL: stack.databaseUrl };
    const refScript = (name: string) => fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
    const pitcrewEnv = (port: number, processes: number) => ({
      ...base,
      GITHUB_WEBHOOK_SECRET: secret,
      PORT: String(port),
      HOST: '127.0.0.1',
      PITCREW_INGEST_PROCESSES: String(processes),
    });
    const pitcrew = spawnChild('pitcrew-ingest', [PITCREW_BIN, 'ingest'], pitcrewEnv(ports.pitcrew, 1), stack.dir);
    const pitcrewCluster =
      options.ingestProcesses > 1
        ? spawnChild('pitcrew-ingest-cluster', [PITCREW_BIN, 'ingest'], pitcrewEnv(ports.pitcrewCluster, options.ingestProcesses), stack.dir)
        : undefined;
    const bare = spawnChild('bare-hono', [refScript('ref-bare')], { ...base, PORT: String(ports.bare) }, stack.dir);
    const peer = spawnChild(
      'peer',
      [refScript('ref-peer')],
      { ...base, PORT: String(ports.peer), BENCH_SECRET: secret, BENCH_PREFIX: 'peer' },
      stack.dir,
    );
    const floor = spawnChild(
      'floor',
      [refScript('ref-floor')],
      // Its lookups read the open-failure sets the bench seeds, under the queue prefix.
      { ...base, PORT: String(ports.floor), BENCH_SECRET: secret, BENCH_PREFIX: process.env.PITCREW_QUEUE_PREFIX ?? '{pitcrew}' },
      stack.dir,
    );
    children.push(pitcrew, floor, bare, peer, ...(pitcrewCluster ? [pitcrewCluster] : []));
    const url = (t: IngestTarget) => `http://127.0.0.1:${ports[t]}`;
    await Promise.all([
      waitForHttp(`${url('pitcrew')}/readyz`, 60_000, pitcrew),
      waitForHttp(`${url('floor')}/healthz`, 30_000, floor),
      waitForHttp(`${url('bare')}/healthz`, 30_000, bare),
      waitForHttp(`${url('peer')}/healthz`, 30_000, peer),
      ...(pitcrewCluster ? [waitForHttp(`${url('pitcrewCluster')}/readyz`, 60_000, pitcrewCluster)] : []),
    ]);
    const ingestProcesses = options.ingestProcesses;
    progress(`servers up (pitcrew ingest processes: ${ingestProcesses}); logs in ${stack.dir}`);

    const intake = new Queue(QUEUES.intake, { connection: redis, prefix: process.env.PITCREW_QUEUE_PREFIX ?? '{pitcrew}' });
    const check = { pitcrewFailureAnswers2xx: 0, pitcrewIntakeJobs: 0 };
    const serverOf: Record<IngestTarget, BenchChild | undefined> = { pitcrew, pitcrewCluster, floor, bare, peer };
    const treeOf = (child: BenchChild | undefined) => (child?.child.pid ? [child.child.pid, ...childrenOf(child.child.pid)] : []);
    const queuePrefix = process.env.PITCREW_QUEUE_PREFIX ?? '{pitcrew}';
    const shoot = async (target: IngestTarget, requests: BenchRequest[], durationS: number) => {
      await redis.flushdb();
      // One branch of the examples has an open failure, as the workers would have recorded it.
      await redis.multi().sadd(openFailuresKey(queuePrefix, ...OPEN_BRANCH), 'gh-job-bench').expire(openFailuresKey(queuePrefix, ...OPEN_BRANCH), OPEN_FAILURES_TTL_SECONDS).exec();
      const pids = treeOf(serverOf[target]);
      const redisPids = stack.pids.redis ? [stack.pids.redis] : [];
      const cpu0 = cpuMs(pids);
      const redis0 = cpuMs(redisPids);
      const result = await autocannon({
        url: url(target),
        connections: options.connections,
        duration: durationS,
        requests,
        idReplacement: true,
      });
      const answered = Math.max(1, result.requests.total);
      return {
        result,
        cpuUsPerRequest: round(((cpuMs(pids) - cpu0) * 1000) / answered, 1),
        redisCpuUsPerRequest: round(((cpuMs(redisPids) - redis0) * 1000) / answered, 1),
      };
    };

    progress('warm-up: 2 s per target');
    for (const target of targets) await shoot(target, mixes.mix, 2);

    const raw: Record<IngestMix, Record<IngestTarget, Shot[]>> = {
      failures: { pitcrew: [], pitcrewCluster: [], floor: [], bare: [], peer: [] },
      mix: { pitcrew: [], pitcrewCluster: [], floor: [], bare: [], peer: [] },
    };
    for (const mix of INGEST_MIXES) {
      for (let r = 0; r < options.rounds; r++) {
        const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
        for (const target of order) {
          const shot = await shoot(target, mixes[mix], options.durationS);
          const { result } = shot;
          raw[mix][target].push(shot);
          if ((target === 'pitcrew' || target === 'pitcrewCluster') && mix === 'failures') {
            check.pitcrewFailureAnswers2xx += result['2xx'];
            check.pitcrewIntakeJobs += await intake.count();
          }
          progress(
            `${mix} round ${r + 1}/${options.rounds} ${target}: ${Math.round(result.requests.average)} req/s, ` +
              `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors + result.timeouts}, ` +
              `cpu ${shot.cpuUsPerRequest} us/request (redis ${shot.redisCpuUsPerRequest})`,
          );
        }
      }
    }
    await redis.flushdb();
    await intake.close();

    const summarize = (shots: Shot[]): IngestFigures => {
      const results = shots.map((x) => x.result);
      const rounds = shots.map(({ result: x, cpuUsPerRequest, redisCpuUsPerRequest }) => ({
        rps: round(x.requests.average, 0),
        p50: x.latency.p50,
        p99: x.latency.p99,
        cpuUsPerRequest,
        redisCpuUsPerRequest,
      }));
      return {
        rps: median(rounds.map((x) => x.rps)),
        p50: median(rounds.map((x) => x.p50)),
        p99: median(rounds.map((x) => x.p99)),
        non2xx: results.reduce((n, x) => n + x.non2xx, 0),
        errors: results.reduce((n, x) => n + x.errors + x.timeouts, 0),
        cpuUsPerRequest: median(rounds.map((x) => x.cpuUsPerRequest)),
        redisCpuUsPerRequest: median(rounds.map((x) => x.redisCpuUsPerRequest)),
        rounds,
      };
    };
    const mixResult = (mix: IngestMix): IngestMixResult => {
      const figures = {
        pitcrew: summarize(raw[mix].pitcrew),
        floor: summarize(raw[mix].floor),
        bare: summarize(raw[mix].bare),
        peer: summarize(raw[mix].peer),
      };
      const cluster = raw[mix].pitcrewCluster.length ? summarize(raw[mix].pitcrewCluster) : undefined;
      return {
        ...figures,
        ...(cluster ? { pitcrewCluster: cluster } : {}),
        ratios: {
          pitcrewToBare: round(figures.pitcrew.rps / figures.bare.rps),
          pitcrewToPeer: round(figures.pitcrew.rps / figures.peer.rps),
          floorToBare: round(figures.floor.rps / figures.bare.rps),
          cpuPitcrewToBare: round(figures.pitcrew.cpuUsPerRequest / figures.bare.cpuUsPerRequest),
          ...(cluster ? { pitcrewClusterToBare: round(cluster.rps / figures.bare.rps) } : {}),
        },
      };
    };
    const failures = mixResult('failures');
    const mix = mixResult('mix');
    const result: IngestBenchResult = {
      bench: 'ingest',
      machine: machineInfo(),
      settings: {
        durationS: options.durationS,
        connections: options.connections,
        rounds: options.rounds,
        ingestProcesses,
        mixFailureShare: round(1 / (MIX_NON_FAILURES_PER_FAILURE + 1), 3),
        examples: mixes.counts,
        resolution: { on: true, openBranch: `${OPEN_BRANCH[0]}/${OPEN_BRANCH[1]}@${OPEN_BRANCH[2]}` },
      },
      failures,
      mix,
      check,
      targets: {
        failures: `pitcrew >= 1.5 x peer (${verdict(failures.ratios.pitcrewToPeer >= 1.5)}), p99 <= 25 ms (${verdict(failures.pitcrew.p99 <= 25)})`,
        mix: `pitcrew >= 0.8 x bare (${verdict(mix.ratios.pitcrewToBare >= 0.8)}; the floor reference: ${mix.ratios.floorToBare} x bare)`,
      },
    };
    if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await redis.quit().catch(() => redis.disconnect());
    await stack.stop();
  }
}

/** The table `pitcrew bench ingest` prints. */
export function renderIngestTable(result: IngestBenchResult): string {
  const rows: (string | number)[][] = [];
  const n = result.settings.ingestProcesses;
  for (const mix of INGEST_MIXES) {
    const m = result[mix];
    for (const target of INGEST_TARGETS) {
      const f = m[target];
      if (!f) continue;
      rows.push([
        mix === 'failures' ? 'failures only' : `mix (1 in ${MIX_NON_FAILURES_PER_FAILURE + 1} fails)`,
        target === 'bare'
          ? 'bare Hono'
          : target === 'floor'
            ? 'floor (reference)'
          : target === 'peer'
            ? 'minimal peer'
            : target === 'pitcrewCluster'
              ? `pitcrew, ${n} processes`
              : 'pitcrew',
        f.rps,
        f.p50,
        f.p99,
        f.non2xx,
        `${f.cpuUsPerRequest} / ${f.redisCpuUsPerRequest}`,
        target === 'pitcrew'
          ? `${m.ratios.pitcrewToBare} x bare, ${m.ratios.pitcrewToPeer} x peer; cpu ${m.ratios.cpuPitcrewToBare} x bare`
          : target === 'pitcrewCluster'
            ? `${m.ratios.pitcrewClusterToBare} x bare`
            : target === 'floor'
              ? `${m.ratios.floorToBare} x bare`
              : '',
      ]);
    }
  }
  return [
    renderTable(['mix', 'server', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'cpu us/req server / redis', 'ratio'], rows),
    `targets: failures ${result.targets.failures}; mix ${result.targets.mix}`,
    `check: pitcrew answered ${result.check.pitcrewFailureAnswers2xx} failure deliveries 2xx and enqueued ${result.check.pitcrewIntakeJobs} intake jobs`,
    `pitcrew${n > 1 ? ` (and pitcrew with PITCREW_INGEST_PROCESSES=${n})` : ''} and each reference: one process; autocannon: ${result.settings.connections} connections from the bench process`,
  ].join('\n');
}

/** One autocannon run and what it cost in CPU. */
interface Shot {
  result: autocannon.Result;
  cpuUsPerRequest: number;
  redisCpuUsPerRequest: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}
