import { CI_EVENTS, FAILURE_CONCLUSIONS, FIX_BRANCH_PREFIX, FIX_PULL_REQUEST_ACTIONS, ISSUE_COMMENT_EVENT, PR_COMMAND_PREFIX, PULL_REQUEST_EVENT, PUSH_EVENT, REPO_CONFIG_PATH } from '@pitcrew/core';

const CI_EVENT_SET = new Set<string>(CI_EVENTS);
const FIX_PR_ACTION_SET = new Set<string>(FIX_PULL_REQUEST_ACTIONS);

/**
 * What {@link decideBeforeParsing} decided: `{ignored: reason}` (answer 202 ignored without
 * parsing), or parse the body and normalize it as a possible CI failure (`{parse: 'failure'}`) or
 * a possible fix event (`{parse: 'fix-event'}`, `normalizeFixEvent`).
 */
export type PrefilterDecision = { ignored: string } | { parse: 'failure' | 'fix-event' | 'repo-event' } | ResolutionLookup;
/**
 * A completed success that may resolve open failures: look up `repository`'s open failures on
 * `branch` (one Redis `EXISTS`) and parse only on a hit. `reason` is the answer on a miss.
 */
export interface ResolutionLookup {
  lookup: 'resolution';
  repository: string;
  branch: string;
  reason: string;
}
const PARSE_FAILURE: PrefilterDecision = Object.freeze({ parse: 'failure' });
const PARSE_FIX_EVENT: PrefilterDecision = Object.freeze({ parse: 'fix-event' });
const PARSE_REPO_EVENT: PrefilterDecision = Object.freeze({ parse: 'repo-event' });

/**
 * What to do with a signed delivery, decided from its event header and the raw body without
 * parsing it. A completed success not on a fix branch is a {@link ResolutionLookup} when its
 * repository and branch can be read from the raw text ({@link repositoryOf}); the route asks
 * Redis whether that branch has open failures and parses the body only then. Most of an organisation's CI deliveries are `queued`/`in_progress`/`requested`/
 * `created` ({@link actionFromPrefix}), and completed successes most of the rest
 * ({@link conclusionIfNoFailure}); the reasons are those `normalizeGithubEvent` would give.
 *
 * Fix events (fix loop part 2) are found the same way, at the cost of one substring search on
 * the few deliveries that reach it:
 * - a completed CI delivery whose first conclusion is `success` and whose body contains
 *   `"head_branch":"pitcrew/fix/` ({@link FIX_HEAD_BRANCH}) is parsed as a fix event;
 * - a `pull_request` delivery with action `closed` or `reopened` is parsed as a fix event when
 *   its body contains `"ref":"pitcrew/fix/` ({@link FIX_REF}; the base's ref also matches, so
 *   the head is checked after parsing); any other `pull_request` is ignored.
 * GitHub writes these fields without spaces and without escaping `/`; a body written otherwise
 * is ignored as before (a success, or a PR not on a fix branch).
 *
 * Repository events (`normalizeRepoEvent`) are found by a substring search of the raw bytes too:
 * - a `push` is parsed only when its body contains `.github/pitcrew.yml` ({@link REPO_CONFIG_PATH};
 *   `.github%2Fpitcrew.yml` in a form body), else ignored: most pushes never touch it;
 * - an `issue_comment` is parsed only when its action is `created` and its body contains
 *   `/pitcrew` (`%2Fpitcrew` in a form body), else ignored: most comments are not commands.
 *
 * @param event the `X-GitHub-Event` header (not `ping`, which the route answers itself)
 * @param raw the verified body
 * @param contentType the `Content-Type` header; only JSON bodies are read this way (a form body
 *   is always parsed)
 */
export function decideBeforeParsing(event: string, raw: string, contentType: string): PrefilterDecision {
  const json = contentType.startsWith('application/json');
  if (event === PULL_REQUEST_EVENT) {
    const action = json ? actionFromPrefix(raw) : undefined;
    if (action === undefined) return PARSE_FIX_EVENT;
    if (!FIX_PR_ACTION_SET.has(action)) return { ignored: `pull_request action ${action} is not closed or reopened` };
    return raw.includes(FIX_REF) ? PARSE_FIX_EVENT : { ignored: `pull_request head is not a ${FIX_BRANCH_PREFIX} branch` };
  }
  if (event === PUSH_EVENT) {
    return raw.includes(REPO_CONFIG_PATH) || (!json && raw.includes(FORM_REPO_CONFIG_PATH)) ? PARSE_REPO_EVENT : { ignored: `push does not touch ${REPO_CONFIG_PATH}` };
  }
  if (event === ISSUE_COMMENT_EVENT) {
    const action = json ? actionFromPrefix(raw) : undefined;
    if (action !== undefined && action !== 'created') return { ignored: `issue_comment action ${action} is not created` };
    return raw.includes(PR_COMMAND_PREFIX) || (!json && raw.includes(FORM_PR_COMMAND_PREFIX)) ? PARSE_REPO_EVENT : { ignored: `comment has no ${PR_COMMAND_PREFIX} command` };
  }
  if (!CI_EVENT_SET.has(event)) return { ignored: `event ${event} is not a CI event` };
  const action = json ? actionFromPrefix(raw) : undefined;
  if (action !== undefined && action !== 'completed') return { ignored: `action ${action} is not completed` };
  const conclusion = action === 'completed' ? conclusionIfNoFailure(raw) : undefined;
  if (conclusion === undefined) return PARSE_FAILURE;
  if (conclusion === 'success' && raw.includes(FIX_HEAD_BRANCH)) return PARSE_FIX_EVENT;
  const reason = `conclusion ${conclusion} is not a failure`;
  if (conclusion === 'success') {
    const repository = repositoryOf(raw);
    const branch = repository === undefined ? undefined : firstString(raw, HEAD_BRANCH);
    if (repository !== undefined && branch !== undefined) return { lookup: 'resolution', repository, branch, reason };
  }
  return { ignored: reason };
}

/**
 * The `full_name` of a JSON body's repository, read without parsing: the last `"repository":{`
 * of the body, then the first `"full_name":"` after it (GitHub writes `full_name` before the
 * repository's `owner`). That is the top-level `repository`, or in a `workflow_run` serialized
 * with the run last, the run's own `repository`: the same base repository either way (a fork's
 * `head_repository` never matches, its key differs). `undefined` when not found or escaped (then
 * the success resolves nothing and is answered as before).
 */
export function repositoryOf(raw: string): string | undefined {
  const at = raw.lastIndexOf(REPOSITORY);
  return at < 0 ? undefined : firstString(raw, FULL_NAME, at);
}
const REPOSITORY = '"repository":{';
const FULL_NAME = '"full_name":"';
/** The first `head_branch` is the event's own (a check run's is in its `check_suite`, which comes before its `pull_requests`). */
const HEAD_BRANCH = '"head_branch":"';

/** The string after the first `prefix` (from `from`), when it has no escape and ends within 512 characters. */
function firstString(raw: string, prefix: string, from = 0): string | undefined {
  const at = raw.indexOf(prefix, from);
  if (at < 0) return undefined;
  const start = at + prefix.length;
  const end = raw.indexOf('"', start);
  if (end < 0 || end - start > 512 || end === start) return undefined;
  const value = raw.slice(start, end);
  return value.includes('\\') ? undefined : value;
}

/** {@link REPO_CONFIG_PATH} as a form-encoded body writes it. */
const FORM_REPO_CONFIG_PATH = encodeURIComponent(REPO_CONFIG_PATH);
/** {@link PR_COMMAND_PREFIX} as a form-encoded body writes it. */
const FORM_PR_COMMAND_PREFIX = encodeURIComponent(PR_COMMAND_PREFIX);

/** A CI payload's head branch when it is a fix branch, as GitHub serializes it. */
export const FIX_HEAD_BRANCH = `"head_branch":"${FIX_BRANCH_PREFIX}`;
/** A pull request payload's head (or base) ref when it is a fix branch, as GitHub serializes it. */
export const FIX_REF = `"ref":"${FIX_BRANCH_PREFIX}`;

/**
 * The action of a JSON body that starts with `{"action":"<word>"`, as every GitHub webhook body
 * does (GitHub serializes `action` first, without spaces); `undefined` for any other start, which
 * then takes the full parse. `<word>` must be `[a-z_]+`, so an escaped or odd value also falls
 * back to parsing. A delivery whose action is not `completed` cannot be a failure whatever
 * follows, so it is answered without `JSON.parse` of the (5-20 KiB) rest; the body has passed the
 * signature check, so only a holder of the secret could make that rest malformed.
 */
export function actionFromPrefix(raw: string): string | undefined {
  if (!raw.startsWith(ACTION_PREFIX)) return undefined;
  const end = raw.indexOf('"', ACTION_PREFIX.length);
  if (end < 0 || end - ACTION_PREFIX.length > 64) return undefined;
  const action = raw.slice(ACTION_PREFIX.length, end);
  return ACTION_WORD.test(action) ? action : undefined;
}
const ACTION_PREFIX = '{"action":"';

/**
 * For a `completed` JSON body that cannot be a failure, the conclusion to name in the answer;
 * `undefined` when it might be one (then it is parsed and normalized in full).
 *
 * A failure needs its conclusion to be one of `FAILURE_CONCLUSIONS` (`"failure"`, `"timed_out"`,
 * `"startup_failure"`), which appears in the body as that quoted string unless a letter of it is
 * written as a `\u00XX` escape. So a body that contains none of them (searched as `failure"` and
 * `timed_out"`, see `FAILURE_LITERALS`) and no escaped ASCII letter or underscore cannot be a
 * failure. One regular expression over the raw text (`MIGHT_BE_FAILURE`) costs a few
 * microseconds, where `JSON.parse` and the shape check of a 10-20 KiB payload cost about a
 * hundred. The conclusion named is the body's first `"conclusion":` value, which in GitHub's
 * field order is the check run's, check suite's, workflow run's or job's own (its steps
 * and suite come later); only the reason text depends on that order, never the decision.
 */
export function conclusionIfNoFailure(raw: string): string | undefined {
  if (MIGHT_BE_FAILURE.test(raw)) return undefined;
  const match = FIRST_CONCLUSION.exec(raw);
  return match ? (match[2] ?? 'null') : 'none';
}
/**
 * `failure"` and `timed_out"`: each failure conclusion with its closing quote, dropping those that
 * end with another (`startup_failure"` ends with `failure"`), so one scan covers both. Without
 * the opening quote a few more bodies are parsed in full (a value ending in `failure`); none is
 * missed.
 */
const FAILURE_LITERALS = FAILURE_CONCLUSIONS.map((c) => `${c}"`).filter(
  (literal, _, all) => !all.some((other) => other !== literal && literal.endsWith(other)),
);
/** `\u0041`-`\u007a`: an escaped letter (or `_`, `[`, …) that could spell a conclusion. */
const ESCAPED_WORD_CHAR = String.raw`\\u00[4-7][0-9a-fA-F]`;
/**
 * Any of `FAILURE_LITERALS` or an escaped word character, in one regular expression: one scan of
 * the body (8-12 µs for 12 KiB on the bench VM) where a substring search per literal plus the
 * escape search took about 30.
 */
const MIGHT_BE_FAILURE = new RegExp([...FAILURE_LITERALS.map((l) => l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), ESCAPED_WORD_CHAR].join('|'));
const FIRST_CONCLUSION = /"conclusion":(null|"([a-z_]*)")/;
const ACTION_WORD = /^[a-z_]+$/;
