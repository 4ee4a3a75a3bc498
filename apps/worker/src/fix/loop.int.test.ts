import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finishFixAttempt, normalizeGithubEvent, recordFailureDelivery, startFixAttempt, type CiFailure } from '@pitcrew/core';
import { createTestDatabase, type TestDatabase } from '@pitcrew/testkit';
import { decideIteration, loopStartRefusal } from './loop.ts';

// The loop's caps and its start rule against real Postgres (the fix_loops view): USD per loop,
// one open loop per branch, the breaker. The iterations themselves run end to end in tests/fix.
const require = createRequire(import.meta.url);
const sets = require('@octokit/webhooks-examples/api.github.com/index.json') as { name: string; examples: any[] }[];
let tdb: TestDatabase;
const policy = { maxIterations: 3, loopUsd: 1, breaker: { threshold: 2, cooldownMs: 60_000 } };

async function failure(repo: string, branch: string): Promise<CiFailure> {
  const payload = structuredClone(sets.find((s) => s.name === 'workflow_job')!.examples.find((e) => e.workflow_job.conclusion === 'failure'));
  payload.workflow_job.id = Math.floor(Math.random() * 1e12);
  payload.workflow_job.head_branch = branch;
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
});
