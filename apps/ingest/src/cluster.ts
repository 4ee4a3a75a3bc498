import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@pitcrew/core';
import { serveClusterMetrics } from './metrics.ts';

/**
 * Runs `processes` copies of the ingest process on one port with `node:cluster` (Node docs,
 * "Cluster": the primary accepts connections and hands them to the workers round-robin). Call it
 * in the primary only; each forked worker re-runs the same command and starts one ingest server.
 *
 * One Node process serves HTTP on one core; with several, a host's cores all verify, parse and
 * enqueue deliveries. The primary does no request work: it forks, re-forks a worker that dies
 * (after 1 s, so a crash loop does not spin), and on SIGTERM/SIGINT forwards the signal and exits
 * once every worker has finished its in-flight requests and closed.
 *
 * @param processes number of workers, at least 2 (1 needs no cluster)
 * @returns once the workers are forked
 */
export function startIngestCluster(processes: number, log: Logger): void {
  if (!cluster.isPrimary) throw new Error('startIngestCluster runs in the cluster primary only');
  let stopping = false;
  const fork = () => {
    const worker: Worker = cluster.fork();
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ pid: worker.process.pid, code, signal }, 'ingest process exited; starting another in 1 s');
      setTimeout(() => !stopping && fork(), 1_000).unref();
    });
  };
  // GET /metrics reaches one worker; it asks the primary for every process's metrics.
  serveClusterMetrics();
  for (let i = 0; i < processes; i++) fork();
  log.info({ processes }, 'ingest cluster started');
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1); // a second signal: do not wait
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    let left = workers.length;
    if (left === 0) process.exit(0);
    for (const worker of workers) {
      worker.once('exit', () => {
        left -= 1;
        if (left === 0) process.exit(0);
      });
      worker.process.kill(signal);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
