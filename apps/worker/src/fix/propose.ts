import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import parseDiff from 'parse-diff';
import { FIX_BRANCH_PREFIX, toOutgoing, toOutgoingJson, type CiFailure } from '@pitcrew/core';
import { tokenOf, type PitcrewOctokit } from '../github/github-api.ts';
import { fenced, GITHUB_TEXT_MAX_BYTES, truncateUtf8 } from '../publish/content.ts';
import type { Verification } from './pipeline.ts';
import { git, tokenEnv } from './workspace.ts';

/**
 * How a verified fix leaves pitcrew: `propose` pushes a branch of its own and opens a draft pull
 * request into the failing branch; `commit` pushes onto the head branch of the failure's pull
 * request, only when that pull request carries the commit label and is not from a fork.
 */
export type ProposeMode = 'propose' | 'commit';

/** The trailer naming the failure a pitcrew commit fixes (git-interpret-trailers). */
export const FAILURE_TRAILER = 'Pitcrew-Failure';

/** What {@link proposeFix} did. */
export type ProposeResult =
  /** `reused`: the open pull request already existed (a retry); no second one was opened. */
  | { kind: 'pull-request'; branch: string; prNumber: number; prUrl: string; commitSha: string; reused: boolean }
  /** The fix commit is on the pull request's head branch `branch`. */
  | { kind: 'pushed'; branch: string; prNumber: number; prUrl: string; commitSha: string }
  /** Nothing was pushed, and why. */
  | { kind: 'refused'; reason: string };

export interface ProposeOptions {
  /** The checkout of `failure.headSha` (host path) with the fix applied, uncommitted. */
  workspace: string;
  failure: Pick<CiFailure, 'id' | 'owner' | 'repo' | 'branch' | 'headSha' | 'pullRequests'>;
  mode: ProposeMode;
  /** The failure's installation (App auth) or the token's Octokit: the API client and the git token. */
  octokit: PitcrewOctokit;
  /** The repository's clone URL, pushed to (`cloneUrlOf(template, owner, repo)`). */
  pushUrl: string;
  /** Author and committer of the fix commit. */
  author: { name: string; email: string };
  /** Pull request title (also the commit's subject) and body (markdown, see {@link pullRequestBody}). */
  title: string;
  body: string;
  /** `commit` mode: the label the failure's pull request must carry. */
  commitLabel?: string;
}

/** A git push failed for another reason than a lease or a non-fast-forward (credentials, network, remote down). */
export class PushError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PushError';
  }
}

/** The branch {@link proposeFix} pushes a failure's fix to in `propose` mode. */
export function fixBranchOf(failureId: string): string {
  return `${FIX_BRANCH_PREFIX}${failureId}`;
}

/**
 * Commits the workspace's change and proposes it to GitHub.
 *
 * The commit holds all of the change (`git add --all`), by `author` as author and committer, with
 * the subject `title` and the trailer `Pitcrew-Failure: <failure id>`, on top of the failing SHA;
 * git runs with {@link gitSafety} (no hook ever runs) and the token only in its environment
 * (`tokenEnv`: an `http.extraHeader`, never in `.git/config`, never given to a sandboxed process).
 *
 * - `propose`: pushes to `pitcrew/fix/<failure id>` (refused if the name is not a valid ref, git
 *   check-ref-format) and opens a draft pull request into `failure.branch`. Safe to retry: a
 *   branch that already holds this fix (same tree, same parent, same trailer) is not pushed again,
 *   an earlier pitcrew fix of the same failure there is replaced (under a lease on what was read),
 *   anything else there is left alone (refused); an open pull request of that head is reused, also
 *   when GitHub answers 422 "A pull request already exists" to a racing create; one that was
 *   closed (someone dropped the fix) is not opened again: refused, nothing pushed.
 * - `commit`: only when the failure's pull request (`failure.pullRequests`, else the open pull
 *   requests of the failing commit) is open, carries `commitLabel` and has its head in the same
 *   repository; pushes onto its head branch with `--force-with-lease=<branch>:<failing sha>`, so a
 *   commit pushed there meanwhile is never overwritten (refused instead).
 *
 * @returns the pull request or push, or a refusal naming why nothing was pushed
 * @throws {PushError} when git cannot push for another reason (credentials, network)
 * @throws the git error when the workspace cannot be committed (nothing changed, not a checkout of the failing SHA)
 * @throws Octokit's `RequestError` when GitHub refuses a request other than a duplicate pull request
 */
export async function proposeFix(options: ProposeOptions): Promise<ProposeResult> {
  const { failure, octokit, workspace } = options;
  const token = await tokenOf(octokit);
  const remote = { dir: workspace, url: options.pushUrl, env: tokenEnv(token) };
  if (options.mode === 'commit') {
    if (!options.commitLabel) throw new TypeError('commit mode needs a commitLabel');
    const target = await commitTarget(octokit, failure, options.commitLabel);
    if ('reason' in target) return { kind: 'refused', reason: target.reason };
    if (!(await isValidBranch(workspace, target.branch))) return { kind: 'refused', reason: `the pull request's head branch ${JSON.stringify(target.branch)} is not a valid branch name` };
    const commitSha = await commitFix(workspace, failure, options.author, options.title);
    const pushed = await pushWithLease(remote, commitSha, target.branch, failure.headSha);
    if (pushed) return { kind: 'pushed', branch: target.branch, prNumber: target.number, prUrl: target.url, commitSha };
    const now = await remoteHead(remote, target.branch);
    if (now && (await isSameFix(remote, target.branch, now, commitSha, failure))) return { kind: 'pushed', branch: target.branch, prNumber: target.number, prUrl: target.url, commitSha: now };
    return { kind: 'refused', reason: `the head branch ${target.branch} moved since the failing commit ${failure.headSha.slice(0, 12)} (now ${now?.slice(0, 12) ?? 'deleted'}): not overwritten` };
  }

  const branch = fixBranchOf(failure.id);
  if (!failure.branch) return { kind: 'refused', reason: 'the failing commit is on no branch of the repository (a fork or a tag): there is nothing to propose into' };
  if (!(await isValidBranch(workspace, branch))) return { kind: 'refused', reason: `${JSON.stringify(branch)} is not a valid branch name (git check-ref-format)` };
  const pr = { owner: failure.owner, repo: failure.repo, branch, base: failure.branch, title: options.title, body: options.body };
  const prior = await findPullRequests(octokit, pr);
  if (!prior.open && prior.closed) return { kind: 'refused', reason: `pull request #${prior.closed.number} of ${branch} was closed: pitcrew does not propose this failure's fix again` };
  let commitSha = await commitFix(workspace, failure, options.author, options.title);
  const existing = await remoteHead(remote, branch);
  if (existing && existing !== commitSha) {
    if (await isSameFix(remote, branch, existing, commitSha, failure)) commitSha = existing;
    // The next iteration of a loop: the branch is at the commit CI failed on, the fix goes on top.
    else if (existing === failure.headSha) {
      if (!(await pushWithLease(remote, commitSha, branch, existing))) return { kind: 'refused', reason: `${branch} moved while pitcrew pushed its next iteration: left alone` };
    }
    else if (!(await isFixOf(workspace, existing, failure))) return { kind: 'refused', reason: `${branch} already exists with commits pitcrew did not make for this failure: left alone` };
    else if (!(await pushWithLease(remote, commitSha, branch, existing))) return { kind: 'refused', reason: `${branch} moved while pitcrew replaced its earlier fix: left alone` };
  } else if (!existing && !(await pushWithLease(remote, commitSha, branch, ''))) {
    // Created meanwhile (a racing retry): reuse it when it holds this fix.
    const now = await remoteHead(remote, branch);
    if (!now || !(await isSameFix(remote, branch, now, commitSha, failure))) return { kind: 'refused', reason: `${branch} was created meanwhile with another commit: left alone` };
    commitSha = now;
  }
  const pull = await openDraftPullRequest(octokit, pr, prior.open);
  return { kind: 'pull-request', branch, prNumber: pull.number, prUrl: pull.url, commitSha, reused: pull.reused };
}

/** `git check-ref-format refs/heads/<branch>`: the branch name git (and GitHub) accept. */
async function isValidBranch(dir: string, branch: string): Promise<boolean> {
  return git(dir, ['check-ref-format', `refs/heads/${branch}`]).then(
    () => true,
    () => false,
  );
}

/**
 * Commits everything in the workspace on top of the failing SHA; a workspace already committed by
 * an earlier call (HEAD a pitcrew commit of this failure, nothing left uncommitted) is taken as it is.
 *
 * @returns the commit's SHA
 */
async function commitFix(dir: string, failure: ProposeOptions['failure'], author: ProposeOptions['author'], title: string): Promise<string> {
  await git(dir, ['add', '--all']);
  const head = (await git(dir, ['rev-parse', 'HEAD'])).trim();
  const staged = (await git(dir, ['diff', '--cached', '--name-only'])).trim() !== '';
  if (!staged && head !== failure.headSha && (await isFixOf(dir, head, failure))) return head;
  if (head !== failure.headSha) throw new Error(`the workspace is at ${head.slice(0, 12)}, not at the failing commit ${failure.headSha.slice(0, 12)}`);
  const env = { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email };
  const subject = toOutgoing(title.replace(/\s+/g, ' ').trim(), 'publish').text || `Fix ${failure.id}`;
  await git(dir, ['-c', 'commit.gpgSign=false', 'commit', '--quiet', '--no-verify', '-m', subject, '--trailer', `${FAILURE_TRAILER}: ${failure.id}`], { env });
  return (await git(dir, ['rev-parse', 'HEAD'])).trim();
}

/** Whether `sha` (present in the workspace) is a pitcrew commit for `failure`: its parent the failing SHA, its trailer the failure's id. */
async function isFixOf(dir: string, sha: string, failure: ProposeOptions['failure']): Promise<boolean> {
  const out = await git(dir, ['log', '-1', `--format=%P%n%(trailers:key=${FAILURE_TRAILER},valueonly,separator=%x2C)`, sha]).catch(() => '');
  const [parents, trailer] = out.split('\n');
  return parents?.trim() === failure.headSha && trailer?.trim() === failure.id;
}

/** Whether the remote `branch` at `remoteSha` holds the same fix as the local `commitSha`: a pitcrew commit of this failure with the same tree. */
async function isSameFix(remote: Remote, branch: string, remoteSha: string, commitSha: string, failure: ProposeOptions['failure']): Promise<boolean> {
  if (remoteSha === commitSha) return true;
  await git(remote.dir, ['fetch', '--quiet', '--no-tags', remote.url, `refs/heads/${branch}`], { env: remote.env }).catch(() => undefined);
  const trees = await git(remote.dir, ['rev-parse', `${remoteSha}^{tree}`, `${commitSha}^{tree}`]).catch(() => '');
  const [a, b] = trees.trim().split('\n');
  return Boolean(a) && a === b && (await isFixOf(remote.dir, remoteSha, failure));
}

interface Remote {
  dir: string;
  url: string;
  env: Record<string, string>;
}

/** The SHA `branch` points at in the remote, `null` when it has no such branch. @throws {PushError} when the remote cannot be read */
async function remoteHead(remote: Remote, branch: string): Promise<string | null> {
  try {
    const out = await git(remote.dir, ['ls-remote', '--exit-code', remote.url, `refs/heads/${branch}`], { env: remote.env });
    return out.split('\t')[0]!.trim() || null;
  } catch (error) {
    // `--exit-code`: 2 when no ref matched.
    if ((error as { code?: number }).code === 2) return null;
    throw new PushError(`could not read ${branch} from the remote: ${stderrOf(error)}`, { cause: error });
  }
}

/**
 * Pushes `commitSha` to `branch` if the remote branch is still at `expected` (`''`: must not
 * exist), `git push --force-with-lease=refs/heads/<branch>:<expected>`.
 *
 * @returns `false` when the lease or fast-forward check refused the push
 * @throws {PushError} for any other failure
 */
async function pushWithLease(remote: Remote, commitSha: string, branch: string, expected: string): Promise<boolean> {
  try {
    await git(remote.dir, ['push', '--quiet', '--no-verify', '--porcelain', `--force-with-lease=refs/heads/${branch}:${expected}`, remote.url, `${commitSha}:refs/heads/${branch}`], { env: remote.env });
    return true;
  } catch (error) {
    const text = `${(error as { stdout?: string }).stdout ?? ''}\n${stderrOf(error)}`;
    if (/\[rejected\]|stale info|non-fast-forward|fetch first|already exists/.test(text)) return false;
    throw new PushError(`could not push ${branch}: ${stderrOf(error)}`, { cause: error });
  }
}

function stderrOf(error: unknown): string {
  return String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().slice(-500);
}

/** The pull request `commit` mode pushes onto, or why there is none. */
async function commitTarget(octokit: PitcrewOctokit, failure: ProposeOptions['failure'], label: string): Promise<{ number: number; url: string; branch: string } | { reason: string }> {
  const { owner, repo } = failure;
  let numbers = failure.pullRequests;
  if (numbers.length === 0) {
    // A workflow_job payload carries no pull requests; GitHub lists the open ones of the commit.
    const { data } = await octokit.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: failure.headSha, per_page: 100 });
    numbers = data.filter((p) => p.state === 'open').map((p) => p.number);
  }
  if (numbers.length === 0) return { reason: 'the failure belongs to no open pull request: commit mode pushes only onto a pull request’s branch' };
  const reasons: string[] = [];
  for (const number of numbers) {
    const { data: pull } = await octokit.pulls.get({ owner, repo, pull_number: number });
    const headRepo = pull.head.repo?.full_name ?? null;
    if (pull.state !== 'open') reasons.push(`#${number} is ${pull.state}`);
    else if (!pull.labels.some((l) => l.name === label)) reasons.push(`#${number} does not carry the label ${JSON.stringify(label)}`);
    else if (!headRepo || headRepo.toLowerCase() !== `${owner}/${repo}`.toLowerCase()) reasons.push(`#${number} is from a fork (${headRepo ?? 'deleted repository'}): pitcrew pushes only to branches of ${owner}/${repo}`);
    else return { number, url: pull.html_url, branch: pull.head.ref };
  }
  return { reason: reasons.join('; ') };
}

interface PullRequestSpec {
  owner: string;
  repo: string;
  branch: string;
  base: string;
  title: string;
  body: string;
}
type PullRequestItem = Awaited<ReturnType<PitcrewOctokit['pulls']['list']>>['data'][number];

/** The pull requests of `owner:branch` into `base`: the open one, and the latest closed one. */
async function findPullRequests(octokit: PitcrewOctokit, p: PullRequestSpec): Promise<{ open: PullRequestItem | undefined; closed: PullRequestItem | undefined }> {
  const { data } = await octokit.pulls.list({ owner: p.owner, repo: p.repo, head: `${p.owner}:${p.branch}`, base: p.base, state: 'all', per_page: 100 });
  return { open: data.find((x) => x.state === 'open'), closed: data.find((x) => x.state === 'closed') };
}

/** The open pull request of `owner:branch` into `base` (`open`, as found), opened as a draft when there is none. */
async function openDraftPullRequest(octokit: PitcrewOctokit, p: PullRequestSpec, found: PullRequestItem | undefined): Promise<{ number: number; url: string; reused: boolean }> {
  const title = toOutgoing(p.title, 'publish').text;
  const body = truncateUtf8(toOutgoing(p.body, 'publish').text, GITHUB_TEXT_MAX_BYTES);
  let open = found;
  if (!open) {
    try {
      const { data } = await octokit.pulls.create({ owner: p.owner, repo: p.repo, head: p.branch, base: p.base, title, body, draft: true, maintainer_can_modify: true });
      return { number: data.number, url: data.html_url, reused: false };
    } catch (error) {
      // GitHub: 422 "A pull request already exists for owner:branch." — a racing retry opened it.
      if ((error as { status?: number }).status !== 422 || !/already exists/.test((error as Error).message) || !(open = (await findPullRequests(octokit, p)).open)) throw error;
    }
  }
  if (open.title !== title || (open.body ?? '') !== body) await octokit.pulls.update({ owner: p.owner, repo: p.repo, pull_number: open.number, title, body });
  return { number: open.number, url: open.html_url, reused: true };
}

/** What the pull request body says about a fix. */
export interface PullRequestBodyInput {
  failure: Pick<CiFailure, 'id' | 'owner' | 'repo' | 'branch' | 'headSha' | 'htmlUrl' | 'jobName'>;
  /** pitcrew's diagnosis summary (markdown from a model or the rules: untrusted, shown fenced). */
  diagnosis: string;
  /** The fix as a unified diff (`workspaceDiff`). */
  diff: string;
  verification: Verification | null;
  fixer: { name: string; model: string | null };
  /** Tokens in and out of the fixer's model, and its cost in USD. */
  usage: { tokensIn: number; tokensOut: number; costUsd: number };
  /** How to stop pitcrew from proposing fixes, for the footer (defaults to asking the operator). */
  stop?: string;
}

/** Bytes of a verification's output shown (its tail). */
const OUTPUT_TAIL_BYTES = 3_000;
/** Bytes of the diagnosis shown. */
const DIAGNOSIS_BYTES = 20_000;

/** The last `maxBytes` of a verification's output, redacted for `publish`. */
export function outputTail(output: string | null, maxBytes = OUTPUT_TAIL_BYTES): string | null {
  if (output === null) return null;
  const bytes = Buffer.from(output);
  let tail = bytes.length <= maxBytes ? output : bytes.subarray(bytes.length - maxBytes).toString('utf8');
  // A cut inside a multi-byte character decodes to U+FFFD; drop it.
  if (bytes.length > maxBytes && tail.startsWith('\uFFFD')) tail = tail.slice(1);
  return toOutgoing(tail, 'publish').text;
}

/** Per file of a unified diff: path, lines added and deleted. */
export function diffstatOf(diff: string): { files: { path: string; additions: number; deletions: number }[]; additions: number; deletions: number } {
  const files = parseDiff(diff).map((f) => ({ path: f.to && f.to !== '/dev/null' ? f.to : (f.from ?? '?'), additions: f.additions, deletions: f.deletions }));
  return { files, additions: files.reduce((n, f) => n + f.additions, 0), deletions: files.reduce((n, f) => n + f.deletions, 0) };
}

/**
 * The markdown body of a fix's pull request: the diagnosis, the diffstat (files, lines added and
 * deleted), the verification (command, exit code, ms, the tail of its output; or "left to CI" and
 * why), the fixer with its tokens in/out and cost in USD, the failing run's link, and a footer
 * saying pitcrew opened it and how to stop it. Every text that came from a log, a model or an
 * agent passes the outgoing boundary (`toOutgoing(…, 'publish')`) and is fenced (a fence longer
 * than any backtick run inside), so it can neither format, mention nor close anything. At most
 * {@link GITHUB_TEXT_MAX_BYTES} bytes.
 */
export function pullRequestBody(input: PullRequestBodyInput): string {
  const out = (text: string) => toOutgoing(text, 'publish').text;
  const { failure, verification, usage } = input;
  const stat = diffstatOf(input.diff);
  const lines = [
    `pitcrew fixed the failure of ${failure.jobName ? `\`${out(failure.jobName).replaceAll('`', "'")}\`` : 'a check'} on \`${failure.headSha.slice(0, 12)}\`.`,
    '',
    '### Diagnosis',
    '',
    fenced(truncateUtf8(out(input.diagnosis.trim() || '(none)'), DIAGNOSIS_BYTES, '\n… (truncated)')),
    '',
    `### Changes: ${stat.files.length} file${stat.files.length === 1 ? '' : 's'}, +${stat.additions} −${stat.deletions}`,
    '',
    fenced(out(stat.files.slice(0, 100).map((f) => `${f.path} | +${f.additions} -${f.deletions}`).join('\n') + (stat.files.length > 100 ? `\n… and ${stat.files.length - 100} more` : ''))),
    '',
    '### Verification',
    '',
    ...verificationLines(verification),
    '',
    '### Fixer',
    '',
    `\`${out(input.fixer.name)}\`${input.fixer.model ? ` (model \`${out(input.fixer.model).replaceAll('`', "'")}\`)` : ''}: ${usage.tokensIn} tokens in, ${usage.tokensOut} tokens out, ${usage.costUsd.toFixed(4)} USD.`,
    ...(failure.htmlUrl && /^https?:\/\//.test(failure.htmlUrl) ? ['', `[The failing run](${failure.htmlUrl})`] : []),
    '',
    '---',
    `<sub>Opened by pitcrew for failure \`${failure.id}\` (\`${FAILURE_TRAILER}: ${failure.id}\` in the commit). Close this pull request to drop the fix. ${input.stop ?? 'To stop pitcrew proposing fixes for this repository, ask its operator to turn fixing off.'}</sub>`,
  ];
  return truncateUtf8(lines.join('\n'), GITHUB_TEXT_MAX_BYTES);
}

function verificationLines(v: Verification | null): string[] {
  if (!v) return ['Not verified.'];
  const command = v.command ? ['', fenced(toOutgoing(v.command, 'publish').text, 'sh')] : [];
  const tail = outputTail(v.output);
  const output = tail ? ['', `Output (last ${OUTPUT_TAIL_BYTES} bytes at most):`, '', fenced(tail)] : [];
  if (v.result === 'left-to-ci') return [`Left to CI: ${toOutgoing(v.reason, 'publish').text}`, ...command, ...output];
  return [`**${v.result}**: exit code ${v.exitCode ?? 'none'}${v.timedOut ? ' (timed out)' : ''} in ${v.ms} ms, running the failed step's command:`, ...command, ...output];
}

/** A fix as the dry run records it instead of proposing it. */
export interface DryRunProposal {
  failure: Pick<CiFailure, 'id' | 'owner' | 'repo' | 'branch' | 'headSha' | 'htmlUrl'>;
  mode: ProposeMode;
  /** The branch it would have pushed. */
  branch: string;
  title: string;
  body: string;
  diff: string;
  verification: Verification | null;
  fixer: { name: string; model: string | null };
  /** Tokens in/out and cost in USD of the fixer. */
  usage: { tokensIn: number; tokensOut: number; costUsd: number };
}

/**
 * The dry run of a proposal: writes under `<dir>/.pitcrew/proposals/<failure id>/` the diff
 * (`fix.patch`, as it is, applicable with `git apply`), the pull request (`pull-request.md`: title
 * and body), the verification (`verification.json`: result, command, exit code, ms, redacted
 * output tail, or why it was left to CI) and everything together (`proposal.json`), all but the
 * patch through the outgoing boundary (`toOutgoing(…, 'publish')`). Pushes nothing; a
 * second call rewrites the same files (each written to a temporary file and renamed, so a crash
 * leaves no half-written file).
 *
 * @param dir where `.pitcrew` goes; default the process's working directory
 * @returns the directory and the paths written
 * @throws {TypeError} when the failure id cannot name a directory (`/`, `..`)
 */
export async function writeDryRunProposal(dir: string | undefined, proposal: DryRunProposal): Promise<{ dir: string; files: string[] }> {
  const id = proposal.failure.id;
  if (!/^[\w.-]+$/.test(id) || /^\.+$/.test(id)) throw new TypeError(`failure id ${JSON.stringify(id)} cannot name a directory`);
  const target = join(dir ?? process.cwd(), '.pitcrew', 'proposals', id);
  await mkdir(target, { recursive: true });
  const v = proposal.verification;
  const verification = v
    ? { result: v.result, command: v.command, exitCode: v.exitCode, ms: v.ms, outputTail: outputTail(v.output), ...(v.result === 'left-to-ci' ? { reason: v.reason } : { timedOut: v.timedOut }) }
    : { result: 'not-run' as const, command: null, exitCode: null, ms: null, outputTail: null };
  const stat = diffstatOf(proposal.diff);
  const files: Record<string, string> = {
    'fix.patch': proposal.diff,
    'pull-request.md': toOutgoing(`# ${proposal.title}\n\n${proposal.body}\n`, 'publish').text,
    'verification.json': `${JSON.stringify(verification, null, 2)}\n`,
    // The patch stays as it is (it must apply); the rest may be shown or published.
    'proposal.json': `${JSON.stringify(toOutgoingJson({ ...proposal, verification, diffstat: stat, dryRun: true }, 'publish'), null, 2)}\n`,
  };
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = join(target, name);
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
    written.push(path);
  }
  return { dir: target, files: written };
}
