import { writeFileSync } from 'node:fs';
import { lintSource } from '@secretlint/core';
import { creator as recommended } from '@secretlint/secretlint-rule-preset-recommend';
import { redactSecrets } from '@pitcrew/core';
import { SECRETS } from '@pitcrew/core/redact-corpus';
import { renderTable } from '../table.ts';
import { machineInfo, percentile, round } from './infra.ts';

/** p50/p99/mean of one variant on one input, ms. */
export interface RedactFigures {
  runs: number;
  p50: number;
  p99: number;
  mean: number;
}

/** What `pitcrew bench redact` measures and writes as JSON. */
export interface RedactBenchResult {
  bench: 'redact';
  machine: ReturnType<typeof machineInfo>;
  inputs: { excerptBytes: number; logBytes: number; secretsInLog: number };
  /** `pitcrew`: `redactSecrets` (secretlint's rules driven synchronously, plus ours); `secretlint`: `lintSource` of @secretlint/core with the same preset (detection only, no replacement). */
  excerpt: { pitcrew: RedactFigures; secretlint: RedactFigures; ratio: number };
  log: { pitcrew: RedactFigures; secretlint: RedactFigures; ratio: number };
  target: string;
}

/**
 * A CI log of about `bytes` bytes: GitHub Actions–style timestamped lines of a test run (npm,
 * vitest, stack traces, a diff), with one corpus secret every 97 lines. Deterministic.
 */
export function benchLog(bytes: number): { text: string; secrets: number } {
  const shapes = [
    (i: number) => `2026-12-02T10:${String(i % 60).padStart(2, '0')}:00.${String(i % 1000).padStart(7, '0')}Z  ✓ src/module-${i % 97}.test.ts > computes case ${i} (3 ms)`,
    (i: number) => `2026-12-02T10:${String(i % 60).padStart(2, '0')}:01.0000000Z      at Object.<anonymous> (/home/runner/work/app/app/src/lib/util-${i % 13}.ts:${i % 400}:17)`,
    (i: number) => `2026-12-02T10:${String(i % 60).padStart(2, '0')}:02.0000000Z  npm warn deprecated package-${i % 31}@1.${i % 9}.${i % 7}: use package-next; integrity sha512-${'AbCdEf0123456789'.repeat(5)}==`,
    (i: number) => `2026-12-02T10:${String(i % 60).padStart(2, '0')}:03.0000000Z  - expected ${i} to be ${i + 1} // commit 4b825dc642cb6eb9a060e54bf8d69288fbee${String(i % 10000).padStart(4, '0')}`,
  ];
  const lines: string[] = [];
  let size = 0;
  let secrets = 0;
  for (let i = 0; size < bytes; i++) {
    const line = i % 97 === 50 ? SECRETS[secrets++ % SECRETS.length]![1] : shapes[i % shapes.length]!(i);
    lines.push(line);
    size += Buffer.byteLength(line) + 1;
  }
  return { text: lines.join('\n'), secrets };
}

function figures(samples: number[]): RedactFigures {
  return { runs: samples.length, p50: round(percentile(samples, 50), 3), p99: round(percentile(samples, 99), 3), mean: round(samples.reduce((a, b) => a + b, 0) / samples.length, 3) };
}

/**
 * `pitcrew bench redact`: `redactSecrets` against secretlint's own `lintSource` on the same
 * text, in alternating blocks, on an 8 KiB excerpt (the size a prompt carries) and a 1 MiB log.
 *
 * @param options.runs measured runs per variant on the excerpt (the log gets a tenth, at least 10)
 */
export async function runRedactBench(options: { runs: number; json?: string; onProgress?: (line: string) => void }): Promise<RedactBenchResult> {
  const excerpt = benchLog(8 * 1024).text.slice(0, 8 * 1024);
  const log = benchLog(1024 * 1024);
  const config = { rules: [{ id: recommended.meta.id, rule: recommended }] };
  const lint = (content: string) => lintSource({ source: { content, filePath: 'ci.log', ext: '.log', contentType: 'text' }, options: { config } });
  // Alternating blocks rather than run-by-run interleaving: lintSource allocates far more than
  // redactSecrets, and interleaved single runs bill its garbage collections to whichever variant
  // runs next (measured: p99 9.8 ms interleaved vs 0.7 ms in blocks for the same 8 KiB excerpt).
  const measure = async (text: string, runs: number, label: string) => {
    const ours: number[] = [];
    const theirs: number[] = [];
    const blocks = 10;
    const perBlock = Math.max(1, Math.ceil(runs / blocks));
    const warmup = Math.max(5, Math.floor(runs / 10));
    for (let i = 0; i < warmup; i++) {
      redactSecrets(text);
      await lint(text);
    }
    for (let block = 0; block < blocks; block++) {
      for (let i = 0; i < perBlock; i++) {
        const t = performance.now();
        redactSecrets(text);
        ours.push(performance.now() - t);
      }
      for (let i = 0; i < perBlock; i++) {
        const t = performance.now();
        await lint(text);
        theirs.push(performance.now() - t);
      }
      options.onProgress?.(`${label}: block ${block + 1}/${blocks} (${perBlock} runs per variant)`);
    }
    const pitcrew = figures(ours);
    const secretlint = figures(theirs);
    return { pitcrew, secretlint, ratio: round(pitcrew.p50 / secretlint.p50, 2) };
  };
  const excerptFigures = await measure(excerpt, options.runs, '8 KiB excerpt');
  const logFigures = await measure(log.text, Math.max(10, Math.floor(options.runs / 10)), '1 MiB log');
  const result: RedactBenchResult = {
    bench: 'redact',
    machine: machineInfo(),
    inputs: { excerptBytes: Buffer.byteLength(excerpt), logBytes: Buffer.byteLength(log.text), secretsInLog: log.secrets },
    excerpt: excerptFigures,
    log: logFigures,
    target: `8 KiB excerpt p99 <= 2 ms (${excerptFigures.pitcrew.p99 <= 2 ? 'met' : 'NOT met'}: ${excerptFigures.pitcrew.p99} ms)`,
  };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The table `pitcrew bench redact` prints. */
export function renderRedactTable(result: RedactBenchResult): string {
  const row = (input: string, v: RedactBenchResult['excerpt']) => [
    [input, 'pitcrew redactSecrets', v.pitcrew.p50, v.pitcrew.p99, v.pitcrew.mean, v.ratio],
    [input, 'secretlint lintSource', v.secretlint.p50, v.secretlint.p99, v.secretlint.mean, 1],
  ];
  return [
    renderTable(['input', 'variant', 'p50 ms', 'p99 ms', 'mean ms', 'p50 ÷ secretlint'], [...row('8 KiB excerpt', result.excerpt), ...row('1 MiB log', result.log)]),
    `target: ${result.target}`,
  ].join('\n');
}
