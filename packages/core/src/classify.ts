import { z } from 'zod';
import { findFindings } from './extract/findings.ts';
import type { CiFailure } from './failure.ts';

/**
 * The failure categories pitcrew triages into. `permission` (a token, secret or file permission
 * the job lacks) and `ci-config` (the workflow or an action's configuration) are neither the
 * code's fault nor fixed by re-running; LogDx-CI's `permission_or_secret` and
 * `github_actions_config` classes (see apps/cli/src/eval/logdx.ts).
 */
export const CATEGORIES = [
  'lint',
  'typecheck',
  'test',
  'build',
  'dependency',
  'infrastructure',
  'timeout',
  'permission',
  'ci-config',
  'unknown',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Where a piece of evidence was found; log text is the strongest, a check name the weakest. */
export const EVIDENCE_SOURCES = ['conclusion', 'log', 'failed-step', 'job-name', 'check-name', 'workflow-name', 'model'] as const;
export type EvidenceSource = (typeof EVIDENCE_SOURCES)[number];

/** What matched, for the operator and the model: `{category, source, text, pattern}`. */
export const Evidence = z.object({
  category: z.enum(CATEGORIES),
  source: z.enum(EVIDENCE_SOURCES),
  /** The text that matched (a step name, a log line), cut to 200 characters. */
  text: z.string(),
  /** The rule that matched, as a regular expression source, or `finding:<kind>:<tool>` for a tool's report shape. */
  pattern: z.string(),
});
export type Evidence = z.infer<typeof Evidence>;

/**
 * Evidence that a failure is flaky: the same job (same name, same workflow) passed on the same
 * commit, in another run (e.g. the `push` and `pull_request` runs of one SHA) or another attempt
 * of the same run (a re-run). Found in the GitHub Actions API, not in the log.
 */
export const FlakyEvidence = z.object({
  /** The passing twin. */
  passed: z.object({ runId: z.number(), attempt: z.number(), jobId: z.number(), jobName: z.string(), htmlUrl: z.string().nullable() }),
  /** The commit both ran on. */
  headSha: z.string(),
});
export type FlakyEvidence = z.infer<typeof FlakyEvidence>;

/**
 * Evidence that a failure is flaky from pitcrew's flaky registry: its job (or a failing test its
 * excerpt names) went green on the commit it failed on before, `occurrences` times, `score` =
 * occurrences / resolved failures seen.
 */
export const FlakyHistory = z.object({
  score: z.number().min(0).max(1),
  occurrences: z.number().int().min(1),
  /** The failing test the history is of; `null` for the job's own. */
  test: z.string().nullable(),
});
export type FlakyHistory = z.infer<typeof FlakyHistory>;

/** Result of {@link classifyFailure}: a category, a confidence in [0, 1] and the evidence. */
export const Classification = z.object({
  category: z.enum(CATEGORIES),
  confidence: z.number().min(0).max(1),
  evidence: z.array(Evidence),
  /** Set when the same job passed on the same commit (see {@link FlakyEvidence}). */
  flaky: FlakyEvidence.optional(),
  /** Set when the flaky registry knows this job or test as flaky (see {@link FlakyHistory}). */
  flakyHistory: FlakyHistory.optional(),
});
export type Classification = z.infer<typeof Classification>;

/**
 * Weight of one match by where it was found. A failed step's name says what failed; a job or
 * check name only what the job was for (a job named "test" can fail in `npm ci`).
 * Chosen by hand on the GitHub example payloads and the labelled logs in shared/datasets.
 */
const SOURCE_WEIGHT: Record<EvidenceSource, number> = {
  conclusion: 0.95,
  log: 0.9,
  'failed-step': 0.8,
  'job-name': 0.55,
  'check-name': 0.5,
  'workflow-name': 0.35,
  model: 0.75,
};

interface Rule {
  category: Exclude<Category, 'unknown'>;
  /** Matched against names (steps, jobs, checks, workflows). */
  name?: RegExp;
  /** Matched against log lines. */
  log?: RegExp;
}

/**
 * Ordered rules. A name takes the first rule it matches and earlier rules win ties, so specific
 * categories come first ("npm ci" is dependency, not build; "unit tests (cache)" is test, not
 * infrastructure).
 */
const RULES: Rule[] = [
  {
    category: 'timeout',
    log: /\b(exceeded the maximum execution time|timed out after|the job running on runner .* has exceeded|operation was canceled.*timeout|ETIMEDOUT)\b/i,
  },
  {
    category: 'dependency',
    name: /\b(npm (ci|install)|yarn( install)?$|pnpm install|pip install|poetry install|bundle install|go mod (download|tidy)|cargo fetch|install dependencies|dependencies|restore|composer install|mvn dependency)\b/i,
    log: /(ERESOLVE|could not resolve dependenc|no matching version found|npm ERR! 404|package .* not found|ModuleNotFoundError: No module named|Could not find a version that satisfies|version solving failed|unable to resolve dependency|lockfile .* (out of date|needs to be updated)|frozen-lockfile|Cannot find module '[^.])/i,
  },
  {
    category: 'typecheck',
    name: /\b(tsc|type[- ]?check(ing)?|types|mypy|pyright|flow|typescript|vue-tsc|sorbet)\b/i,
    log: /(error TS\d{4}:|: error: .*\[.*\]  \(mypy\)|error: Incompatible types|is not assignable to type|Found \d+ errors? in \d+ files?|pyright.*error)/i,
  },
  {
    category: 'lint',
    name: /\b(lint(er|ers|ing)?|eslint|prettier|format(ting)?(-check)?|fmt|rubocop|flake8|ruff|black|isort|golangci|clippy|stylelint|shellcheck|hadolint|markdownlint|check[- ]format|spotless|checkstyle|ktlint|swiftlint)\b/i,
    log: /(\d+ problems? \(\d+ errors?|✖ \d+ problems?|Code style issues found|would reformat|Run Prettier with --write|eslint|rubocop|offenses? detected|warning: .*\[clippy::|golangci-lint|Checkstyle|ktlint)/i,
  },
  {
    category: 'test',
    name: /\b(tests?|spec|specs|jest|vitest|mocha|pytest|rspec|junit|e2e|integration|unit|cypress|playwright|karma|ctest|go test|cargo test|phpunit|coverage)\b/i,
    log: /(Tests?:\s+\d+ failed|\d+ (tests? )?failed|FAILED .*::|AssertionError|assert(ion)? failed|expected .* (to|but)|Failures:|Tests run: \d+, Failures: [1-9]|FAIL\s+\S+\.(test|spec)\.|--- FAIL:|panicked at|test result: FAILED|There (was|were) \d+ failures?)/i,
  },
  {
    category: 'build',
    name: /\b(build|compile|bundle|webpack|vite|rollup|esbuild|make|cmake|gradle|maven|mvn|cargo build|go build|docker build|package|assemble|dist)\b/i,
    log: /(BUILD FAILED|COMPILATION ERROR|compilation failed|error\[E\d{4}\]|error: could not compile|make(\[\d+\])?: \*\*\*|Module not found: Error|SyntaxError:|cannot find symbol|undefined reference to|fatal error: .*\.h: No such file|\[ERROR\] Failed to execute goal)/i,
  },
  {
    category: 'infrastructure',
    name: /\b(set ?up job|runner|docker login|checkout|upload artifact|cache)\b/i,
    log: /(no space left on device|the runner has received a shutdown signal|lost communication with the server|the hosted runner .* lost|ECONNRESET|ENOTFOUND|EAI_AGAIN|503 service unavailable|502 bad gateway|rate limit exceeded|toomanyrequests|could not resolve host|connection refused|out of memory|killed signal 9|exit code 137)/i,
  },
];

/** Step names GitHub adds around user steps; a failure there is rarely the code's fault. */
const HOUSEKEEPING_STEP = /^(set ?up job|complete job|post .*)$/i;

/**
 * Classifies a failure with rules, no model: over the conclusion, the failed step names, the job,
 * check and workflow names, and any log text (the check run's output or an extracted excerpt).
 *
 * Scoring: each category's score is the largest source weight among its matches
 * ({@link SOURCE_WEIGHT}), plus 0.05 per extra distinct source (corroboration), capped at 0.97.
 * When the log shows a tool's report shape (`findFindings`: a cause, a compiler diagnostic, a
 * failing test, a tool's total), the first of them in precedence names the category whatever the
 * names say. Confidence is the category's score, lowered by half the best other category's score
 * when another also matched (conflicting evidence). No match: `unknown` with confidence 0.2.
 *
 * @param failure the normalized failure
 * @param logText optional log text (untrusted; only matched, never executed)
 */
export function classifyFailure(failure: CiFailure, logText?: string | null): Classification {
  const evidence: Evidence[] = [];
  if (failure.conclusion === 'timed_out') {
    evidence.push({ category: 'timeout', source: 'conclusion', text: 'timed_out', pattern: 'conclusion' });
  }
  if (failure.conclusion === 'startup_failure') {
    evidence.push({
      category: 'infrastructure',
      source: 'conclusion',
      text: 'startup_failure',
      pattern: 'conclusion',
    });
  }
  const names: [EvidenceSource, string | null][] = [
    ...failure.failedSteps
      .filter((step) => !HOUSEKEEPING_STEP.test(step.trim()))
      .map((step): [EvidenceSource, string] => ['failed-step', step]),
    ['job-name', failure.jobName],
    ['check-name', failure.checkName !== failure.jobName ? failure.checkName : null],
    ['workflow-name', failure.workflowName],
  ];
  for (const [source, name] of names) {
    if (!name) continue;
    const rule = RULES.find((r) => r.name?.test(name));
    if (rule) evidence.push({ category: rule.category, source, text: cut(name), pattern: rule.name!.source });
  }
  const text = [failure.outputText, logText].filter(Boolean).join('\n');
  if (text) {
    // A tool's report shape names the category most precisely: one evidence per category, the first
    // cause first (a permission or network error explains the test that failed after it).
    const findings = findFindings(text.split('\n')).filter((f) => f.category);
    findings.sort((a, b) => findingRank(a) - findingRank(b) || a.index - b.index);
    const seen = new Set<Category>();
    for (const finding of findings) {
      if (seen.has(finding.category!)) continue;
      seen.add(finding.category!);
      evidence.push({ category: finding.category!, source: 'log', text: cut(finding.text), pattern: `finding:${finding.kind}:${finding.tool}` });
    }
    for (const rule of RULES) {
      if (!rule.log) continue;
      const line = firstMatchingLine(text, rule.log);
      if (line !== null) {
        evidence.push({ category: rule.category, source: 'log', text: cut(line), pattern: rule.log.source });
      }
    }
  }
  return score(evidence);
}

function score(evidence: Evidence[]): Classification {
  if (evidence.length === 0) return { category: 'unknown', confidence: 0.2, evidence };
  const byCategory = new Map<Category, { top: number; sources: Set<EvidenceSource>; order: number }>();
  evidence.forEach((e, order) => {
    const entry = byCategory.get(e.category) ?? { top: 0, sources: new Set(), order };
    entry.top = Math.max(entry.top, SOURCE_WEIGHT[e.source]);
    entry.sources.add(e.source);
    byCategory.set(e.category, entry);
  });
  const ranked = [...byCategory.entries()]
    .map(([category, e]) => ({
      category,
      score: Math.min(0.97, e.top + 0.05 * (e.sources.size - 1)),
      order: e.order,
    }))
    .sort((a, b) => b.score - a.score || a.order - b.order);
  // The log's tool findings decide when there are any: the first in precedence (see findingRank)
  // names the category; names and keyword rules only corroborate it.
  // A conclusion (timed_out, startup_failure) is GitHub's own word and comes first.
  const decisive = evidence.find((e) => e.source === 'conclusion') ?? evidence.find((e) => e.pattern.startsWith('finding:'));
  if (decisive) {
    const at = ranked.findIndex((r) => r.category === decisive.category);
    ranked.unshift(...ranked.splice(at, 1));
  }
  const [best, runnerUp] = ranked as [(typeof ranked)[number], ...(typeof ranked)];
  const confidence = runnerUp ? best.score - runnerUp.score / 2 : best.score;
  return {
    category: best.category,
    confidence: Math.round(Math.max(0.05, confidence) * 100) / 100,
    evidence,
  };
}

/** Tools whose `error` findings are compiler or type-checker diagnostics. */
const COMPILERS = new Set(['rustc', 'tsc', 'mypy', 'compiler']);

/**
 * Precedence of tool findings as category evidence, lowest first: a cause explains what failed
 * after it (a test that fails after `502 Bad Gateway` failed because of the network); a compiler's
 * diagnostic explains a test that could not build (jest's "Test suite failed to run" over a TS
 * error, a trybuild test over rustc's); then any other tool report.
 */
function findingRank(finding: { kind: string; tool: string }): number {
  if (finding.kind === 'cause') return 0;
  if (finding.kind === 'error' && COMPILERS.has(finding.tool)) return 1;
  return 2;
}

function firstMatchingLine(text: string, pattern: RegExp): string | null {
  for (const line of text.split('\n')) {
    if (pattern.test(line)) return line.trim();
  }
  return null;
}

function cut(text: string): string {
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
