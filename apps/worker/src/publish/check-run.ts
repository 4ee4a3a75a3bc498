import type { PublicationOutcome } from '@pitcrew/core';
import { contentHash, GITHUB_TEXT_MAX_BYTES, headline, reportMarkdown, resolutionLine, statusNotes, truncateUtf8, verdict, type PublishContent } from './content.ts';
import { asPublishError, PermanentPublishError, type Sink } from './sink.ts';

/**
 * Name of the check run: `pitcrew / <job>`. GitHub's checks list shows one check run per name in a
 * suite (the latest), so one name for every failed job of a commit would hide all but the last
 * diagnosis; `pitcrew` alone when the failure has no job or check name.
 */
export function checkRunName(content: PublishContent): string {
  const what = content.failure.jobName ?? content.failure.checkName ?? content.failure.workflowName;
  return what ? `pitcrew / ${what}`.slice(0, 255) : 'pitcrew';
}

/** The check run's `output`: title, summary (verdict + summary) and text (excerpt and plan), within GitHub's limits. */
export function checkRunOutput(content: PublishContent): { title: string; summary: string; text: string } {
  const resolved = resolutionLine(content);
  const title = truncateUtf8(`${resolved ? `${resolved.charAt(0).toUpperCase()}${resolved.slice(1)} — ` : ''}${content.status === 'failed' ? 'pitcrew could not triage this failure' : `${verdict(content)}: ${headline(content)}`}`, 1_000, '…');
  const summary = truncateUtf8([`**${verdict(content)}** — ${headline(content)}`, '', content.summary].join('\n') + statusNotes(content), GITHUB_TEXT_MAX_BYTES);
  return { title, summary, text: reportMarkdown(content, GITHUB_TEXT_MAX_BYTES) };
}

/**
 * A completed check run with conclusion `neutral` on the failing head SHA (REST: `POST
 * /repos/{owner}/{repo}/check-runs`, `PATCH …/check-runs/{id}`). Idempotent three ways: the stored
 * check run id is PATCHed; without one (a crash after GitHub created it) the commit's check runs of
 * that name are listed and the one whose `external_id` is the failure id is reused; an unchanged
 * output sends nothing. Creating check runs needs a GitHub App with `checks: write`.
 */
export const checkRunSink: Sink = {
  name: 'check-run',
  async publish({ content, previous, octokit, signal }): Promise<PublicationOutcome> {
    if (!octokit) return { status: 'skipped', reason: 'no GitHub credential for this installation' };
    const { owner, repo, headSha, id: failureId } = content.failure;
    const body = {
      name: checkRunName(content),
      external_id: failureId,
      // The "Details" link of the check run: the failure's console page, when configured.
      ...(content.consoleUrl ? { details_url: content.consoleUrl } : {}),
      status: 'completed' as const,
      conclusion: 'neutral' as const,
      completed_at: new Date(content.row.finished_at ?? Date.now()).toISOString(),
      output: checkRunOutput(content),
    };
    const hash = contentHash({ ...body, head_sha: headSha });
    if (previous.status === 'published' && previous.external_id && previous.content_hash === hash) {
      return { status: 'published', reason: 'unchanged' };
    }
    try {
      let id = previous.external_id ? Number(previous.external_id) : null;
      if (id === null) {
        const found = await octokit.rest.checks.listForRef({ owner, repo, ref: headSha, check_name: body.name, filter: 'all', per_page: 100, request: { signal } });
        id = found.data.check_runs.find((c) => c.external_id === failureId)?.id ?? null;
      }
      const { data } =
        id !== null
          ? await octokit.rest.checks.update({ owner, repo, check_run_id: id, ...body, request: { signal } })
          : await octokit.rest.checks.create({ owner, repo, head_sha: headSha, ...body, request: { signal } });
      return { status: 'published', externalId: String(data.id), externalUrl: data.html_url ?? null, contentHash: hash };
    } catch (error) {
      const mapped = asPublishError(error, 'check run');
      if (mapped instanceof PermanentPublishError && (error as { status?: number }).status === 403) {
        mapped.message += ' (check runs can only be written by a GitHub App with checks: write)';
      }
      throw mapped;
    }
  },
};
