import { describe, expect, it } from 'vitest';
import type { CiFailure, FailureRow, FixAttemptRow } from '@pitcrew/core';
import { checkRunOutput } from './check-run.ts';
import { failurePageUrl, fenced, fixLine, GITHUB_TEXT_MAX_BYTES, reportMarkdown, truncateUtf8, type PublishContent } from './content.ts';
import { commentBody, commentMarker } from './pr-comment.ts';
import { slackEscalationText, slackText } from './slack.ts';

const failure: CiFailure = {
  id: 'gh-job-42',
  provider: 'github',
  kind: 'job',
  event: 'workflow_job',
  owner: 'octo-org',
  repo: 'octo-repo',
  repoId: 1,
  branch: 'main',
  headSha: 'a'.repeat(40),
  runId: 7,
  runAttempt: 1,
  jobId: 42,
  checkSuiteId: null,
  workflowName: 'CI',
  jobName: 'unit',
  checkName: 'unit',
  appSlug: 'github-actions',
  htmlUrl: 'https://github.com/octo-org/octo-repo/actions/runs/7/job/42',
  conclusion: 'failure',
  failedSteps: ['Run npm test'],
  outputText: null,
  pullRequests: [5],
  installationId: 9,
  startedAt: null,
  completedAt: null,
};

function content(overrides: Partial<PublishContent> = {}): PublishContent {
  return {
    row: { id: failure.id, finished_at: new Date('2026-11-25T00:00:00Z') } as unknown as FailureRow,
    failure,
    status: 'triaged',
    category: 'test',
    confidence: 0.9,
    summary: 'A test failed: the discount is applied twice.',
    plan: '## Investigation plan\n1. Run `npm test -- cart`.',
    excerpt: ' 12 | FAIL src/cart.test.ts\n 13 | AssertionError: expected 90 to be 81',
    flaky: false,
    incident: null,
    fix: null,
    resolution: null,
    rerun: null,
    consoleUrl: null,
    ...overrides,
  };
}

describe('publish content', () => {
  it('truncates on UTF-8 bytes without splitting a character, and says so', () => {
    const text = 'é'.repeat(100); // 200 bytes
    const cut = truncateUtf8(text, 51, '…');
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(51);
    expect(cut).not.toContain('\uFFFD');
    expect(cut.endsWith('…')).toBe(true);
    expect(truncateUtf8('short', 10)).toBe('short');
  });

  it('fences a log with a fence longer than any backtick run in it', () => {
    expect(fenced('a ``` b')).toBe('````text\na ``` b\n````');
    expect(fenced('plain')).toBe('```text\nplain\n```');
  });

  it("keeps the check run output and comment within GitHub's 65,535-byte limits, summary first, fence closed", () => {
    const huge = Array.from({ length: 20_000 }, (_, i) => ` ${i} | ✗ ünïcode line ${'x'.repeat(20)}`).join('\n');
    const c = content({ excerpt: huge, plan: 'p'.repeat(100_000) });
    const out = checkRunOutput(c);
    expect(Buffer.byteLength(out.text)).toBeLessThanOrEqual(GITHUB_TEXT_MAX_BYTES);
    expect(Buffer.byteLength(out.summary)).toBeLessThanOrEqual(GITHUB_TEXT_MAX_BYTES);
    expect(out.text).toContain('the discount is applied twice');
    expect(out.text).toContain('excerpt truncated');
    expect((out.text.match(/^```/gm) ?? []).length % 2).toBe(0);
    const report = reportMarkdown(c, 10_000);
    expect(Buffer.byteLength(report)).toBeLessThanOrEqual(10_000);
    // Every bound from tiny to roomy holds, with a small excerpt and a huge plan too.
    const small = content({ plan: 'q'.repeat(50_000) });
    for (const max of [50, 200, 400, 1_000, 4_000, 20_000]) {
      expect(Buffer.byteLength(reportMarkdown(small, max))).toBeLessThanOrEqual(max);
      expect(Buffer.byteLength(reportMarkdown(c, max))).toBeLessThanOrEqual(max);
    }
    const body = commentBody(c);
    expect(body.startsWith(commentMarker(failure.id))).toBe(true);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(GITHUB_TEXT_MAX_BYTES);
  });

  it('a failure that could not be triaged says so', () => {
    const out = checkRunOutput(content({ status: 'failed', category: null, confidence: null, summary: 'pitcrew could not triage this failure: boom', plan: null, excerpt: null }));
    expect(out.title).toBe('pitcrew could not triage this failure');
    expect(out.summary).toContain('not triaged');
    expect(out.summary).toContain('boom');
  });

  it('a Slack message is short, escaped and keeps the fence', () => {
    const text = slackText(content({ summary: 'a <b> & c', excerpt: Array.from({ length: 400 }, (_, i) => `line ${i} ${'y'.repeat(40)}`).join('\n') }));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(3_000);
    expect(text).toContain('a &lt;b&gt; &amp; c');
    expect(text).toContain('<https://github.com/octo-org/octo-repo/actions/runs/7/job/42|failed job>');
  });
});

describe('a fix attempt in what is published', () => {
  const attempt = (overrides: Partial<FixAttemptRow>): FixAttemptRow =>
    ({ iteration: 1, fixer: 'agent', status: 'proposed', files_changed: 1, lines_changed: 2, verify_command: 'npm test', verify_exit_code: 0, verify_ms: 1200, pr_number: 9, pr_url: 'https://github.com/octo-org/octo-repo/pull/9', dry_run: false, proposal_path: null, reason: null, guard_rule: null, guard_detail: null, escalation: null, ci_verdict: null, ready_for_review: false, error: null, ...overrides }) as FixAttemptRow;

  it('links the draft PR with its verification, then says CI verified it, or that the loop stopped', () => {
    expect(fixLine(attempt({}))).toBe('**Fix:** pitcrew opened [a draft pull request #9](https://github.com/octo-org/octo-repo/pull/9) with an agent fix (1 file, 2 lines); verified locally: `npm test` exit 0 in 1.2 s.');
    expect(fixLine(attempt({ iteration: 2, ci_verdict: 'passed', ready_for_review: true }))).toContain('verified by CI after 2 iterations, marked ready for review');
    expect(fixLine(attempt({ iteration: 3, escalation: 'iterations', reason: 'CI still fails after 3 iterations' }))).toContain('pitcrew stopped after 3 iterations: CI still fails after 3 iterations.');
    expect(fixLine(attempt({ status: 'refused', guard_rule: 'skipped-test', guard_detail: 'a.test.ts: it.skip(' }))).toContain('refused by the guard (`skipped-test`');
  });

  it('Slack hears once more when the loop ends escalated', () => {
    const text = slackEscalationText(content(), attempt({ iteration: 3, escalation: 'budget', reason: 'the loop spent 3.0100 USD of 3 <USD>' }));
    expect(text).toContain('*fix loop escalated* after 3 iterations <https://github.com/octo-org/octo-repo/pull/9|fix PR #9>');
    expect(text).toContain('3 &lt;USD&gt;');
  });
});

describe('the link to the console', () => {
  it('is the failure page under PITCREW_CONSOLE_URL, the id encoded; without the URL nothing links there', () => {
    expect(failurePageUrl('https://pitcrew.example.com/', 'gh-job-1')).toBe('https://pitcrew.example.com/failures/gh-job-1');
    expect(failurePageUrl('https://ops.example.com/pitcrew', 'gh-check/2 x')).toBe('https://ops.example.com/pitcrew/failures/gh-check%2F2%20x');
    const page = 'https://pitcrew.example.com/failures/gh-job-1';
    const linked = content({ consoleUrl: page });
    expect(reportMarkdown(linked, GITHUB_TEXT_MAX_BYTES)).toContain(`[Open in the pitcrew console](${page})`);
    expect(commentBody(linked)).toContain(`[Open in the pitcrew console](${page})`);
    expect(slackText(linked)).toContain(`<${page}|in the console>`);
    for (const text of [reportMarkdown(content(), GITHUB_TEXT_MAX_BYTES), commentBody(content()), slackText(content())]) expect(text).not.toMatch(/console/);
  });
});
