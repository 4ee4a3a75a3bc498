import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCiDiff, loadLogChunks, parseGroundtruth } from './datasets.ts';
import { chunkRecall, cidiffScore, indexExcerpt } from './metrics.ts';
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
