import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishFixAttempt, findFailure, joinIncident, normalizeGithubEvent, recordFailureDelivery, startFixAttempt, type CiFailure } from '@pitcrew/core';
import { createTestDatabase, type TestDatabase } from '@pitcrew/testkit';
import { decideIteration, loopStartRefusal, waitingForBranch } from './loop.ts';

// The loop's caps and its start rule against real Postgres (the fix_loops view): USD per loop,
// one open loop per branch, the breaker. The iterations themselves run end to end in tests/fix.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
let tdb: TestDatabase;
const policy = { maxIterations: 3, loopUsd: 1, breaker: { threshold: 2, cooldownMs: 60_000 } };

async function failure(repo: string, branch: string, headSha?: string): Promise<CiFailure> {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  payload.workflow_job.head_branch = branch;
  if (headSha) payload.workflow_job.head_sha = headSha;
  payload.repository.name = repo;
  const f = normalizeGithubEvent('workflow_job', payload) as CiFailure;
  await recordFailureDelivery(tdb.db, { deliveryId: randomUUID(), event: 'workflow_job', action: 'completed', receivedAt: new Date().toISOString(), payload: {} }, f);
  return f;
}

/** A loop with one proposed iteration pushed as `commit`, having cost `usd`. */
async function proposed(f: CiFailure, commit: string, usd: number) {
  const a = await startFixAttempt(tdb.db, { failureId: f.id, iteration: 1, fixer: 'agent', headSha: f.headSha });
  await finishFixAttempt(tdb.db, a.id, { status: 'proposed', commitSha: commit, branch: `pitcrew/fix/${f.id}`, prNumber: 3, prUrl: 'https://github.com/o/r/pull/3', costUsd: usd });
}

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.destroy());

describe('the fix loop caps', () => {
  it('escalates a loop whose CI fails once it has spent PITCREW_FIX_LOOP_BUDGET_USD, iterations left or not', async () => {
    const f = await failure('spendy', 'main');
    await proposed(f, 'c'.repeat(40), 1.25);
    const decision = await decideIteration(tdb.db, policy, { branch: `pitcrew/fix/${f.id}`, headSha: 'c'.repeat(40) });
    expect(decision).toMatchObject({ kind: 'escalate', escalation: 'budget', reason: expect.stringContaining('1.2500 USD of PITCREW_FIX_LOOP_BUDGET_USD=1') });
    // A second failing job of the same commit: the verdict is in, nothing more.
    expect(await decideIteration(tdb.db, policy, { branch: `pitcrew/fix/${f.id}`, headSha: 'c'.repeat(40) })).toMatchObject({ kind: 'none' });
  });

  it('iterates within the caps, and only on the commit an iteration pushed', async () => {
    const f = await failure('thrifty', 'main');
    await proposed(f, 'd'.repeat(40), 0.2);
    expect(await decideIteration(tdb.db, policy, { branch: `pitcrew/fix/${f.id}`, headSha: 'e'.repeat(40) })).toMatchObject({ kind: 'none' });
    expect(await decideIteration(tdb.db, policy, { branch: `pitcrew/fix/${f.id}`, headSha: 'd'.repeat(40) })).toEqual({ kind: 'iterate', loopId: f.id, iteration: 2 });
  });

  it('starts one loop at a time per branch of a repository', async () => {
    const f = await failure('busy', 'feature/x');
    await proposed(f, 'f'.repeat(40), 0);
    expect(await loopStartRefusal(tdb.db, policy, { owner: f.owner, repo: 'busy', branch: 'feature/x' })).toContain(`loop ${f.id} is still open for feature/x`);
    expect(await loopStartRefusal(tdb.db, policy, { owner: f.owner, repo: 'busy', branch: 'feature/y' })).toBeNull();
  });

  it('hands a branch a loop left without a PR to the failures of its commit that waited, oldest first', async () => {
    const sha = 'a'.repeat(40);
    const made: CiFailure[] = [];
    for (let i = 0; i < 7; i++) made.push(await failure('waiting', 'main', sha));
    // Another commit of the branch, and another branch, are not waiting for this one.
    const otherCommit = await failure('waiting', 'main', 'b'.repeat(40));
    const otherBranch = await failure('waiting', 'other', sha);
    const [ended, first, second, running, green, tried, sameBreakage] = made as [CiFailure, CiFailure, CiFailure, CiFailure, CiFailure, CiFailure, CiFailure];
    const all = [...made, otherCommit, otherBranch].map((f) => f.id);
    await tdb.db.updateTable('failures').set({ status: 'triaged', category: 'lint' }).where('id', 'in', all).execute();
    // Received a second apart, in the order made (the order the waiting are handed the branch).
    for (const [i, f] of made.entries()) await tdb.db.updateTable('failures').set({ received_at: new Date(Date.UTC(2026, 11, 7, 12, 0, i)) }).where('id', '=', f.id).execute();
    await tdb.db.updateTable('failures').set({ status: 'running' }).where('id', '=', running.id).execute();
    await tdb.db.updateTable('failures').set({ resolved_at: new Date() }).where('id', '=', green.id).execute();
    const incident = await joinIncident(tdb.db, { failureId: ended.id, owner: ended.owner, repo: 'waiting', signature: `sig-${randomUUID()}`, category: 'lint' });
    await joinIncident(tdb.db, { failureId: sameBreakage.id, owner: ended.owner, repo: 'waiting', signature: incident.incident.signature, category: 'lint' });
    const a = await startFixAttempt(tdb.db, { failureId: tried.id, iteration: 1, fixer: 'rules', headSha: sha });
    await finishFixAttempt(tdb.db, a.id, { status: 'not_attempted', reason: 'no fix form' });
    const waiting = await waitingForBranch(tdb.db, (await findFailure(tdb.db, ended.id))!);
    expect(waiting.map((w) => w.id)).toEqual([first.id, second.id]);
    expect(waiting[0]).toMatchObject({ category: 'lint' });
  });
});
