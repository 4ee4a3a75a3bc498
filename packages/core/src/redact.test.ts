import { describe, expect, it } from 'vitest';
import { buildExecutePrompt, fenceUntrusted } from './prompts.ts';
import { lintSource } from '@secretlint/core';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';
import { findWithPreset, PRESET_RULE_NAMES, redactSecrets } from './redact.ts';
import { LOOK_ALIKES, SECRETS } from './redact-corpus.ts';
import { classifyFailure } from './classify.ts';
import type { CiFailure } from './failure.ts';

const secrets = {
  github: 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8',
  pat: 'github_pat_' + '11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz',
  aws: 'AKIA' + 'IOSFODNN7EXAMPLE',
  key: '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----',
};

describe('redactSecrets', () => {
  it('removes tokens, keys, credentials and secret assignments', () => {
    const text = [
      `token ${secrets.github}`,
      `export GH=${secrets.pat}`,
      `aws_access_key_id = ${secrets.aws}`,
      secrets.key,
      'Authorization: Bearer abcdefghijklmnop.qrstuvwxyz',
      'DB_PASSWORD="hunter2hunter2"',
      'postgres://app:s3cretpass@db:5432/app',
    ].join('\n');
    const { text: out, redactions } = redactSecrets(text);
    for (const value of [...Object.values(secrets), 'abcdefghijklmnop.qrstuvwxyz', 'hunter2hunter2', 's3cretpass']) {
      expect(out).not.toContain(value);
    }
    expect(out).toContain('postgres://app:[REDACTED:url-credentials]@db:5432/app');
    expect(Object.keys(redactions).length).toBeGreaterThanOrEqual(5);
  });
  it('leaves ordinary log lines alone', () => {
    const line = 'FAIL src/app.test.ts > adds numbers: expected 3 to be 4';
    expect(redactSecrets(line).text).toBe(line);
  });
});

describe('the redaction corpus', () => {
  it('has at least 60 secrets and 30 look-alikes, the probe list of issue 12 among them', () => {
    expect(SECRETS.length).toBeGreaterThanOrEqual(60);
    expect(LOOK_ALIKES.length).toBeGreaterThanOrEqual(30);
    const providers = SECRETS.map(([p]) => p).join('\n');
    for (const probe of ['quoted JSON password', 'Google API key', 'Stripe live secret key', 'GitLab PAT', 'npm token, bare', 'Hugging Face token', 'JWT', 'Slack incoming webhook', 'SendGrid API key', 'Docker Hub PAT', 'AWS secret access key, bare', 'Azure storage connection string', '--password value']) {
      expect(providers).toContain(probe);
    }
  });

  it.each(SECRETS.map(([provider, line, secret]) => ({ provider, line, secret })))('detects $provider', ({ line, secret }) => {
    const { text, redactions } = redactSecrets(line);
    expect(text).not.toContain(secret);
    expect(text).toMatch(/\[REDACTED:[a-z0-9-]+\]/);
    expect(Object.values(redactions).reduce((a, b) => a + b, 0)).toBe(text.match(/\[REDACTED:/g)!.length);
  });

  it.each(LOOK_ALIKES.map(([kind, line]) => ({ kind, line })))('leaves $kind unchanged', ({ line }) => {
    expect(redactSecrets(line)).toEqual({ text: line, redactions: {} });
  });

  it("drives secretlint's recommended rules exactly as @secretlint/core's lintSource does", async () => {
    const content = SECRETS.map(([, line]) => line).join('\n');
    const result = await lintSource({
      source: { content, filePath: 'ci.log', ext: '.log', contentType: 'text' },
      options: { config: { rules: [{ id: recommended.meta.id, rule: recommended }] } },
    });
    const theirs = result.messages
      .filter((m) => !m.ruleId.endsWith('filter-comments'))
      .map((m) => `${m.ruleId.replace('@secretlint/secretlint-rule-', '')}@${m.range[0]}-${m.range[1]}`)
      .sort();
    const ours = findWithPreset(content).map((f) => `${f.rule}@${f.start}-${f.end}`).sort();
    expect(theirs.length).toBeGreaterThan(20);
    expect(ours).toEqual(theirs);
    for (const rule of new Set(theirs.map((t) => t.split('@')[0]!))) expect(PRESET_RULE_NAMES).toContain(rule);
  });
});

describe('prompts', () => {
  it('fences untrusted text with a fence it cannot close', () => {
    const fenced = fenceUntrusted('log', 'a ```` b');
    expect(fenced.startsWith('`````log\n')).toBe(true);
    expect(fenced.endsWith('\n`````')).toBe(true);
  });
  it('redacts secrets in every part of the execute prompt', () => {
    const failure = {
      id: 'gh-job-1', provider: 'github', kind: 'job', event: 'check_run', owner: 'o', repo: 'r', repoId: 1, branch: 'main',
      headSha: 'b'.repeat(40), runId: null, runAttempt: null, jobId: 1, checkSuiteId: null, workflowName: null,
      jobName: `deploy ${secrets.github}`, checkName: 'deploy', appSlug: null, htmlUrl: null, conclusion: 'failure',
      failedSteps: [], outputText: `key ${secrets.aws}`, pullRequests: [], installationId: null, startedAt: null, completedAt: null,
    } satisfies CiFailure;
    const messages = buildExecutePrompt(failure, classifyFailure(failure), `password=${'x'.repeat(12)}`);
    const all = messages.map((m) => m.content).join('\n');
    expect(all).not.toContain(secrets.github);
    expect(all).not.toContain(secrets.aws);
    expect(all).not.toContain('x'.repeat(12));
    expect(all).toContain('untrusted');
  });
});
