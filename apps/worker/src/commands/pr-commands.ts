import { RequestError } from '@octokit/request-error';
import type { Kysely } from 'kysely';
import { findLatestFailureOfPullRequest, markPullRequestQuiet, quietPullRequests, toOutgoing, type Database, type FailureRow, type Logger, type RepoEventJobData, type RedisConnection } from '@pitcrew/core';
import type { GithubApi, PitcrewOctokit } from '../github/github-api.ts';
import type { RepoConfigSource } from '../repo-config/repo-config.ts';

type PrCommand = Extract<RepoEventJobData, { kind: 'pr-command' }>;

/** Roles that may give commands (GitHub REST docs, "Collaborators", "Get repository permissions for a user": `permission` is admin, write, read or none; `role_name` also names maintain and triage). */
export const COMMAND_ROLES = ['admin', 'maintain', 'write'] as const;

/** What a command needs from the rest of the worker (`createWorkers` builds it). */
export interface PrCommandDeps {
  db: Kysely<Database>;
  redis: RedisConnection;
  prefix: string;
  logger: Logger;
  github: GithubApi | null;
  repoConfig: RepoConfigSource;
  /** Starts a fix attempt of a triaged failure through the `fix` queue and the fix policy (the organisation's and the repository's); `null` when queued, else why not. */
  startFix(failure: FailureRow): Promise<string | null>;
  /** Requests triage again from classify with the strong model; the new round, or why not. */
  explain(failure: FailureRow): Promise<{ round: number; model: string | null } | { refused: string }>;
}

/** How a command ended: what was answered (reaction and one-line reply) and why. */
export interface PrCommandResult {
  outcome: 'done' | 'refused' | 'unauthorized' | 'ignored';
  reaction: '+1' | 'rocket' | 'confused' | null;
  /** The reply posted; `null` when none was (a quiet PR hears only the reaction). */
  reply: string | null;
  reason?: string;
}

/**
 * Runs one `/pitcrew <command>` of a pull request comment. In order: the repository's policy (off
 * = the command is ignored, nothing is posted); the commenter's permission (`GET
 * /repos/{owner}/{repo}/collaborators/{username}/permission`; admin, maintain or write may give
 * commands); the command; a reaction on the comment (`POST
 * /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions`: `rocket` for work started, `+1`
 * for `quiet`, `confused` for a refusal) and a one-line reply on the pull request, unless the
 * pull request was quiet before this command (then the reaction alone answers).
 *
 * - `fix`: a fix attempt of the PR's latest failure ({@link findLatestFailureOfPullRequest}) through
 *   the fix queue and policy;
 * - `rerun`: `POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs` of the run of
 *   the PR's latest failure that has one (GitHub REST docs, "Workflow runs", "Re-run failed jobs
 *   from a workflow run"; the App needs `actions: write`);
 * - `explain`: triage again from classify with the strong model (`LLM_MODEL_STRONG`);
 * - `quiet`: no further PR comments on this pull request (`pr_quiet`); the publisher respects it.
 *
 * Each step is done once per delivery: its result is kept in the Redis hash `<prefix>:command:<delivery id>`
 * (4 days), so a retried job does not react, reply or act twice (a crash between a step and its
 * mark repeats that step once).
 *
 * @throws Octokit errors other than a refusal of the re-run (the job is retried)
 */
export async function runPrCommand(deps: PrCommandDeps, event: PrCommand): Promise<PrCommandResult> {
  const { owner, repo, prNumber, user, command } = event;
  const log = deps.logger.child({ deliveryId: event.deliveryId, owner, repo, prNumber, command, user });
  const octokit = deps.github?.forInstallation(event.installationId) ?? null;
  if (!octokit) {
    log.warn('PR command without a GitHub credential for its installation; ignored');
    return { outcome: 'ignored', reaction: null, reply: null, reason: 'no GitHub credential' };
  }
  const policy = await deps.repoConfig.policyFor(owner, repo, event.installationId);
  if (!policy.enabled) {
    log.info('PR command in a repository whose .github/pitcrew.yml turns pitcrew off; ignored');
    return { outcome: 'ignored', reaction: null, reply: null, reason: 'enabled: false in .github/pitcrew.yml' };
  }
  const memoKey = commandMemoKey(deps.prefix, event.deliveryId);
  const once = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const done = await deps.redis.hget(memoKey, step);
    if (done !== null) return JSON.parse(done) as T;
    const value = await fn();
    await deps.redis.multi().hset(memoKey, step, JSON.stringify(value ?? null)).expire(memoKey, 4 * 24 * 3600).exec();
    return value;
  };
  const wasQuiet = await once('quiet-before', async () => (await quietPullRequests(deps.db, owner, repo, [prNumber])).has(prNumber));
  const permission = await once('permission', () => permissionOf(octokit, owner, repo, user));
  let result: Omit<PrCommandResult, 'reply'> & { text: string };
  if (!(COMMAND_ROLES as readonly string[]).includes(permission)) {
    result = { outcome: 'unauthorized', reaction: 'confused', text: `Sorry @${user}, \`/pitcrew ${command}\` needs write permission on ${owner}/${repo} (admin, maintain or write); you have ${permission}.` };
  } else {
    result = await once('action', () => act(deps, octokit, event, log));
  }
  await once('reaction', async () => {
    await octokit.rest.reactions.createForIssueComment({ owner, repo, comment_id: event.commentId, content: result.reaction! });
    return true;
  });
  const reply = wasQuiet ? null : toOutgoing(result.text, 'publish').text.slice(0, 1000);
  if (reply) {
    await once('reply', async () => {
      await octokit.rest.issues.createComment({ owner, repo, issue_number: prNumber, body: reply });
      return true;
    });
  }
  log.info({ outcome: result.outcome, reason: result.reason, replied: Boolean(reply) }, 'PR command answered');
  return { outcome: result.outcome, reaction: result.reaction, reply, ...(result.reason ? { reason: result.reason } : {}) };
}

/**
 * The commenter's role on the repository: `role_name` when GitHub gives it (it names `maintain`),
 * else `permission`; `none` when GitHub says the user is no collaborator (404).
 */
async function permissionOf(octokit: PitcrewOctokit, owner: string, repo: string, username: string): Promise<string> {
  try {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username });
    const role = (data as { role_name?: string }).role_name;
    return role && role !== 'none' ? role : data.permission;
  } catch (error) {
    if (error instanceof RequestError && error.status === 404) return 'none';
    throw error;
  }
}

type Acted = Omit<PrCommandResult, 'reply'> & { text: string };

async function act(deps: PrCommandDeps, octokit: PitcrewOctokit, event: PrCommand, log: Logger): Promise<Acted> {
  const { owner, repo, prNumber, user, command } = event;
  const refused = (reason: string): Acted => ({ outcome: 'refused', reaction: 'confused', reason, text: `@${user} \`/pitcrew ${command}\`: ${reason}.` });
  if (command === 'quiet') {
    const made = await markPullRequestQuiet(deps.db, { owner, repo, prNumber, requestedBy: user, commentId: event.commentId });
    return { outcome: 'done', reaction: '+1', text: made ? `OK @${user}: pitcrew will post no further comments on this pull request.` : `@${user} this pull request is already quiet.` };
  }
  const { data: pr } = await octokit.rest.pulls.get({ owner, repo, pull_number: prNumber });
  const failure = await findLatestFailureOfPullRequest(deps.db, { owner, repo, headSha: pr.head.sha, headRef: pr.head.ref }, { withRun: command === 'rerun' });
  if (!failure) return refused(command === 'rerun' ? 'pitcrew has seen no failed workflow run of this pull request' : 'pitcrew has seen no failure of this pull request');
  const name = failure.job_name ?? failure.check_name ?? failure.workflow_name ?? failure.id;
  if (command === 'rerun') {
    const runId = Number(failure.run_id);
    try {
      await octokit.rest.actions.reRunWorkflowFailedJobs({ owner, repo, run_id: runId });
    } catch (error) {
      if (error instanceof RequestError && [403, 404, 409, 422].includes(error.status)) return refused(`GitHub refused to re-run run ${runId} (${error.status}: ${error.message.slice(0, 200)})`);
      throw error;
    }
    return { outcome: 'done', reaction: 'rocket', text: `@${user} re-running the failed jobs of workflow run ${runId} (${name}).` };
  }
  if (failure.status !== 'triaged' && failure.status !== 'failed') return refused(`${name} is still being triaged; try again once its report is in`);
  if (command === 'fix') {
    const why = await deps.startFix(failure);
    if (why) return refused(`no fix attempt for ${name}: ${why}`);
    return { outcome: 'done', reaction: 'rocket', text: `@${user} a fix attempt for ${name} is queued; its result will appear in pitcrew's report.` };
  }
  const explained = await deps.explain(failure);
  if ('refused' in explained) return refused(explained.refused);
  log.info({ failureId: failure.id, round: explained.round }, 'explain: triage again with the strong model');
  return { outcome: 'done', reaction: 'rocket', text: `@${user} triaging ${name} again with the strong model${explained.model ? ` (${explained.model})` : ''}; the report will be updated in place.` };
}

/** Redis hash of a PR command's finished steps, by delivery; under the queue prefix (its Redis Cluster slot). */
export function commandMemoKey(prefix: string, deliveryId: string): string {
  return `${prefix}:command:${deliveryId}`;
}
