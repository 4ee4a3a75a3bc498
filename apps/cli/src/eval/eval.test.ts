import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCiDiff, loadLogChunks, parseGroundtruth } from './datasets.ts';
import { chunkRecall, cidiffScore, indexExcerpt } from './metrics.ts';
import { diagnosisScore, loadLogDx, pitcrewCategoryOf, signalScore } from './logdx.ts';
import { runEval } from './run-eval.ts';

const root = mkdtempSync(join(tmpdir(), 'pitcrew-eval-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const filler = (n: number, word: string) => Array.from({ length: n }, (_, i) => `${word} step ${i} ok`);

/**
 * Two LogChunks-layout logs: one whose explanation sits in the middle (tail misses it, keyword
 * finds it), one whose explanation is at the end and has no keyword (tail finds it).
 */
function writeLogChunks(dir: string): void {
  mkdirSync(join(dir, 'logs/Go/acme@app/failed'), { recursive: true });
  const middle = ['--- FAIL: TestCart (0.01s)', '    cart_test.go:12: total = 100, want 110'];
  writeFileSync(join(dir, 'logs/Go/acme@app/failed/1.log'), [...filler(50, 'build'), ...middle, ...filler(200, 'lint'), 'exit status 1'].join('\n'));
  const end = ['panic: runtime says no', 'goroutine 1 [running]:'];
  writeFileSync(join(dir, 'logs/Go/acme@app/failed/2.log'), [...filler(300, 'build'), ...end].join('\n'));
  writeFileSync(
    join(dir, 'labels.jsonl'),
    [
      JSON.stringify({ log: 'logs/Go/acme@app/failed/1.log', repo: 'acme@app', chunk: middle.join('\n') }),
      '',
      JSON.stringify({ log: 'logs/Go/acme@app/failed/2.log', repo: 'acme@app', chunk: '\x1b[31m' + end.join('\n') }),
    ].join('\n'),
  );
}

/** One CiDiff-layout case, nested like `breakages_dump/<workflow>/<run>/`. */
function writeCiDiff(dir: string): void {
  const caseDir = join(dir, 'breakages_dump/ci/42');
  mkdirSync(caseDir, { recursive: true });
  const shared = filler(100, 'setup');
  writeFileSync(join(caseDir, 'fail.log'), [...shared, 'error: linker `cc` not found', '  = note: No such file or directory', 'done'].join('\n'));
  writeFileSync(join(caseDir, 'pass.log'), [...shared, 'done'].join('\n'));
  writeFileSync(join(caseDir, 'groundtruth'), 'DEFAULT\nE 101\nC 102\n');
}

describe('eval data sets and metrics', () => {
  it('parses groundtruth flavours, single lines and ranges', () => {
    expect(parseGroundtruth('RAW_GITHUB\nE 3-5\nE 9\nC 2\nnoise\n')).toEqual({ flavour: 'RAW_GITHUB', error: [3, 4, 5, 9], context: [2] });
    expect(parseGroundtruth('E 1\n').flavour).toBeNull();
  });

  it('chunk recall counts labelled lines present in the excerpt, ANSI and partial lines included', () => {
    const excerpt = indexExcerpt([{ text: '\x1b[31mFAIL: a\x1b[0m' }, { text: '  at x.go:3 extra' }]);
    expect(chunkRecall('FAIL: a\nat x.go:3\nmissing line', excerpt)).toBeCloseTo(2 / 3);
    expect(chunkRecall('', excerpt)).toBe(1);
  });

  it('CiDiff recall by line number and by repeated text, precision over E and C lines', () => {
    const failLines = ['a', 'error x', 'b', 'error x'];
    const score = cidiffScore({ flavour: null, error: [2], context: [3] }, failLines, [
      { number: 4, text: 'error x' },
      { number: 3, text: 'b' },
    ]);
    expect(score).toEqual({ recall: 1, lineRecall: 0, precision: 0.5 });
  });

  it('loads any directory in the LogChunks and CiDiff layouts', () => {
    const lc = join(root, 'lc');
    const cd = join(root, 'cd');
    writeLogChunks(lc);
    writeCiDiff(cd);
    expect(loadLogChunks(lc).map((c) => c.id)).toEqual(['logs/Go/acme@app/failed/1.log', 'logs/Go/acme@app/failed/2.log']);
    expect(loadCiDiff(cd).map((c) => c.id)).toEqual(['breakages_dump/ci/42']);
    expect(() => loadLogChunks(cd)).toThrow(/no labels.jsonl/);
  });

  it('scores pitcrew and both baselines, at the budget and twice the budget', () => {
    const lc = join(root, 'lc2');
    const cd = join(root, 'cd2');
    writeLogChunks(lc);
    writeCiDiff(cd);
    const report = runEval({ logchunks: lc, cidiff: cd, budget: { maxLines: 20, maxBytes: 4096 } });
    const logchunks = report.logchunks!;
    expect(logchunks.pitcrew).toMatchObject({ cases: 2, hits: 2, hitRate: 1 });
    // Tail shows only the end: it misses the explanation in the middle of log 1.
    expect(logchunks.tail).toMatchObject({ hits: 1, hitRate: 0.5 });
    // Keyword search finds `FAIL` in log 1 and `panic` nowhere (not a keyword); 2 has no keyword line.
    expect(logchunks.keyword.hits).toBe(1);
    expect(logchunks.pitcrew.meanLines).toBeLessThanOrEqual(20);
    expect(report.budget2x.budget).toEqual({ maxLines: 40, maxBytes: 8192 });
    const cidiff = report.cidiff!;
    expect(cidiff.pitcrew).toMatchObject({ cases: 1, recall: 1, lineRecall: 1 });
    expect(cidiff.tail.recall).toBe(1);
    expect(report.misses.logchunks).toEqual([]);
  });

  it('pitcrew eval writes the JSON report and prints the table', async () => {
    const lc = join(root, 'lc3');
    const cd = join(root, 'cd3');
    writeLogChunks(lc);
    writeCiDiff(cd);
    const out = join(root, 'report.json');
    const bin = fileURLToPath(new URL('../../bin/pitcrew.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'eval', '--logchunks', lc, '--cidiff', cd, '--json', out], {
      timeout: 20_000,
    });
    expect(stdout).toMatch(/logchunks\s*│\s*pitcrew/);
    expect(stdout).toMatch(/cidiff\s*│\s*keyword/);
    const json = JSON.parse(readFileSync(out, 'utf8'));
    for (const method of ['pitcrew', 'keyword', 'tail']) {
      expect(Object.keys(json.logchunks[method])).toEqual(expect.arrayContaining(['cases', 'hitRate', 'meanRecall', 'meanLines', 'meanBytes']));
      expect(Object.keys(json.cidiff[method])).toEqual(expect.arrayContaining(['cases', 'recall', 'precision', 'meanLines']));
    }
  });
});

/** One LogDx-layout case: a GitHub Actions log whose pytest failure follows a network cause. */
function writeLogDx(dir: string): void {
  const caseDir = join(dir, 'dev/pytest-demo-001');
  mkdirSync(caseDir, { recursive: true });
  const lines = [
    ...filler(200, 'setup'),
    '##[group]Run pytest tests',
    'pytest tests',
    '##[endgroup]',
    'ERROR: Could not install packages due to an OSError: Max retries exceeded with url: /pkg.zip',
    ...filler(100, 'collect'),
    'FAILED tests/test_net.py::test_install - AssertionError: Script returned code: 1',
    '==== 1 failed, 99 passed in 3.21s ====',
    '##[error]Process completed with exit code 1.',
  ];
  writeFileSync(join(caseDir, 'fail.log'), lines.join('\n'));
  const at = (text: string) => lines.indexOf(text) + 1;
  writeFileSync(
    join(caseDir, 'ground_truth.json'),
    JSON.stringify({
      root_cause: { summary: 'network', category: 'network_or_flaky' },
      required_signals: [
        { type: 'exception', value: 'Max retries exceeded with url: /pkg.zip', importance: 'critical', evidence_lines: [[at(lines[204]!), at(lines[204]!)]] },
        { type: 'failed_test', value: 'tests/test_net.py::test_install', importance: 'critical', evidence_lines: [[306, 306]] },
        { type: 'assertion', value: 'not in the log at all', importance: 'optional', evidence_lines: [[10, 10]] },
      ],
      evidence_spans: [{ start_line: 305, end_line: 308 }],
      expected_diagnosis: { must_mention: ['test_install', 'Max retries', 'a term nobody writes'], must_not_claim: ['compile error'] },
    }),
  );
  writeFileSync(join(caseDir, 'case.json'), JSON.stringify({ case_id: 'pytest-demo-001', repo: 'acme/app', workflow_name: 'CI', job_name: 'tests' }));
}

describe('LogDx-CI reader and metrics', () => {
  it('reads cases at any depth with their signals, spans and expected diagnosis', () => {
    const dir = join(root, 'logdx-read');
    writeLogDx(dir);
    const [c] = loadLogDx(dir);
    expect(c).toMatchObject({ id: 'dev/pytest-demo-001', repo: 'acme/app', jobName: 'tests', category: 'network_or_flaky', mustNotClaim: ['compile error'] });
    expect(c!.signals).toHaveLength(3);
    expect([...c!.relevant].sort((a, b) => a - b)).toEqual([10, 205, 305, 306, 307, 308]);
    expect(pitcrewCategoryOf('network_or_flaky')).toBe('infrastructure');
    expect(pitcrewCategoryOf('permission_or_secret')).toBe('permission');
    expect(pitcrewCategoryOf('no_such_category')).toBe('unknown');
  });

  it('names the file of a malformed ground truth', () => {
    const dir = join(root, 'logdx-bad/case');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'fail.log'), 'x');
    writeFileSync(join(dir, 'case.json'), '{}');
    writeFileSync(join(dir, 'ground_truth.json'), JSON.stringify({ root_cause: {}, required_signals: [] }));
    expect(() => loadLogDx(join(root, 'logdx-bad'))).toThrow(/ground_truth\.json: root_cause\.category/);
  });

  it('signal recall by lines or by repeated text, by importance; precision over spans and signal lines', () => {
    const dir = join(root, 'logdx-score');
    writeLogDx(dir);
    const [c] = loadLogDx(dir);
    const failLines = readFileSync(c!.failPath, 'utf8').split('\n');
    const score = signalScore(c!, failLines, [
      { number: 306, text: failLines[305]! },
      { number: 999, text: 'again: Max retries exceeded with url: /pkg.zip' },
      { number: 50, text: 'setup step 48 ok' },
    ]);
    expect(score).toEqual({ recall: 2 / 3, criticalRecall: 1, importantRecall: 1, precision: 1 / 3 });
    expect(signalScore(c!, failLines, []).criticalRecall).toBe(0);
  });

  it('must-mention coverage and must-not-claim violations, case-insensitive', () => {
    const dir = join(root, 'logdx-diag');
    writeLogDx(dir);
    const [c] = loadLogDx(dir);
    expect(diagnosisScore(c!, 'test_install failed: max retries hit. Not a Compile Error.')).toEqual({ mustMention: 2 / 3, violations: ['compile error'] });
  });

  it('runEval scores pitcrew, keyword and tail on LogDx, with category and the rules diagnosis', () => {
    const dir = join(root, 'logdx-run');
    writeLogDx(dir);
    const report = runEval({ logdx: dir, budget: { maxLines: 20, maxBytes: 4096 } });
    const pitcrew = report.logdx!.pitcrew;
    expect(pitcrew.cases).toBe(1);
    expect(pitcrew.criticalRecall).toBe(1);
    expect(pitcrew.categoryAccuracy).toBe(1);
    expect(pitcrew.mustMention).toBeCloseTo(2 / 3);
    expect(pitcrew.mustNotClaimViolations).toBe(0);
    expect(report.logdx!.tail.criticalRecall).toBeLessThan(1);
    expect(report.budget2x.logdx!.pitcrew.cases).toBe(1);
  });
});
