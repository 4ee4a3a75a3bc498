import { z } from 'zod';
import type { Ignored } from '../failure.ts';
import { parsePrCommand } from '../pr-command.ts';
import type { RepoEventJobData } from '../queue.ts';
import { REPO_CONFIG_PATH } from '../repo-config.ts';
import { Installation, parseEventPayload, Repository } from './base.ts';

/** The webhook event of pushes; pitcrew reads only pushes to the default branch that touch `.github/pitcrew.yml`. */
export const PUSH_EVENT = 'push';
/** The webhook event of issue and pull request comments; pitcrew reads only `created` comments on pull requests with a `/pitcrew` command. */
export const ISSUE_COMMENT_EVENT = 'issue_comment';

/**
 * The `push` fields pitcrew reads (GitHub docs, "Webhook events and payloads", `push`: `ref`,
 * `after`, `deleted`, `commits[].added|removed|modified`, `head_commit`, `repository.default_branch`).
 * GitHub lists at most 2048 commits per push; `head_commit` is read too.
 */
export const PushPayload = z.object({
  ref: z.string(),
  after: z.string(),
  deleted: z.boolean().optional(),
  repository: Repository.extend({ default_branch: z.string() }),
  installation: Installation,
  commits: z.array(z.object({ added: z.array(z.string()).optional(), removed: z.array(z.string()).optional(), modified: z.array(z.string()).optional() })).max(4096).optional(),
  head_commit: z.object({ added: z.array(z.string()).optional(), removed: z.array(z.string()).optional(), modified: z.array(z.string()).optional() }).nullish(),
});
export type PushPayload = z.infer<typeof PushPayload>;

/**
 * The `issue_comment` fields pitcrew reads (GitHub docs, "Webhook events and payloads",
 * `issue_comment`: `issue.pull_request` is present when the issue is a pull request;
 * `comment.user.type` is `Bot` for Apps).
 */
export const IssueCommentPayload = z.object({
  action: z.string(),
  repository: Repository,
  installation: Installation,
  issue: z.object({ number: z.number().int().min(1), pull_request: z.object({}).passthrough().nullish() }),
  comment: z.object({ id: z.number().int().min(1), body: z.string().nullable(), user: z.object({ login: z.string().min(1).max(100), type: z.string().optional() }) }),
});
export type IssueCommentPayload = z.infer<typeof IssueCommentPayload>;

/** A repository event as normalized from a delivery: {@link RepoEventJobData} without what ingest adds. */
export type RepoEvent = RepoEventJobData extends infer T ? (T extends RepoEventJobData ? Omit<T, 'v' | 'deliveryId' | 'receivedAt'> : never) : never;

/**
 * Decides whether a delivery is a repository event pitcrew acts on and, if so, normalizes it:
 * - a `push` to `refs/heads/<default branch>` (not a branch deletion) whose commits added,
 *   modified or removed `.github/pitcrew.yml` is a `config-push` on the push's `after` commit;
 * - an `issue_comment` `created` on a pull request, by a user that is not a bot, whose body has a
 *   `/pitcrew <command>` line ({@link parsePrCommand}) is a `pr-command`.
 * Everything else returns `{ignored, reason}` (an unknown command names the commands).
 *
 * @param event the `X-GitHub-Event` header
 * @param payload the parsed JSON body (untrusted)
 * @throws {PayloadShapeError} when the payload lacks fields its event needs
 */
export function normalizeRepoEvent(event: string, payload: unknown): RepoEvent | Ignored {
  if (event === PUSH_EVENT) {
    const p = parseEventPayload(PushPayload, event, payload);
    if (p.ref !== `refs/heads/${p.repository.default_branch}`) return { ignored: true, reason: `push to ${p.ref.slice(0, 200)} is not to the default branch` };
    if (p.deleted) return { ignored: true, reason: 'push deleted the branch' };
    const touched = [...(p.commits ?? []), ...(p.head_commit ? [p.head_commit] : [])].some((c) => [c.added, c.modified, c.removed].some((files) => files?.includes(REPO_CONFIG_PATH)));
    if (!touched) return { ignored: true, reason: `push does not change ${REPO_CONFIG_PATH}` };
    return { kind: 'config-push', owner: p.repository.owner.login, repo: p.repository.name, installationId: p.installation?.id ?? null, headSha: p.after, defaultBranch: p.repository.default_branch };
  }
  if (event === ISSUE_COMMENT_EVENT) {
    const p = parseEventPayload(IssueCommentPayload, event, payload);
    if (p.action !== 'created') return { ignored: true, reason: `issue_comment action ${p.action.slice(0, 64)} is not created` };
    if (!p.issue.pull_request) return { ignored: true, reason: 'comment is not on a pull request' };
    if (p.comment.user.type === 'Bot') return { ignored: true, reason: 'comment is by a bot' };
    const command = parsePrCommand(p.comment.body ?? '');
    if (command === null) return { ignored: true, reason: 'comment has no /pitcrew command line' };
    if (typeof command === 'object') return { ignored: true, reason: `unknown command /pitcrew ${command.unknown}; commands: fix, rerun, explain, quiet` };
    return { kind: 'pr-command', owner: p.repository.owner.login, repo: p.repository.name, installationId: p.installation?.id ?? null, command, prNumber: p.issue.number, commentId: p.comment.id, user: p.comment.user.login };
  }
  return { ignored: true, reason: `event ${event} is not a repository event` };
}
