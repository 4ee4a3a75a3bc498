import picomatch from 'picomatch';

/** Decides whether failures of a repository are triaged. */
export type RepoFilter = (fullName: string) => { allowed: true } | { allowed: false; reason: string };

/**
 * Builds a filter from glob patterns over `owner/repo` (picomatch syntax, case-insensitive as
 * GitHub names are): a repository passes when it matches some `allow` pattern (or `allow` is
 * empty) and no `deny` pattern. Deny wins over allow.
 *
 * Examples: allow `my-org/*`, deny `my-org/sandbox-*`, `*\/docs`.
 *
 * @throws {Error} at construction for an empty pattern
 */
export function createRepoFilter(allow: string[], deny: string[]): RepoFilter {
  for (const p of [...allow, ...deny]) if (!p.trim()) throw new Error('empty repository pattern');
  const options = { nocase: true, dot: true };
  const isAllowed = allow.length ? picomatch(allow, options) : () => true;
  const isDenied = deny.length ? picomatch(deny, options) : () => false;
  return (fullName) => {
    if (isDenied(fullName)) return { allowed: false, reason: `repository ${fullName} matches PITCREW_REPOS_DENY` };
    if (!isAllowed(fullName)) return { allowed: false, reason: `repository ${fullName} does not match PITCREW_REPOS_ALLOW` };
    return { allowed: true };
  };
}
