import { z } from 'zod';
import type { Verification } from '../fix/pipeline.ts';
import { fixBranchOf, proposeFix, pullRequestBody, writeDryRunProposal } from '../fix/propose.ts';
import { cloneUrlOf } from '../fix/workspace.ts';
import type { FixOutput, FixWork, GuardOutput, VerifyOutput } from './fix.ts';
import type { StageDefinition } from './stage.ts';

/** Output of the propose stage: where the fix went. */
export const ProposeOutput = z.object({
  /** `pull-request` (propose mode), `pushed` (commit mode), `dry-run` (written to disk), `refused` (commit mode's conditions). */
  kind: z.enum(['pull-request', 'pushed', 'dry-run', 'refused']),
  branch: z.string().nullable(),
  prNumber: z.number().int().nullable(),
  prUrl: z.string().nullable(),
  commitSha: z.string().nullable(),
  /** The dry run's directory. */
  path: z.string().nullable(),
  reason: z.string().nullable(),
});
export type ProposeOutput = z.infer<typeof ProposeOutput>;

/** What propose needs: the checkout with the fix, and what the earlier fix stages found. */
export interface ProposeNeeds {
  work: FixWork;
  fix: FixOutput;
  guard: GuardOutput;
  verify: VerifyOutput;
}

/** A verify stage output in the shape the PR body and the dry run show. */
export function verificationOf(v: VerifyOutput): Verification {
  if (v.result === 'left-to-ci') return { result: v.result, command: v.command, reason: v.reason ?? 'left to CI', exitCode: v.exitCode, ms: v.ms, output: v.output };
  return { result: v.result, command: v.command ?? '', exitCode: v.exitCode, ms: v.ms ?? 0, output: v.output ?? '', timedOut: false };
}

/** The PR title: what was fixed, where (at most 120 characters). */
function titleOf(needs: ProposeNeeds, jobName: string | null): string {
  const what = needs.fix.fixer === 'rules' && needs.fix.command ? `run \`${needs.fix.command.slice(0, 60)}\`` : `fix the ${needs.work.classify.category} failure`;
  return `pitcrew: ${what}${jobName ? ` (${jobName})` : ''}`.slice(0, 120);
}

/**
 * propose: with `PITCREW_FIX_DRY_RUN`, writes the proposal under
 * `<PITCREW_FIX_DRY_RUN_DIR>/.pitcrew/proposals/<failure-id>/` and pushes nothing; else commits
 * the fix (the configured author, trailer `Pitcrew-Failure: <id>`) and pushes it with pitcrew's
 * own installation token (`proposeFix`: a draft PR from `pitcrew/fix/<id>` in `propose` mode,
 * the PR's own head branch in `commit` mode). The agent never sees the token: it is read here,
 * after every sandboxed command of the attempt has ended.
 *
 * @throws {PushError} / Octokit errors when GitHub or the push fails (the job retries)
 */
export const proposeStage: StageDefinition<ProposeOutput, ProposeNeeds> = {
  name: 'propose',
  output: ProposeOutput,
  needs: ['verify'],
  plan: (_scope, _needs, deps) => ({ runner: deps.fix?.policy.dryRun ? 'dry-run' : 'github', model: null }),
  async run(scope, needs, deps) {
    const fix = deps.fix!;
    // The loop's branch and base: an iteration after the first commits on top of the fix branch's
    // head (the commit CI failed on, `scope.failure.headSha`) for the loop's first failure.
    const failure = { ...scope.failure, id: needs.work.target.id, branch: needs.work.target.branch };
    const verification = verificationOf(needs.verify);
    const usage = { tokensIn: needs.fix.usage.tokensIn, tokensOut: needs.fix.usage.tokensOut, costUsd: needs.fix.usage.costUsd };
    const fixer = { name: needs.fix.fixer ?? 'rules', model: needs.fix.usage.model };
    const title = titleOf(needs, failure.jobName);
    const body = pullRequestBody({ failure, diagnosis: needs.work.diagnosis, diff: needs.fix.diff, verification, fixer, usage, stop: 'To stop it, set PITCREW_FIX=off or narrow PITCREW_FIX_REPOS / PITCREW_FIX_BRANCHES.' });
    const none = { branch: null, prNumber: null, prUrl: null, commitSha: null, path: null, reason: null };
    if (fix.policy.dryRun) {
      const written = await writeDryRunProposal(fix.policy.dryRunDir, { failure, mode: fix.policy.mode === 'commit' ? 'commit' : 'propose', branch: fixBranchOf(failure.id), title, body, diff: needs.fix.diff, verification, fixer, usage });
      return { output: { ...none, kind: 'dry-run', branch: fixBranchOf(failure.id), path: written.dir } };
    }
    const octokit = deps.github?.forInstallation(failure.installationId);
    if (!octokit) return { output: { ...none, kind: 'refused', reason: 'no GitHub credential for this installation (GITHUB_TOKEN or the GitHub App)' } };
    const result = await proposeFix({
      workspace: needs.work.workspace,
      failure,
      mode: fix.policy.mode === 'commit' ? 'commit' : 'propose',
      octokit,
      pushUrl: cloneUrlOf(fix.cloneUrl, failure.owner, failure.repo),
      author: fix.policy.author,
      title,
      body,
      commitLabel: fix.policy.commitLabel,
    });
    if (result.kind === 'refused') return { output: { ...none, kind: 'refused', reason: result.reason } };
    return { output: { ...none, kind: result.kind, branch: result.branch, prNumber: result.prNumber, prUrl: result.prUrl, commitSha: result.commitSha } };
  },
};
