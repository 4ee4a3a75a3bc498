import { describe, expect, it } from 'vitest';
import { extractFailureContext } from './extract.ts';
import { keywordBaseline, tailBaseline } from './baselines.ts';
import { failureSignature, normalizeForSignature } from './signature.ts';
import { detectStructure } from './structure.ts';
import { parseLog } from './lines.ts';

const TS = '2026-11-25T10:00:00.0000000Z ';

/** A GitHub Actions log: set-up, a passing step, a failing step with a TS error, cleanup. */
function githubLog(noise = 300): string {
  const lines = [
    '##[group]Run actions/checkout@v4',
    'Syncing repository: acme/widgets',
    '##[endgroup]',
    '##[group]Run npm ci',
    ...Array.from({ length: noise }, (_, i) => `added package-${i}@1.0.${i} in 3ms`),
    '##[endgroup]',
    '##[group]Run npm run typecheck',
    '> widgets@1.0.0 typecheck',
    '> tsc --noEmit',
    'src/cart.ts(41,7): error TS2322: Type \'string\' is not assignable to type \'number\'.',
    '##[error]Process completed with exit code 2.',
    'Post job cleanup.',
    '[command]/usr/bin/git version',
    'Cleaning up orphan processes',
  ];
  return lines.map((l) => TS + l).join('\n');
}

describe('extractFailureContext', () => {
  it('finds the error in a GitHub Actions log, with raw line numbers and the failed step', () => {
    const log = githubLog();
    const context = extractFailureContext(log);
    const error = context.lines.find((l) => l.text.includes('error TS2322'));
    expect(error).toBeDefined();
    // Line numbers are 1-based positions in the raw log.
    expect(log.split('\n')[error!.number - 1]).toContain('error TS2322');
    expect(context.failedStep).toBe('Run npm run typecheck');
    expect(context.excerpt).not.toContain('2026-11-25T10:00:00');
    expect(context.totalLines).toBe(log.split('\n').length);
    // On a tight budget the error comes first; the passing step's noise is what is left out.
    const tight = extractFailureContext(log, { maxLines: 6 });
    expect(tight.excerpt).toContain('error TS2322');
    expect(tight.lines.filter((l) => l.text.startsWith('added package-'))).toEqual([]);
  });

  it('keeps within the line and byte budget, and says when it left lines out', () => {
    // Distinct errors (a repeat of one shape is not worth showing twice), more than fit.
    const name = (i: number) => String.fromCharCode(97 + (i % 26)) + String.fromCharCode(97 + Math.floor(i / 26));
    const many = Array.from({ length: 400 }, (_, i) => `src/${name(i)}.c:${i + 1}:5: error: use of undeclared identifier '${name(i)}'`);
    const log = ['$ make', ...many, 'make: *** [all] Error 1'].join('\n');
    for (const [maxLines, maxBytes] of [[80, 8192], [20, 8192], [200, 2048]] as const) {
      const context = extractFailureContext(log, { maxLines, maxBytes });
      expect(context.lines.length).toBeLessThanOrEqual(maxLines);
      expect(Buffer.byteLength(context.excerpt)).toBeLessThanOrEqual(maxBytes);
      expect(context.truncated).toBe(true);
    }
  });

  it('strips ANSI codes and handles \\r\\n, \\r and Travis fold markers', () => {
    const log = [
      'travis_fold:start:install\r\n$ bundle install\r\nFetching gems\r\ntravis_fold:end:install\r\n',
      '$ bundle exec rspec\r\n',
      'Progress 10%\rProgress 100%\r\n',
      '\x1b[31mFailures:\x1b[0m\r\n',
      '  1) Cart#total adds tax\r\n',
      '     Failure/Error: expect(cart.total).to eq(110)\r\n',
      '       expected: 110\r\n',
      '            got: 100\r\n',
      'The command "bundle exec rspec" exited with 1.\r\n',
    ].join('');
    const context = extractFailureContext(log);
    expect(context.excerpt).not.toMatch(/\x1b\[/);
    expect(context.excerpt).toContain('Failure/Error: expect(cart.total).to eq(110)');
    expect(context.excerpt).toContain('got: 100');
    expect(context.failedStep).toBe('bundle exec rspec');
  });

  it('with a passing log, drops what the passing run also printed', () => {
    // Twenty error-looking lines near the end that the passing run printed too, and one error of
    // its own far above them: only the passing log tells them apart.
    const name = (i: number) => String.fromCharCode(97 + i) + String.fromCharCode(98 + i);
    const shared = Array.from({ length: 20 }, (_, i) => `ERROR: optional plugin ${name(i)} not found, skipping`);
    const filler = Array.from({ length: 100 }, (_, i) => `compiling module ${i}`);
    const fail = ['setup', 'Error: connection to db refused', ...filler, ...shared, 'exit status 1'].join('\n');
    const pass = ['setup', ...filler, ...shared, 'done'].join('\n');
    const plugins = (lines: { text: string }[]) => lines.filter((l) => l.text.startsWith('ERROR: optional plugin')).length;
    const alone = extractFailureContext(fail, { maxLines: 10 });
    expect(alone.excerpt).not.toContain('connection to db refused');
    const diffed = extractFailureContext(fail, { passLog: pass, maxLines: 10 });
    expect(diffed.excerpt).toContain('Error: connection to db refused');
    expect(diffed.excerpt).toContain('exit status 1');
    expect(plugins(diffed.lines)).toBeLessThan(plugins(alone.lines));
  });

  it('never lets a secret out of the excerpt', () => {
    const token = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
    const aws = 'AKIA' + 'IOSFODNN7EXAMPLE';
    const log = [
      '$ ./deploy.sh',
      `curl -H "Authorization: Bearer ${token}" https://api.example.com`,
      `export AWS_ACCESS_KEY_ID=${aws}`,
      'password=hunter2hunter2',
      'Error: deploy failed: 401 Unauthorized',
      'The command "./deploy.sh" exited with 1.',
    ].join('\n');
    const context = extractFailureContext(log);
    expect(context.excerpt).toContain('Error: deploy failed');
    for (const secret of [token, aws, 'hunter2hunter2']) {
      expect(context.excerpt).not.toContain(secret);
      expect(context.lines.some((l) => l.text.includes(secret))).toBe(false);
    }
    expect(Object.values(context.redactions).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
  });

  it('returns an empty excerpt for an empty log', () => {
    const context = extractFailureContext('');
    expect(context.lines).toEqual([]);
    expect(context.truncated).toBe(false);
  });
});

describe('GitHub Actions steps', () => {
  /** A job whose failed step's header has a script, shell and env, followed by a post step. */
  function stepLog(): string {
    const lines = [
      '##[group]Run actions/setup-node@v4',
      'with:',
      '  node-version: 20',
      '##[endgroup]',
      ...Array.from({ length: 40 }, (_, i) => `Attempting to download ${i}...`),
      '##[group]Run yarn prettier-check',
      '\u001b[36;1myarn prettier-check\u001b[0m',
      '\u001b[36;1mecho done\u001b[0m',
      'shell: /usr/bin/bash -e {0}',
      'env:',
      '  TZ: /usr/share/zoneinfo/UTC',
      '##[endgroup]',
      'yarn run v1.22.22',
      'This project uses prettier to format all JavaScript code.',
      'packages/a/src/b.js',
      'error Command failed with exit code 1.',
      '##[error]Process completed with exit code 1.',
      '##[group]Run actions/upload-artifact@v4',
      'Uploading 3 files',
      'Artifact uploaded',
    ];
    return lines.map((l) => TS + l).join('\n');
  }

  it('shows the failed step\'s command but not its shell and env settings', () => {
    const context = extractFailureContext(stepLog());
    const texts = context.lines.map((l) => l.text);
    expect(texts).toContain('##[group]Run yarn prettier-check');
    expect(texts).toContain('yarn prettier-check');
    expect(texts).toContain('error Command failed with exit code 1.');
    expect(texts.some((t) => t.startsWith('shell:') || t.startsWith('env:') || t.includes('TZ:'))).toBe(false);
  });

  it('keeps windows inside the failed step: neither the step before nor the step after pads them', () => {
    const structure = detectStructure(parseLog(stepLog()));
    expect(structure.steps.map((s) => s.name)).toEqual(['Set up job', 'Run actions/setup-node@v4', 'Run yarn prettier-check', 'Run actions/upload-artifact@v4']);
    const failed = structure.steps[2]!;
    expect(failed.header).toEqual({ start: 44, end: 50 });
    expect(failed.command).toEqual({ start: 44, end: 46 });
    const texts = extractFailureContext(stepLog()).lines.map((l) => l.text);
    expect(texts.some((t) => t.startsWith('Attempting to download') || t.startsWith('Uploading'))).toBe(false);
  });
});

describe('repeated lines in a window', () => {
  it('hides a recursive stack\'s repeated frames behind one marker and spends the budget on new lines', () => {
    const cycle = ['  at Scanner.scan (Scanner.java:184)', '  at Scanner.visit (Scanner.java:676)', '  at Package.accept (Package.java:88)'];
    const lines = [
      ...Array.from({ length: 50 }, (_, i) => `[INFO] Compiling module ${i}`),
      '[ERROR] No space left on device',
      'java.io.IOException: No space left on device',
      ...Array.from({ length: 20 }, () => cycle).flat(),
      '  at Launcher.main (Launcher.java:356)',
      '[INFO] BUILD FAILURE',
    ];
    const context = extractFailureContext(lines.join('\n'), { maxLines: 12 });
    const texts = context.lines.map((l) => l.text);
    expect(texts.filter((t) => t.includes('Scanner.scan'))).toHaveLength(1);
    expect(texts).toContain('  at Launcher.main (Launcher.java:356)');
    expect(context.excerpt).toMatch(/… 57 repeated lines\n {2}at Launcher\.main/);
    // The marker is not a log line: numbered lines stay the raw log's.
    for (const line of context.lines) expect(lines[line.number - 1]).toBe(line.text);
  });
});

describe('detectStructure', () => {
  it('marks the failed GitHub step up to its exit line and the cleanup after it', () => {
    const lines = parseLog(githubLog(5));
    const structure = detectStructure(lines);
    expect(structure.flavour).toBe('github');
    expect(structure.failed).toHaveLength(1);
    expect(lines[structure.failed[0]!.end]!.text).toContain('Process completed with exit code 2');
    expect(structure.after).not.toBeNull();
  });
});

describe('baselines', () => {
  it('keyword search takes matching lines, tail takes the last lines, both within budget', () => {
    const log = ['start', 'Error: boom', ...Array.from({ length: 100 }, (_, i) => `line ${i}`), 'done'].join('\n');
    const keyword = keywordBaseline(log, { maxLines: 10, maxBytes: 8192 });
    expect(keyword.lines.map((l) => l.text)).toContain('Error: boom');
    const tail = tailBaseline(log, { maxLines: 10, maxBytes: 8192 });
    expect(tail.lines.length).toBeLessThanOrEqual(10);
    expect(tail.lines.at(-1)!.text).toBe('done');
    expect(tail.lines.some((l) => l.text === 'Error: boom')).toBe(false);
  });
});

describe('failure signatures', () => {
  it('ignore timestamps, temp paths, durations, ids and line positions, but not the error', () => {
    const a = '2026-11-24T10:00:01Z /tmp/tmpab12/x.py:12:3: error: name "foo" is not defined (took 1.2s) run 5c3f9a1e';
    const b = '2026-11-25T08:13:44Z /tmp/tmpzz99/x.py:40:1: error: name "foo" is not defined (took 3.4s) run 77aa00bc';
    expect(normalizeForSignature(a)).toBe(normalizeForSignature(b));
    expect(failureSignature('test', a)).toBe(failureSignature('test', b));
    expect(failureSignature('test', a)).not.toBe(failureSignature('lint', a));
    expect(failureSignature('test', a)).not.toBe(failureSignature('test', a.replace('"foo"', '"bar"')));
    expect(failureSignature('test', a)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('excerptLineNumbers', () => {
  it('numbers each shown line with its log line and leaves the gap markers unnumbered', async () => {
    const { extractFailureContext, excerptLineNumbers, GAP } = await import('./index.ts');
    const log = [
      ...Array.from({ length: 60 }, (_, i) => `compiling module ${i}`),
      'src/a.ts(3,1): error TS2304: Cannot find name x.',
      ...Array.from({ length: 60 }, (_, i) => `noise ${i}`),
      '##[error]Process completed with exit code 2.',
    ].join('\n');
    const ctx = extractFailureContext(log, { failedStep: null });
    const numbers = excerptLineNumbers(ctx.excerpt, ctx.lines);
    const text = ctx.excerpt.split('\n');
    expect(numbers).toHaveLength(text.length);
    expect(numbers[text.findIndex((l) => l.includes('TS2304'))]).toBe(61);
    expect(numbers[text.findIndex((l) => l.includes('exit code 2'))]).toBe(122);
    text.forEach((line, i) => expect(numbers[i] === null).toBe(line.startsWith(GAP)));
  });
});
