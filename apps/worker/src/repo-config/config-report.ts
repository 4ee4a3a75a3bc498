import { describePolicy, REPO_CONFIG_PATH, toOutgoing } from '@pitcrew/core';
import type { PitcrewOctokit } from '../github/github-api.ts';
import type { RepoConfigRead } from './repo-config.ts';

/** Name of the check run that reports a pushed `.github/pitcrew.yml`. */
export const CONFIG_CHECK_NAME = 'pitcrew/config';

/** What {@link reportRepoConfig} did: the check run's id and conclusion, or nothing for a removed file. */
export type ConfigReportResult = { checkRunId: number; conclusion: 'success' | 'neutral' | 'failure' } | { skipped: string };

/**
 * Reports a pushed `.github/pitcrew.yml` where its author sees it: one completed check run named
 * {@link CONFIG_CHECK_NAME} on the push's head commit (GitHub REST docs, "Check runs": create,
 * update; listing a commit's check runs by `check_name` finds one made before, so a retried job
 * updates it instead of adding a second). Its conclusion:
 * - `failure` for an invalid file, with the zod and YAML issues: the organisation's
 *   configuration applies until the file is fixed;
 * - `neutral` for a valid file that asked for more than the organisation allows, with each
 *   request that was not granted;
 * - `success` for a valid file, with the policy that now applies.
 * A removed file (state `absent`) is not reported. Texts pass the outgoing boundary. Needs the
 * GitHub App's `checks: write`.
 *
 * @throws the Octokit error of a refused or failed request (the caller decides about retries)
 */
export async function reportRepoConfig(octokit: PitcrewOctokit, target: { owner: string; repo: string; headSha: string }, read: RepoConfigRead): Promise<ConfigReportResult> {
  if (read.state === 'absent' || !read.parse) return { skipped: `no ${REPO_CONFIG_PATH} on the default branch` };
  const { policy, notes } = read.report;
  const applies = describePolicy(policy);
  let conclusion: 'success' | 'neutral' | 'failure';
  let title: string;
  let summary: string;
  if (!read.parse.ok) {
    conclusion = 'failure';
    title = `${REPO_CONFIG_PATH} is invalid; the organisation's defaults apply`;
    summary = [`pitcrew could not use \`${REPO_CONFIG_PATH}\`:`, '', ...read.parse.issues.map((i) => `- ${i}`), '', `Until it is fixed: ${applies}.`].join('\n');
  } else if (notes.length) {
    conclusion = 'neutral';
    title = `${REPO_CONFIG_PATH} asks for more than the organisation allows`;
    summary = ['Not granted (the organisation\'s value applies):', '', ...notes.map((n) => `- ${n}`), '', `Applies now: ${applies}.`].join('\n');
  } else {
    conclusion = 'success';
    title = `${REPO_CONFIG_PATH} applies`;
    summary = `Applies now: ${applies}.`;
  }
  const output = { title: toOutgoing(title, 'publish').text.slice(0, 1000), summary: toOutgoing(summary, 'publish').text.slice(0, 60_000) };
  const { owner, repo, headSha } = target;
  const { data: existing } = await octokit.rest.checks.listForRef({ owner, repo, ref: headSha, check_name: CONFIG_CHECK_NAME, per_page: 10 });
  const previous = existing.check_runs.find((c) => c.name === CONFIG_CHECK_NAME);
  if (previous) {
    const { data } = await octokit.rest.checks.update({ owner, repo, check_run_id: previous.id, status: 'completed', conclusion, output });
    return { checkRunId: data.id, conclusion };
  }
  const { data } = await octokit.rest.checks.create({ owner, repo, name: CONFIG_CHECK_NAME, head_sha: headSha, status: 'completed', conclusion, completed_at: new Date().toISOString(), output });
  return { checkRunId: data.id, conclusion };
}
