import type { Category, Classification } from './classify.ts';
import { findFindings, type Finding } from './extract/findings.ts';
import type { CiFailure } from './failure.ts';

/**
 * The command a GitHub Actions step ran, when its name is the default `Run <command>` GitHub
 * gives a `run:` step without a `name:` (GitHub docs, "Workflow syntax", `jobs.<job_id>.steps[*].name`).
 * Steps that use an action (`Run actions/checkout@v4`) are not commands.
 */
export function commandOfStep(step: string): string | null {
  const match = /^Run (.+)$/.exec(step.trim());
  if (!match?.[1]) return null;
  const command = match[1].trim();
  return /^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[\w.-]+$/.test(command) ? null : command;
}

/** What a failure's check is called: its job's name, else its workflow's, else its check run's; `null` when it has none. */
export function checkNameOf(failure: Pick<CiFailure, 'jobName' | 'workflowName' | 'checkName'>): string | null {
  return failure.jobName || failure.workflowName || failure.checkName || null;
}

/** Short human description of where a failure happened: job, step, repo, branch and commit. */
export function describeFailure(failure: CiFailure): string {
  const what = checkNameOf(failure) ?? 'CI';
  const step = failure.failedSteps[0] ? ` at step \`${failure.failedSteps[0]}\`` : '';
  const where = `${failure.owner}/${failure.repo}${failure.branch ? `@${failure.branch}` : ''}`;
  const verb = failure.conclusion === 'timed_out' ? 'timed out' : failure.conclusion === 'startup_failure' ? 'failed to start' : 'failed';
  return `\`${what}\` ${verb}${step} on ${where} (${failure.headSha.slice(0, 7)})`;
}

/** First investigation steps per category, as a careful engineer would take them. */
const CATEGORY_STEPS: Record<Category, (ctx: PlanContext) => string[]> = {
  lint: (c) => [
    `Reproduce locally at ${c.sha}: ${c.command ? `\`${c.command}\`` : 'run the repository\'s lint/format script'}.`,
    'Read the first reported file and rule; most lint failures are one rule over a few files.',
    'If the rule is new, check whether the linter or its config changed in this push (lockfile, config files) rather than the code.',
    'Fix with the tool\'s autofix where it exists (`--fix`, `--write`) and commit the result.',
  ],
  typecheck: (c) => [
    `Reproduce locally at ${c.sha}: ${c.command ? `\`${c.command}\`` : 'run the type checker (`tsc --noEmit`, `mypy`, …)'}.`,
    'Start from the first error: later errors are often consequences of it.',
    'Compare with the base branch: a changed signature or an upgraded dependency\'s types are the usual causes.',
  ],
  test: (c) => [
    `Find the first failing test in the log of ${c.where} and run only it locally at ${c.sha}${c.command ? ` (the step ran \`${c.command}\`)` : ''}.`,
    'Check whether the same test fails on the base branch; if it passes there, the diff of this push is the suspect.',
    'If it passes on a re-run without changes, record it as flaky and look for time, order or network dependence.',
    'Read the assertion: expected vs actual values usually point at the changed behaviour.',
  ],
  build: (c) => [
    `Reproduce the build locally at ${c.sha}${c.command ? ` with \`${c.command}\`` : ''}.`,
    'Read the first compiler or bundler error, not the last line: the tail is usually the tool giving up.',
    'Check for files added without being committed, changed imports, and toolchain version differences (Node, JDK, Go, Rust) between CI and local.',
  ],
  dependency: (c) => [
    `Reproduce dependency installation at ${c.sha}${c.command ? ` with \`${c.command}\`` : ''} from a clean cache.`,
    'Check whether the lockfile is in sync with the manifest and whether a version was yanked or a registry was unreachable.',
    'If a transitive release broke it, pin the previous version and open an issue upstream.',
  ],
  infrastructure: (c) => [
    `Open ${c.url} and check whether the failure is in a setup step (runner, checkout, cache, network) rather than the project's own steps.`,
    'Re-run the job once: infrastructure failures usually pass on retry. If it fails again, check runner capacity, disk space and service status.',
    'If it repeats across repositories, escalate to the CI platform owners instead of the code owners.',
  ],
  timeout: (c) => [
    `Compare the duration of ${c.where} with recent successful runs to see whether it slowed down gradually or hung.`,
    'Find the last line printed before the timeout: it names the step or test that hung.',
    'Look for waits on network services, deadlocks in tests, or a job timeout that no longer fits the suite.',
  ],
  permission: (c) => [
    `Read the first permission error in ${c.where}: a token without the scope it needs (the workflow's \`permissions:\` block; GitHub docs, "Automatic token authentication"), a secret this event does not get (pull requests from forks get none), or files owned by another user (git's \`safe.directory\`).`,
    'Fix the workflow, the repository settings or the runner set-up, not the code: re-running fails the same way.',
    'If it started with this push, diff the workflow files and the actions\' versions against the last green run.',
  ],
  'ci-config': (c) => [
    `Open the workflow file at ${c.sha} and validate it (\`actionlint\`): the message names the key, expression or action that is wrong.`,
    'Check for a moved or deleted action version, a changed input, or an expression naming a context that does not exist (GitHub docs, "Contexts").',
  ],
  unknown: (c) => [
    `Open the log of ${c.where} at ${c.url} and find the first error line.`,
    'Check whether the same job fails on the base branch and on a re-run.',
    'Classify it (lint, typecheck, test, build, dependency, infrastructure, timeout, permission, ci-config) and follow that playbook.',
  ],
};

interface PlanContext {
  sha: string;
  where: string;
  url: string;
  command: string | null;
}

/** Most items of one kind a rules diagnosis lists (tests, errors, totals, files). */
const MAX_LISTED = 5;

/** What the excerpt's tool findings say, grouped for a diagnosis. */
export interface ExcerptFacts {
  /** Tools whose report shapes the excerpt shows (`pytest`, `mypy`, …), most findings first. */
  tools: string[];
  cause: Finding | null;
  failedTests: string[];
  errors: string[];
  totals: string[];
  hooks: string[];
  files: string[];
  /** The excerpt's `… and N more … of the same form` notes. */
  repeats: string[];
}

/**
 * The facts a rules diagnosis can state from an excerpt (see `findFindings`): the cause, the
 * failing tests, the first errors and the tools' totals, each at most {@link MAX_LISTED}, distinct,
 * in log order.
 */
export function factsOfExcerpt(excerpt: string | null | undefined): ExcerptFacts {
  const texts = (excerpt ?? '').split('\n');
  const findings = findFindings(texts);
  const distinct = (items: string[]) => [...new Set(items)].slice(0, MAX_LISTED);
  const of = (kind: Finding['kind']) => findings.filter((f) => f.kind === kind);
  const toolCount = new Map<string, number>();
  for (const f of findings) if (!GENERIC_TOOLS.has(f.tool)) toolCount.set(f.tool, (toolCount.get(f.tool) ?? 0) + 1);
  return {
    tools: [...toolCount.entries()].sort((a, b) => b[1] - a[1]).map(([tool]) => tool),
    cause: of('cause')[0] ?? null,
    failedTests: distinct(of('failed-test').map((f) => f.text)),
    errors: distinct(of('error').filter((f) => !GENERIC_TOOLS.has(f.tool) || findings.length < 3).map((f) => f.text)),
    totals: distinct(of('summary').map((f) => f.text)),
    hooks: distinct(of('hook').map((f) => f.text)),
    files: distinct(findings.flatMap((f) => (f.file ? [f.file] : []))),
    repeats: distinct(texts.filter((t) => /^… and \d+ more /.test(t))),
  };
}

/** Shapes every log has; they name no tool. */
const GENERIC_TOOLS = new Set(['github', 'git', 'node']);

function quote(text: string): string {
  return `\`${text.replaceAll('`', "'").slice(0, 240)}\``;
}

/** The `## Findings` lines of a rules diagnosis; empty when the excerpt shows no tool finding. */
function findingLines(facts: ExcerptFacts): string[] {
  const lines: string[] = [];
  if (facts.tools.length) lines.push(`- reported by: ${facts.tools.join(', ')}`);
  if (facts.cause) lines.push(`- cause (${facts.cause.tool}): ${quote(facts.cause.text)}`);
  if (facts.hooks.length) lines.push(`- failed checks: ${facts.hooks.map(quote).join(', ')}`);
  if (facts.failedTests.length) lines.push(`- failed tests: ${facts.failedTests.map(quote).join(', ')}`);
  for (const error of facts.errors.slice(0, 3)) lines.push(`- error: ${quote(error)}`);
  for (const repeat of facts.repeats) lines.push(`- ${repeat.replace(/^… and /, '')}`);
  for (const total of facts.totals) lines.push(`- total: ${quote(total)}`);
  if (facts.files.length) lines.push(`- files: ${facts.files.map(quote).join(', ')}`);
  return lines;
}

/**
 * The `rules` runner's output: a markdown diagnosis with `## Diagnosis`, `## Findings` (what the
 * excerpt's tool reports name: cause, failing tests, first errors, totals, files), `## Evidence`,
 * `## Investigation plan` and `## Summary` sections, built from the failure, its classification
 * and the excerpt alone (no model, no network).
 *
 * @param logExcerpt the failure's excerpt (untrusted: only quoted, in backticks)
 */
export function planFromRules(failure: CiFailure, classification: Classification, logExcerpt?: string | null): string {
  const step = failure.failedSteps[0] ?? null;
  const context: PlanContext = {
    sha: `\`${failure.headSha.slice(0, 12)}\``,
    where: `\`${checkNameOf(failure) ?? 'the job'}\``,
    url: failure.htmlUrl ?? 'the run page',
    command: step ? commandOfStep(step) : null,
  };
  const steps = CATEGORY_STEPS[classification.category](context);
  if (classification.flaky) {
    const { passed } = classification.flaky;
    steps.unshift(
      `Treat it as flaky first: the same job passed on this commit (run ${passed.runId}, attempt ${passed.attempt}${passed.htmlUrl ? `, ${passed.htmlUrl}` : ''}). Compare the two logs for timing, ordering or shared-state differences before changing code.`,
    );
  }
  const evidence = classification.evidence.length
    ? classification.evidence.map((e) => `- ${e.source}: \`${e.text.replaceAll('`', "'")}\``).join('\n')
    : '- none: no rule matched the names or the log text';
  const flaky = classification.flaky
    ? `\n- history: the same job passed on this commit in run ${classification.flaky.passed.runId} (attempt ${classification.flaky.passed.attempt})`
    : '';
  const facts = factsOfExcerpt(logExcerpt);
  const findings = findingLines(facts);
  return [
    '## Diagnosis',
    `${describeFailure(failure)}. Classified as **${classification.category}** (confidence ${classification.confidence.toFixed(2)}) by rules.`,
    '',
    ...(findings.length ? ['## Findings', ...findings, ''] : []),
    '## Evidence',
    evidence + flaky,
    '',
    '## Investigation plan',
    ...steps.map((s, i) => `${i + 1}. ${s}`),
    '',
    '## Summary',
    summaryFromRules(failure, classification, facts),
    '',
  ].join('\n');
}

/** One or two sentences from rules alone, with the excerpt's cause or first error and total when known. */
export function summaryFromRules(failure: CiFailure, classification: Classification, facts?: ExcerptFacts): string {
  const label: Record<Category, string> = {
    lint: 'a lint or formatting failure',
    typecheck: 'a type-checking failure (type errors)',
    test: 'a test failure',
    build: 'a build failure',
    dependency: 'a dependency installation failure',
    infrastructure: 'an infrastructure failure (runner, network or service), likely to pass on re-run',
    timeout: 'a timeout',
    permission: 'a permission failure (a token, secret or file permission the job lacks)',
    'ci-config': 'a CI configuration failure (the workflow or an action is misconfigured)',
    unknown: 'a failure of unknown kind',
  };
  const flaky = classification.flaky ? ' The same job passed on this commit, so it is likely flaky.' : '';
  const detail: string[] = [];
  if (facts?.cause) detail.push(`Cause: ${quote(facts.cause.text)}.`);
  const first = facts?.failedTests[0] ?? facts?.errors[0];
  if (first) detail.push(`First reported: ${quote(first)}${facts?.tools[0] ? ` (${facts.tools[0]})` : ''}.`);
  if (facts?.totals[0]) detail.push(`Total: ${quote(facts.totals[0])}.`);
  return [`${describeFailure(failure)}: ${label[classification.category]}.${flaky}`, ...detail].join(' ');
}

/**
 * The text of a `## Summary` section of a markdown document: the lines after the heading up to the
 * next heading of the same or a higher level, trimmed. `null` when there is no such section or it
 * is empty. Matching is case-insensitive and accepts `#` to `###`.
 */
export function extractSummarySection(markdown: string): string | null {
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((l) => /^#{1,3}\s+summary\s*:?\s*$/i.test(l.trim()));
  if (start < 0) return null;
  const level = /^#+/.exec(lines[start]!.trim())![0].length;
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const heading = /^(#+)\s/.exec(line.trim());
    if (heading && heading[1]!.length <= level) break;
    body.push(line);
  }
  const text = body.join('\n').trim();
  return text.length > 0 ? text : null;
}
