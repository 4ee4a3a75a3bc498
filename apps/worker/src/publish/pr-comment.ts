import { quietPullRequests, type PublicationOutcome } from '@pitcrew/core';
import type { PitcrewOctokit } from '../github/github-api.ts';
import { contentHash, GITHUB_TEXT_MAX_BYTES, reportMarkdown, resolutionLine, type PublishContent } from './content.ts';
import { asPublishError, isGone, type Sink } from './sink.ts';

/** Hidden first line of every pitcrew PR comment; finds the comment of a failure again. */
export function commentMarker(failureId: string): string {
  return `<!-- pitcrew:failure ${failureId} -->`;
}

/** The comment body: marker, heading, the report (summary, excerpt, plan), within GitHub's body limit. */
export function commentBody(content: PublishContent): string {
  const marker = commentMarker(content.failure.id);
  const heading = `### pitcrew: ${content.failure.jobName ?? content.failure.checkName ?? content.failure.workflowName ?? 'CI'} ${content.status === 'failed' ? 'could not be triaged' : 'failed'}${resolutionLine(content) ? ` — ${resolutionLine(content)}` : ''}`;
  const prefix = `${marker}\n${heading}\n\n`;
  return prefix + reportMarkdown(content, GITHUB_TEXT_MAX_BYTES - Buffer.byteLength(prefix));
}

/** `detail` of a pr-comment publication: comment id per pull request number. */
interface CommentDetail {
  comments: Record<string, number>;
}

/**
 * One comment per pull request of the failure (`pull_requests` of the webhook, else the open pull
 * requests whose head is the failing commit), kept up to date in
 * place: the comment id stored for that PR is PATCHed (`PATCH /repos/{o}/{r}/issues/comments/{id}`);
 * without one, the PR's comments are listed for the hidden marker (a crash after GitHub created it,
 * or a lost row) and that one is PATCHed; only then is one created (`POST …/issues/{n}/comments`).
 * A comment someone deleted is created again. A pull request where `/pitcrew quiet` was given
 * (`pr_quiet`) gets no comment and no update. Needs `pull_requests: write` (or `issues: write`).
 */
export const prCommentSink: Sink = {
  name: 'pr-comment',
  async publish({ content, previous, trx, octokit, signal }): Promise<PublicationOutcome> {
    if (!octokit) return { status: 'skipped', reason: 'no GitHub credential for this installation' };
    let prs = content.failure.pullRequests;
    if (prs.length === 0) {
      try {
        prs = await openPullRequestsOf(octokit, content, signal);
      } catch (error) {
        throw asPublishError(error, 'pull requests of the commit');
      }
    }
    if (prs.length === 0) return { status: 'skipped', reason: 'no open pull request has this commit as its head' };
    // `/pitcrew quiet`: no comment is posted or updated on those pull requests any more.
    const quiet = await quietPullRequests(trx, content.failure.owner, content.failure.repo, prs);
    if (quiet.size) prs = prs.filter((pr) => !quiet.has(pr));
    if (prs.length === 0) return { status: 'skipped', reason: `quiet: /pitcrew quiet on pull request ${[...quiet].join(', ')}` };
    const body = commentBody(content);
    const hash = contentHash({ body, prs });
    if (previous.status === 'published' && previous.content_hash === hash) return { status: 'published', reason: 'unchanged' };
    const known = ((previous.detail as CommentDetail | null)?.comments ?? {}) as Record<string, number>;
    const comments: Record<string, number> = {};
    let firstUrl: string | null = null;
    try {
      for (const pr of prs) {
        const { id, url } = await upsertComment(octokit, content, pr, known[String(pr)] ?? null, body, signal);
        comments[String(pr)] = id;
        firstUrl ??= url;
      }
    } catch (error) {
      throw asPublishError(error, 'pull request comment');
    }
    return { status: 'published', externalId: String(comments[String(prs[0])]), externalUrl: firstUrl, detail: { comments } satisfies CommentDetail, contentHash: hash };
  },
};

/**
 * Open pull requests whose head is the failing commit (`GET /repos/{o}/{r}/commits/{sha}/pulls`),
 * for failures whose webhook carried none: `workflow_job` payloads have no `pull_requests`, and
 * GitHub leaves the array empty for runs of a fork's branch.
 */
async function openPullRequestsOf(octokit: PitcrewOctokit, content: PublishContent, signal: AbortSignal): Promise<number[]> {
  const { owner, repo, headSha } = content.failure;
  const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: headSha, per_page: 100, request: { signal } });
  return data.filter((pr) => pr.state === 'open' && pr.head.sha === headSha).map((pr) => pr.number);
}

async function upsertComment(
  octokit: PitcrewOctokit,
  content: PublishContent,
  pr: number,
  storedId: number | null,
  body: string,
  signal: AbortSignal,
): Promise<{ id: number; url: string }> {
  const { owner, repo } = content.failure;
  const update = async (id: number) => {
    const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body, request: { signal } });
    return { id: data.id, url: data.html_url };
  };
  if (storedId !== null) {
    try {
      return await update(storedId);
    } catch (error) {
      if (!isGone(error)) throw error;
      // Someone deleted it: look for another copy, else create it again.
    }
  }
  const marker = commentMarker(content.failure.id);
  for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, { owner, repo, issue_number: pr, per_page: 100, request: { signal } })) {
    const mine = page.data.find((c) => c.id !== storedId && (c.body ?? '').startsWith(marker));
    if (mine) return update(mine.id);
  }
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: pr, body, request: { signal } });
  return { id: data.id, url: data.html_url };
}
