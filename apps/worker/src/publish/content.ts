import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { describeFailure, findFailure, timeToGreenMs, type FailureRerun, findIncident, findSucceededExecution, listFixAttempts, toOutgoing, type CiFailure, type Database, type FailureRow, type FixAttemptRow, type IncidentRow } from '@pitcrew/core';
import { classifyStage } from '../stages/classify.ts';
import { executeStage } from '../stages/execute.ts';
import { parseOutput, parseStoredFailure } from '../stages/runner.ts';

/**
 * GitHub's limit on a check run's `output.summary` and `output.text`: "Maximum length: 65535
 * characters" (REST docs, "Create a check run"), enforced on bytes in practice (github/docs#35252),
 * so we count UTF-8 bytes. Issue and comment bodies are refused past 65536 characters; the same
 * byte bound keeps them under it.
 */
export const GITHUB_TEXT_MAX_BYTES = 65_535;

/**
 * Slack renders a message's `text` up to 40,000 characters (Slack API docs, `chat.postMessage`,
 * "Truncating content"); a triage notice should be far shorter, so we cap it at 3,000, the limit of
 * one section block's text.
 */
export const SLACK_TEXT_MAX_BYTES = 3_000;

/** Everything a sink says about one final failure, read from Postgres. */
export interface PublishContent {
  row: FailureRow;
  failure: CiFailure;
  /** `triaged` or `failed`. */
  status: FailureRow['status'];
  category: string | null;
  confidence: number | null;
  summary: string;
  /** The runner's investigation plan (markdown), when execute succeeded. */
  plan: string | null;
  /** Redacted log excerpt, when a log was read. */
  excerpt: string | null;
  flaky: boolean;
  incident: IncidentRow | null;
  /** The latest finished fix attempt, when the fix loop tried this failure. */
  fix: FixAttemptRow | null;
  /** Set once the failure is resolved: the commit that went green and the time to green (ms). */
  resolution: { sha: string | null; afterMs: number } | null;
  /** The re-run pitcrew asked for, when it did. */
  rerun: FailureRerun | null;
  /** The failure's page in the console (`<PITCREW_CONSOLE_URL>/failures/<id>`), when the console's URL is configured. */
  consoleUrl: string | null;
}

/**
 * The console page of a failure: `<base>/failures/<id>` (the id URL-encoded, a trailing slash of
 * `base` dropped).
 */
export function failurePageUrl(base: string, failureId: string): string {
  return `${base.replace(/\/+$/, '')}/failures/${encodeURIComponent(failureId)}`;
}

/**
 * Loads what there is to say about a failure: its row, classification, plan and summary, and its
 * incident. Every text a sink may send passes the outgoing-text boundary (`toOutgoing`): a
 * model's or an agent's answer is untrusted and may repeat a secret it saw.
 *
 * @param options.consoleUrl the console's public base URL: the content links to the failure's page there
 * @returns `null` when the failure does not exist
 * @throws {InvalidFailureDataError} when the row was stored in a shape this release cannot read
 */
export async function loadPublishContent(db: Kysely<Database>, failureId: string, options: { consoleUrl?: string } = {}): Promise<PublishContent | null> {
  const row = await findFailure(db, failureId);
  if (!row) return null;
  const stored = parseStoredFailure(failureId, row.data);
  // Names GitHub carries (job, step, check, workflow, branch) and check-run output come from the
  // payload: a step without a `name` is called `Run <its command>`, which may hold a literal token.
  // They are shown in titles and bodies, so they pass the boundary too; the fields sinks address
  // GitHub with (owner, repo, SHA, ids) stay as they are.
  const failure = withOutgoingNames(stored);
  const [classify, execute, incident, fixes] = await Promise.all([
    findSucceededExecution(db, failureId, 'classify'),
    findSucceededExecution(db, failureId, 'execute'),
    row.incident_id ? findIncident(db, String(row.incident_id)) : undefined,
    listFixAttempts(db, failureId),
  ]);
  const fix = fixes.filter((f) => f.status !== 'running' && f.status !== 'not_attempted').at(-1) ?? null;
  const classification = classify ? parseOutput(classifyStage, failureId, classify.output) : undefined;
  const execution = execute ? parseOutput(executeStage, failureId, execute.output) : undefined;
  const summary =
    row.status === 'failed'
      ? `pitcrew could not triage this failure: ${row.error ?? 'unknown error'}`
      : (row.summary ?? `${describeFailure(failure)}.`);
  return {
    row,
    failure,
    status: row.status,
    category: row.category ?? classification?.category ?? null,
    confidence: row.confidence ?? classification?.confidence ?? null,
    summary: redact(summary),
    plan: execution?.markdown ? redact(execution.markdown) : null,
    excerpt: classification?.logExcerpt ? redact(classification.logExcerpt) : null,
    flaky: Boolean(classification?.flaky ?? classification?.flakyHistory),
    incident: incident ?? null,
    resolution: row.resolved_at ? { sha: row.resolved_by_sha, afterMs: timeToGreenMs(row) ?? 0 } : null,
    rerun: row.rerun ?? null,
    consoleUrl: options.consoleUrl ? failurePageUrl(options.consoleUrl, failureId) : null,
    fix: fix ? { ...fix, reason: fix.reason && redact(fix.reason), guard_detail: fix.guard_detail && redact(fix.guard_detail), verify_command: fix.verify_command && redact(fix.verify_command) } : null,
  };
}

function redact(text: string): string {
  return toOutgoing(text, 'publish').text;
}

/** `failure` with the texts a sink displays passed through the outgoing boundary. */
function withOutgoingNames(failure: CiFailure): CiFailure {
  const orNull = (text: string | null) => (text === null ? null : redact(text));
  return {
    ...failure,
    workflowName: orNull(failure.workflowName),
    jobName: orNull(failure.jobName),
    checkName: orNull(failure.checkName),
    branch: orNull(failure.branch),
    failedSteps: failure.failedSteps.map(redact),
    outputText: orNull(failure.outputText),
  };
}

/** A text a sink builds from stored rows other than the content (an issue's occurrence list), through the boundary. */
export function outgoing(text: string): string {
  return redact(text);
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character, with `note` appended
 * (within the bound) when something was cut.
 */
export function truncateUtf8(text: string, maxBytes: number, note = '\n\n… (truncated by pitcrew)'): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const room = Math.max(0, maxBytes - Buffer.byteLength(note));
  let cut = Buffer.from(text).subarray(0, room).toString('utf8');
  // A cut inside a multi-byte character decodes to U+FFFD; drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + note;
}

/**
 * `text` in a fenced code block whose fence is longer than any backtick run inside, so a log line
 * of backticks cannot close it (CommonMark 0.31, "Fenced code blocks").
 */
export function fenced(text: string, info = 'text'): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${info}\n${text}\n${fence}`;
}

/** sha256 hex of a JSON value, for "unchanged since last publish". */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** One line naming the failure: `` `unit` failed at step `npm test` on o/r@main (abc1234) ``. */
export function headline(content: PublishContent): string {
  return describeFailure(content.failure);
}

/** `test (confidence 0.9, likely flaky)` or `not triaged`. */
export function verdict(content: PublishContent): string {
  if (content.status === 'failed' && !content.category) return 'not triaged';
  const parts = [content.confidence !== null ? `confidence ${content.confidence}` : null, content.flaky ? 'likely flaky' : null].filter(Boolean);
  return `${content.category ?? 'unknown'}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** `42 min`, `45 s`, `3.5 h`, `2.1 days`: a time to green as people read it. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1_000);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  const h = s / 3_600;
  return h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`;
}

/** `resolved in abc1234 after 42 min`, or `null` while open. */
export function resolutionLine(content: Pick<PublishContent, 'resolution'>): string | null {
  const r = content.resolution;
  if (!r) return null;
  return `resolved${r.sha ? ` in ${r.sha.slice(0, 7)}` : ''} after ${humanDuration(r.afterMs)}`;
}

/** `re-run 1/1: infrastructure failure (runner lost)`, or `null` when pitcrew re-ran nothing. */
export function rerunLine(content: Pick<PublishContent, 'rerun'>): string | null {
  return content.rerun ? `re-run ${content.rerun.n}/${content.rerun.max}: ${content.rerun.reason}` : null;
}

/** The one-line status notes under a report's verdict: resolution, then re-run. */
export function statusNotes(content: Pick<PublishContent, 'resolution' | 'rerun'>): string {
  const resolved = resolutionLine(content);
  const rerun = rerunLine(content);
  return [resolved ? `**✅ ${resolved.charAt(0).toUpperCase()}${resolved.slice(1)}.**` : null, rerun ? `↻ ${rerun}` : null].filter(Boolean).map((l) => `\n\n${l}`).join('');
}

/**
 * The full markdown report (summary, excerpt, plan) shared by the check run text, PR comments and
 * issues, truncated to `maxBytes`: the plan is cut first, then the excerpt, so the summary survives.
 */
export function reportMarkdown(content: PublishContent, maxBytes: number): string {
  const fix = content.fix ? `\n\n${fixLine(content.fix)}` : '';
  const head = [`**${verdict(content)}** — ${headline(content)}`, '', content.summary].join('\n') + statusNotes(content) + fix;
  const excerpt = content.excerpt ? ['', '### Log excerpt', '', fenced(content.excerpt)].join('\n') : '';
  const plan = content.plan ? ['', '### Investigation', '', content.plan.trim()].join('\n') : '';
  const links = [content.consoleUrl ? `[Open in the pitcrew console](${content.consoleUrl})` : null, content.failure.htmlUrl ? `[Failed job](${content.failure.htmlUrl})` : null].filter(Boolean);
  const link = links.length ? `\n\n${links.join(' · ')}` : '';
  const full = head + excerpt + plan + link;
  if (Buffer.byteLength(full) <= maxBytes) return full;
  // Keep the head and as much excerpt as fits; the plan goes first.
  const withoutPlan = head + excerpt + link;
  if (Buffer.byteLength(withoutPlan) <= maxBytes) {
    const room = maxBytes - Buffer.byteLength(withoutPlan);
    // Below ~100 bytes a cut plan says nothing (and the truncation note alone might not fit).
    return head + excerpt + (room >= 100 ? truncateUtf8(plan, room) : '') + link;
  }
  if (!content.excerpt) return truncateUtf8(head + link, maxBytes);
  const headBytes = Buffer.byteLength(head + link) + 200;
  if (headBytes >= maxBytes) return truncateUtf8(head, maxBytes);
  // Cut the excerpt itself (inside the fence, so the fence still closes).
  const budget = maxBytes - headBytes;
  const cut = truncateUtf8(content.excerpt, budget, '\n… (excerpt truncated)');
  return truncateUtf8(head + ['', '### Log excerpt', '', fenced(cut)].join('\n') + link, maxBytes);
}

/** ms as `850 ms` or `12.3 s`. */
function duration(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/** `; verified by CI` (and `, marked ready for review`) once CI passed the fix commit; else empty. */
function ciVerdict(fix: FixAttemptRow): string {
  if (fix.ci_verdict !== 'passed') return '';
  return `; verified by CI${fix.iteration > 1 ? ` after ${fix.iteration} iterations` : ''}${fix.ready_for_review ? ', marked ready for review' : ''}`;
}

/**
 * One line on a fix attempt for the check run and PR comment: the PR (or dry-run proposal) and its
 * verification (and CI's, once the fix commit passed: "verified by CI", with "marked ready for
 * review" when pitcrew undrafted the PR), or why nothing was proposed. Texts are the redacted
 * ones of the content.
 */
export function fixLine(fix: FixAttemptRow): string {
  const verification =
    fix.verify_exit_code === null
      ? 'verification left to CI'
      : `verified locally: \`${(fix.verify_command ?? '').split('\n')[0]!.slice(0, 100)}\` exit ${fix.verify_exit_code}${fix.verify_ms !== null ? ` in ${duration(fix.verify_ms)}` : ''}`;
  const size = `${fix.files_changed} file${fix.files_changed === 1 ? '' : 's'}, ${fix.lines_changed} line${fix.lines_changed === 1 ? '' : 's'}`;
  if (fix.escalation) {
    return `**Fix:** pitcrew stopped after ${fix.iteration} iteration${fix.iteration === 1 ? '' : 's'}: ${fix.reason ?? fix.escalation}.${fix.pr_url ? ` [The fix pull request${fix.pr_number ? ` #${fix.pr_number}` : ''}](${fix.pr_url}) is labelled for a human.` : ''}`;
  }
  switch (fix.status) {
    case 'proposed':
      if (fix.dry_run) return `**Fix (dry run):** ${fix.fixer === 'agent' ? 'an' : 'a'} ${fix.fixer} fix (${size}) was written to \`${fix.proposal_path}\`; ${verification}. Nothing was pushed.`;
      return `**Fix:** pitcrew opened [a ${fix.ready_for_review ? '' : 'draft '}pull request${fix.pr_number ? ` #${fix.pr_number}` : ''}](${fix.pr_url}) with ${fix.fixer === 'agent' ? 'an' : 'a'} ${fix.fixer} fix (${size}); ${verification}${ciVerdict(fix)}.`;
    case 'verified':
      return `**Fix:** ${fix.fixer === 'agent' ? 'an' : 'a'} ${fix.fixer} fix (${size}) passed verification but was not proposed: ${fix.reason ?? 'see pitcrew'}.`;
    case 'refused':
      return `**Fix:** the ${fix.fixer} fixer's change was refused by the guard (\`${fix.guard_rule}\`: ${fix.guard_detail ?? ''}); nothing was proposed.`;
    case 'verify_failed':
      return `**Fix:** ${fix.fixer === 'agent' ? 'an' : 'a'} ${fix.fixer} fix did not pass verification (\`${(fix.verify_command ?? '').split('\n')[0]!.slice(0, 100)}\` exit ${fix.verify_exit_code}); nothing was proposed.`;
    case 'escalated':
      return `**Fix:** the ${fix.fixer} fixer escalated: ${fix.reason ?? 'no reason given'}. A human is needed.`;
    default:
      return `**Fix:** the attempt ${fix.status === 'failed' ? 'failed' : 'ended'}: ${fix.reason ?? fix.error ?? ''}`;
  }
}
