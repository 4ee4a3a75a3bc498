import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { runnerQueueName } from '@pitcrew/core';
import { createTestRedis } from '@pitcrew/testkit';
import { childrenOf } from '../../apps/cli/src/bench/infra.ts';
import { exactlyOnceViolations, failedJobPayload, note, scratchDir, sendDelivery, spawnPitcrew, useModelFaults, waitFor, type Sent } from './harness.ts';

/**
 * The real `pitcrew start --workers 3` (no demo) with the llm runner against the fake LLM (1 s per
 * answer, so stages are in flight). While 60 failure deliveries arrive, one worker is SIGKILLed by
 * its pid while it holds a job at the model. `pitcrew start` restarts that worker; ingest and the
 * two other workers keep serving; BullMQ's stalled-job check hands the dead worker's jobs to a
 * live one; every failure is triaged once; SIGTERM still stops everything with exit 0.
 */
const fixture = useModelFaults();
const DELIVERIES = 60;
const SEND_EVERY_MS = 100;

interface Row {
  failure_id: string;
  stage: string;
  attempt: number;
  status: string;
}

/** Violations of "exactly one succeeded execution per (failure, stage), and it is the latest attempt". */
function latestAttemptViolations(rows: Row[]): string[] {
  const byKey = new Map<string, Row[]>();
  for (const r of rows) byKey.set(`${r.failure_id}/${r.stage}`, [...(byKey.get(`${r.failure_id}/${r.stage}`) ?? []), r]);
  const problems: string[] = [];
  for (const [key, list] of byKey) {
    const succeeded = list.filter((r) => r.status === 'succeeded');
    const latest = Math.max(...list.map((r) => r.attempt));
    if (succeeded.length !== 1 || succeeded[0]!.attempt !== latest) problems.push(`${key}: ${list.map((r) => `${r.attempt}:${r.status}`).join(' ')}`);
  }
  return problems;
}

describe('pitcrew start supervises its workers', () => {
  it('restarts a SIGKILLed worker while ingest keeps answering 202 and the other workers keep serving; every failure triaged once; SIGTERM exits 0', async () => {
    fixture.llm.setLatency(1_000);
    const dataDir = scratchDir('start-data');
    const env = {
      ...fixture.modelEnv(),
      // Short locks so the dead worker's jobs come back in seconds (production default: 30 s / 15 s).
      PITCREW_LOCK_DURATION_MS: '3000',
      PITCREW_STALLED_INTERVAL_MS: '1000',
      PITCREW_PUBLISH: 'none',
    };
    const start = spawnPitcrew('start', ['start', '--workers', '3', '--data-dir', dataDir], env);
    const seenPids = new Set<number>();
    const descendants = new Set<number>();
    let cleanExit = false;
    try {
      await waitFor('pitcrew start serving', 90_000, () => {
        if (start.gone) throw new Error(`pitcrew start exited:\n${start.output().slice(-3000)}`);
        return start.output().includes('serving; Ctrl-C to stop');
      });
      const out = () => start.output();
      const ingestUrl = /^ingest {2}(http:\/\/127\.0\.0\.1:\d+)\/webhooks\/github$/m.exec(out())![1]!;
      const pidsLine = /^pids .*$/m.exec(out())![0];
      const workerPids = new Map([...pidsLine.matchAll(/(worker-\d+) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
      expect([...workerPids.keys()]).toEqual(['worker-1', 'worker-2', 'worker-3']);
      // The processes pitcrew start supervises; their descendants (tsx's esbuild service) are only cleaned up.
      for (const m of pidsLine.matchAll(/(?:ingest|worker-\d+) (\d+)/g)) seenPids.add(Number(m[1]));
      expect(seenPids.size).toBe(4);
      for (const pid of childrenOf(start.pid)) descendants.add(pid);

      // Keep sending at a steady pace, before, during and after the kill.
      const failures = Array.from({ length: DELIVERIES }, (_, i) => failedJobPayload(i + 1, 12));
      const answers: (Sent & { at: number })[] = [];
      const sending = (async () => {
        for (const f of failures) {
          const next = Date.now() + SEND_EVERY_MS;
          answers.push({ ...(await sendDelivery(ingestUrl, 'workflow_job', f.payload)), at: Date.now() });
          await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
        }
      })();

      // Kill, by its pid, a worker that holds a job at the model (BullMQ names each worker <host>:<pid>).
      const redis = createTestRedis();
      const queue = new Queue(runnerQueueName('llm'), { connection: redis, prefix: fixture.prefix });
      const victim = await (async () => {
        try {
          await waitFor('a third of the deliveries sent', 60_000, () => answers.length >= DELIVERIES / 3);
          return await waitFor('a worker with an active model job', 30_000, async () => {
            const active = await queue.getJobs(['active']);
            const held = (pid: number) => active.filter((j) => (j.processedBy ?? '').endsWith(`:${pid}`)).map((j) => String(j.data.failureId));
            const found = [...workerPids].find(([, pid]) => held(pid).length > 0);
            return found && { name: found[0], pid: found[1], heldFailures: held(found[1]) };
          });
        } finally {
          await queue.close();
          await redis.quit();
        }
      })();
      const activeBefore = (await fixture.tdb.db.selectFrom('executions').select('failure_id').where('status', '=', 'running').execute()).length;
      process.kill(victim.pid, 'SIGKILL');
      const killedAt = Date.now();
      const sentBeforeKill = answers.length;

      const restartLine = new RegExp(`^${victim.name} restarted \\(pid (\\d+)\\)$`, 'm');
      const newPid = Number(
        (await waitFor(`${victim.name} restarted`, 60_000, () => {
          if (start.gone) throw new Error(`pitcrew start exited:\n${out().slice(-3000)}`);
          return restartLine.exec(out());
        }))[1],
      );
      const restartedMs = Date.now() - killedAt;
      seenPids.add(newPid);
      const logFile = join(dataDir, 'logs', `${victim.name}.log`);
      await waitFor(`${victim.name} started again`, 60_000, () => (readFileSync(logFile, 'utf8').match(/"worker started"/g) ?? []).length === 2);
      const startedMs = Date.now() - killedAt;
      await sending;
      const sentAfterKill = answers.filter((a) => a.at > killedAt).length;

      // Ingest answered every delivery, before, during and after the kill.
      expect(answers.map((a) => a.status)).toEqual(Array(DELIVERIES).fill(202));
      expect(answers.every((a) => a.body?.accepted === true)).toBe(true);
      expect(sentAfterKill).toBeGreaterThan(0);

      // The restart, as the operator sees it, and a new process under pitcrew start.
      expect(out()).toMatch(new RegExp(`^${victim.name} exited \\(SIGKILL\\) after \\d+\\.\\d s; restarting in 500 ms \\(restart 1 of at most 5 per 60 s\\)$`, 'm'));
      expect(newPid).not.toBe(victim.pid);
      expect(childrenOf(start.pid)).toContain(newPid);
      expect(childrenOf(start.pid)).not.toContain(victim.pid);
      const log = readFileSync(logFile, 'utf8');
      expect(log).toContain(`"msg":"${victim.name} restarted (pid ${newPid})"`);
      // The other workers were never restarted.
      for (const [name, pid] of workerPids) {
        if (name === victim.name) continue;
        expect(out()).not.toContain(`${name} exited`);
        expect(childrenOf(start.pid)).toContain(pid);
      }

      // Every accepted failure ends triaged exactly once.
      const ids = failures.map((f) => f.failureId);
      await waitFor('the dead worker\'s failures triaged', 120_000, async () => {
        const rows = await fixture.tdb.db.selectFrom('failures').select('id').where('status', '=', 'triaged').where('id', 'in', victim.heldFailures).execute();
        return rows.length === victim.heldFailures.length;
      });
      const recoveredMs = Date.now() - killedAt;
      await waitFor('all failures triaged', 120_000, async () => {
        const rows = await fixture.tdb.db.selectFrom('failures').select('status').where('status', '=', 'triaged').execute();
        return rows.length === DELIVERIES;
      });
      const triagedMs = Date.now() - killedAt;
      expect(await exactlyOnceViolations(fixture.tdb.db, ids)).toEqual([]);
      const deliveries = await fixture.tdb.db.selectFrom('deliveries').select(['outcome']).execute();
      expect(deliveries).toHaveLength(DELIVERIES);
      expect(deliveries.every((d) => d.outcome === 'accepted')).toBe(true);
      const executions = await fixture.tdb.db.selectFrom('executions').select(['failure_id', 'stage', 'attempt', 'status']).execute();
      expect(latestAttemptViolations(executions)).toEqual([]);
      note(
        `supervise: ${victim.name} (pid ${victim.pid}) SIGKILLed holding ${victim.heldFailures.length} model jobs (${activeBefore} executions running in all), ${sentBeforeKill} deliveries sent before and ${sentAfterKill} after, all 202; ` +
          `restarted (pid ${newPid}) ${restartedMs} ms after the kill, "worker started" after ${startedMs} ms; its failures triaged ${recoveredMs} ms after the kill, all ${DELIVERIES} after ${triagedMs} ms ` +
          `(lock 3 s, check 1 s, model 1 s); ${executions.length} execution rows, ${fixture.llm.requests.length} model calls`,
      );

      // SIGTERM still stops everything cleanly, and nothing is restarted on the way down.
      const stopAt = out().length;
      const code = await start.stop('SIGTERM', 90_000);
      cleanExit = code === 0;
      expect(code).toBe(0);
      const tail = out().slice(stopAt);
      expect(tail).toContain('stopping: ingest, console and workers, then redis and postgres');
      expect(tail).not.toMatch(/restarting in|restarted/);
      for (const pid of seenPids) expect(() => process.kill(pid, 0), `pid ${pid} still running`).toThrow();
    } finally {
      // Children run in their own process group: a pitcrew start that did not stop them leaves them.
      if (!start.gone) cleanExit = (await start.stop('SIGTERM', 60_000)) === 0;
      for (const pid of cleanExit ? [] : [...seenPids, ...descendants]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }, 240_000);
});
