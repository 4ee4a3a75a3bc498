import { rules as recommendedRules } from '@secretlint/secretlint-rule-preset-recommend';
import type { SecretLintRuleCreator, SecretLintSourceCode } from '@secretlint/types';

/**
 * Secret redaction for every text that leaves pitcrew (see `toOutgoing` in `outgoing.ts`).
 *
 * Detection has two layers:
 * 1. **secretlint's recommended preset** (`@secretlint/secretlint-rule-preset-recommend`): the
 *    maintained rules for AWS, GCP, GitHub, GitLab, npm, Slack, SendGrid, Stripe, OpenAI,
 *    Anthropic, Hugging Face, Shopify, Linear, Notion, 1Password, Docker, Databricks, Vercel,
 *    Cloudflare, Tailscale, Grafana, HashiCorp Vault, database connection strings, basic auth
 *    and private keys. Replacements name the rule without its package prefix
 *    (`[REDACTED:github]`, `[REDACTED:aws]`).
 * 2. **our own rules**, only for what the preset misses in CI logs ({@link OWN_RULES}, each
 *    with its reason).
 *
 * Why not `lintSource` from `@secretlint/core`: it is asynchronous only, and redaction runs
 * inside extraction and prompt building, which are synchronous and on the hot path. So the
 * preset's rule creators are driven here synchronously through a minimal rule context (the
 * `report`/`ignore`/`createTranslator`/`sharedOptions` contract of `@secretlint/types`; every
 * recommended rule's `file(source)` handler is synchronous). A test checks that this driver
 * finds exactly what `lintSource` finds on the corpus. `filter-comments` is left out: it
 * suppresses findings after `secretlint-disable` comments, which a log author could use to
 * smuggle a secret past us.
 */

/** A span of `text` to replace, and the rule that found it. */
interface Finding {
  start: number;
  end: number;
  rule: string;
}

const PREFIX = '@secretlint/secretlint-rule-';

/** The preset's rules, created once with a context whose reports land in `sink`. */
const preset = (() => {
  let sink: Finding[] = [];
  const handlers: { name: string; file: (source: SecretLintSourceCode) => unknown }[] = [];
  for (const creator of recommendedRules as SecretLintRuleCreator[]) {
    const id = creator.meta.id;
    if (id.endsWith('filter-comments')) continue;
    const name = id.startsWith(PREFIX) ? id.slice(PREFIX.length) : id;
    const context = {
      sharedOptions: {},
      createTranslator: (messages: Record<string, Record<string, unknown>>) => (messageId: string, data?: unknown) => {
        const text = messages[messageId]?.en;
        return { message: typeof text === 'function' ? String((text as (d: unknown) => string)(data ?? {})) : String(text ?? messageId), messageId, data };
      },
      report: (descriptor: { range: readonly [number, number] }) => sink.push({ start: descriptor.range[0], end: descriptor.range[1], rule: name }),
      ignore: () => {},
    };
    const handle = creator.create(context as never, {} as never) as { file?: (source: SecretLintSourceCode) => unknown };
    if (handle.file) handlers.push({ name, file: handle.file });
  }
  return {
    names: handlers.map((h) => h.name),
    find(text: string): Finding[] {
      sink = [];
      const source = { content: text, filePath: 'ci.log', ext: '.log', contentType: 'text' } as unknown as SecretLintSourceCode;
      for (const handler of handlers) handler.file(source);
      const found = sink;
      sink = [];
      return found;
    },
  };
})();

/** The names of the preset's rules as they appear in `[REDACTED:<rule>]`. */
export const PRESET_RULE_NAMES: readonly string[] = preset.names;

/** What the preset's rules alone report in `text`, as `{start, end, rule}` spans (for the conformance test). */
export function findWithPreset(text: string): { start: number; end: number; rule: string }[] {
  return preset.find(text);
}

/** Values that stand for a secret without being one: masks, placeholders, templating. */
function isPlaceholder(value: string): boolean {
  return (
    /^\*+$/.test(value) ||
    /^\[?REDACTED/i.test(value) ||
    /^<[^>]*>$/.test(value) ||
    /^\$\{\{?[^}]*\}\}?$/.test(value) ||
    /^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value) ||
    /^%[A-Za-z_]+%$/.test(value) ||
    /^(true|false|null|none|nil|undefined|empty|required|optional|string|changeme|redacted|hidden|masked|secret|password|token)$/i.test(value) ||
    /^\d+$/.test(value)
  );
}

/**
 * A value assigned to a secret-named key looks like a secret when it is not a placeholder and
 * has a digit, a symbol, or at least 12 characters: `hunter2`, `s3cr3t!`, `correcthorsebattery`,
 * but not `identifier` in `Unexpected token: identifier`.
 */
function looksSecret(value: string): boolean {
  if (value.length < 6 || isPlaceholder(value)) return false;
  return /\d/.test(value) || /[^A-Za-z0-9]/.test(value) || value.length >= 12;
}

/** Names of keys whose values are secrets (case-insensitive, anywhere in the name). */
const SECRET_NAME = String.raw`[A-Za-z0-9_.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key|credentials?|signing[_-]?key|encryption[_-]?key)[A-Za-z0-9_.-]*`;

/** One of our own rules: a pattern whose `secret` group (or whole match) is replaced. */
interface OwnRule {
  name: string;
  pattern: RegExp;
  /** Extra check on the `secret` group; a finding is kept only when it returns true. */
  accept?: (secret: string) => boolean;
}

/**
 * Our own rules, for what the preset misses in CI logs (found by running the corpus of
 * `redact-corpus.ts` through the preset alone):
 */
export const OWN_RULES: readonly OwnRule[] = [
  /**
   * PEM private-key blocks, also cut off before their END line (a log truncated mid-key). The
   * preset's privatekey rule needs the whole block. Format: RFC 7468 §2.
   */
  { name: 'private-key', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)/g },
  /**
   * GitHub fine-grained tokens of any length: the preset wants exactly 82 characters after
   * `github_pat_`, but GitHub says token lengths may change ("Behind GitHub's new authentication
   * token formats", 2021) and shorter ones appear in tests and older tokens.
   */
  { name: 'github-pat', pattern: /\bgithub_pat_[A-Za-z0-9_]{22,255}/g },
  /**
   * JSON Web Tokens (RFC 7519: base64url header `eyJ…`, payload, signature): bearer credentials
   * printed by HTTP clients and test runners; no preset rule knows them.
   */
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g },
  /**
   * Slack incoming-webhook URLs (`https://hooks.slack.com/services/T…/B…/…`, Slack docs,
   * "Sending messages using incoming webhooks"): the URL itself is the credential; the preset's
   * slack rule checks only `xox?-` tokens.
   */
  { name: 'slack-webhook', pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/-]{20,}/g },
  /** Google API keys (`AIza` + 35 characters, Google Cloud docs, "API keys"); the preset's gcp rule reads service-account JSON only. */
  { name: 'google-api-key', pattern: /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g },
  /** Docker Hub personal access tokens (`dckr_pat_` + 27, Docker docs, "Access tokens"); the preset's docker rule reads config.json auths. */
  { name: 'docker-hub', pattern: /\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}/g },
  /**
   * Azure storage and Service Bus connection-string keys (`AccountKey=…`, `SharedAccessKey=…`)
   * and SAS signatures (`sig=…`), Azure docs "Configure Azure Storage connection strings".
   */
  { name: 'azure-key', pattern: /\b(?:AccountKey|SharedAccessKey|sig)=(?<secret>[A-Za-z0-9+/%]{20,}(?:=|%3D){0,2})/g },
  /**
   * AWS access key ids (`AKIA`/`ASIA` + 16, AWS IAM docs, "Unique identifiers"): the preset's aws
   * rule skips ids containing `EXAMPLE`, which are AWS's documented samples but also what test
   * suites and misconfigured pipelines print; they cost nothing to hide.
   */
  { name: 'aws-access-key-id', pattern: /\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16}\b/g },
  /**
   * OpenAI-style keys (`sk-`, `sk-proj-`, `sk-ant-` + 20 or more), as OpenAI-compatible gateways
   * and proxies issue them; the preset's openai rule matches only keys with OpenAI's `T3BlbkFJ` marker.
   */
  { name: 'api-key', pattern: /\bsk-(?:proj-|ant-(?:api\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g },
  /**
   * A bare AWS secret access key: 40 characters of base64 with upper and lower case and a digit,
   * standing alone (AWS IAM docs, "Managing access keys"). The preset's aws rule finds it only
   * after a recognised key name. Hex (commit SHAs) has no upper case, so it never matches.
   */
  {
    name: 'aws-secret-access-key',
    pattern: /(?<![A-Za-z0-9/+=_.-])(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=_-])/g,
    accept: (s) => /[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s) && !/^[A-Za-z]+[0-9]*$/.test(s) && /[/+]|\d.*[A-Z].*\d/.test(s),
  },
  /**
   * `Authorization:` / `Proxy-Authorization:` headers and bare `Bearer …` values as curl -v and
   * HTTP client logs print them (RFC 9110 §11.6.2); the scheme stays readable.
   */
  {
    name: 'authorization',
    pattern: /\b(?:(?:proxy-)?authorization\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest|bot)\s+)?|bearer\s+)(?<secret>[A-Za-z0-9._~+/-]{8,}=*)/gi,
    accept: (s) => !isPlaceholder(s),
  },
  /** URLs with a password (`scheme://user:password@host`, RFC 3986 §3.2.1); the user stays readable. */
  { name: 'url-credentials', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:(?<secret>[^/\s@]+)@/gi, accept: (s) => !isPlaceholder(s) },
  /**
   * Quoted JSON/YAML/TOML keys named like a secret (`"password": "…"`, `'api_key': '…'`), which
   * the preset's rules, keyed to token formats, do not read.
   */
  { name: 'json-key', pattern: new RegExp(String.raw`(["'])${SECRET_NAME}\1\s*[:=]\s*(["'])(?<secret>[^"'\n]{4,}?)\2`, 'gi'), accept: (s) => !isPlaceholder(s.trim()) },
  /** `--password value`, `--api-key=value`, `-p'value'` style flags on a command line. */
  { name: 'cli-flag', pattern: new RegExp(String.raw`(?<![A-Za-z0-9_-])--${SECRET_NAME}(?:=|\s+)(["']?)(?<secret>[^\s"']{4,})\1`, 'gi'), accept: (s) => !isPlaceholder(s) && !s.startsWith('-') },
  /**
   * `KEY=value` and `key: value` assignments to names like `*_TOKEN`, `*_SECRET`, `*_KEY`,
   * `PASSWORD` (env dumps, `set -x` traces, YAML), when the value looks like a secret.
   */
  {
    name: 'assignment',
    pattern: new RegExp(String.raw`(?<![A-Za-z0-9_.-])(?:${SECRET_NAME}|[A-Z0-9_]*_KEY)\s*[:=]\s*(["']?)(?<secret>[^\s"'\x60,;]{6,})\1`, 'gi'),
    accept: looksSecret,
  },
];

/** The findings of our own rules in `text`. */
function findOwn(text: string): Finding[] {
  const found: Finding[] = [];
  for (const rule of OWN_RULES) {
    rule.pattern.lastIndex = 0;
    for (const match of text.matchAll(rule.pattern)) {
      const secret = match.groups?.secret;
      if (secret === undefined) {
        found.push({ start: match.index, end: match.index + match[0].length, rule: rule.name });
        continue;
      }
      if (rule.accept && !rule.accept(secret)) continue;
      const start = match.index + match[0].lastIndexOf(secret);
      found.push({ start, end: start + secret.length, rule: rule.name });
    }
  }
  return found;
}

/**
 * Replaces secrets in `text` with `[REDACTED:<rule>]`, naming the rule that found each.
 * Overlapping findings are merged into one replacement, named by the one that starts first.
 *
 * @returns the redacted text and the number of replacements per rule
 */
export function redactSecrets(text: string): { text: string; redactions: Record<string, number> } {
  const redactions: Record<string, number> = {};
  const own = findOwn(text);
  // A connection string keeps its user and host readable (they help a diagnosis) when our
  // url-credentials rule has found its password; the preset would replace the whole URL.
  const fromPreset = preset.find(text).filter(
    (p) => p.rule !== 'database-connection-string' || !own.some((o) => o.rule === 'url-credentials' && o.start >= p.start && o.end <= p.end),
  );
  const findings = [...fromPreset, ...own].filter((f) => f.end > f.start);
  if (findings.length === 0) return { text, redactions };
  findings.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let at = 0;
  let current: Finding | null = null;
  const flush = () => {
    if (!current) return;
    out += text.slice(at, current.start) + `[REDACTED:${current.rule}]`;
    redactions[current.rule] = (redactions[current.rule] ?? 0) + 1;
    at = current.end;
    current = null;
  };
  for (const finding of findings) {
    if (current && finding.start < current.end) {
      current.end = Math.max(current.end, finding.end);
      continue;
    }
    flush();
    current = { ...finding };
  }
  flush();
  out += text.slice(at);
  return { text: out, redactions };
}
