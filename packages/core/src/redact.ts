/**
 * Secret redaction for text that leaves pitcrew's hands (prompts to a model, comments, rows).
 *
 * Patterns cover the token formats their issuers document: GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`,
 * `ghr_`, `github_pat_`: GitHub docs, "About authentication to GitHub", token prefixes), AWS
 * access key ids (`AKIA`/`ASIA` + 16: AWS IAM docs, "Unique identifiers"), Slack (`xox?-`), OpenAI
 * style `sk-` keys, PEM private-key blocks, `Authorization: Bearer`/`Basic` values, and
 * `password=`/`token:`-style assignments. Kept as a small ordered list here because it is the
 * project's own trust boundary and must work offline with no model of the log format.
 */
const PATTERNS: { name: string; pattern: RegExp; replace?: (match: string, ...groups: string[]) => string }[] = [
  {
    name: 'private-key',
    pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  },
  { name: 'github-token', pattern: /\b(gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g },
  { name: 'aws-access-key-id', pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { name: 'slack-token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g },
  { name: 'api-key', pattern: /\bsk-(proj-|ant-)?[A-Za-z0-9_-]{20,}\b/g },
  {
    name: 'authorization',
    pattern: /\b(authorization\s*[:=]\s*)?(bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{12,})/gi,
    replace: (_m, prefix = '', scheme) => `${prefix}${scheme} [REDACTED:authorization]`,
  },
  {
    name: 'assignment',
    pattern:
      /\b([A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret)[A-Za-z0-9_.-]*)(\s*[:=]\s*)(["']?)([^\s"'`,;]{6,})\3/gi,
    replace: (_m, key, sep, quote) => `${key}${sep}${quote}[REDACTED:assignment]${quote}`,
  },
  { name: 'url-credentials', pattern: /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s:@]+):([^/\s@]+)@/gi, replace: (_m, scheme, user) => `${scheme}${user}:[REDACTED:url-credentials]@` },
];

/**
 * Replaces secrets in `text` with `[REDACTED:<kind>]`.
 *
 * @returns the redacted text and the number of replacements per kind
 */
export function redactSecrets(text: string): { text: string; redactions: Record<string, number> } {
  const redactions: Record<string, number> = {};
  let out = text;
  for (const { name, pattern, replace } of PATTERNS) {
    out = out.replace(pattern, (...args: unknown[]) => {
      redactions[name] = (redactions[name] ?? 0) + 1;
      const [match, ...groups] = args as [string, ...string[]];
      return replace ? replace(match, ...groups) : `[REDACTED:${name}]`;
    });
  }
  return { text: out, redactions };
}
