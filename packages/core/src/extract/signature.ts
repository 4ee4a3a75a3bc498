import { createHash } from 'node:crypto';
import { stripAnsi } from './lines.ts';
import { scoreLine } from './score.ts';

/**
 * Normalizes excerpt text so two runs of the same breakage compare equal: ANSI codes, timestamps,
 * clock times, durations, UUIDs, hex ids and hashes, temporary names, `:line:col` positions and
 * numbers are replaced; paths are reduced to their file name; whitespace is collapsed. Line
 * structure is kept.
 */
export function normalizeForSignature(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) =>
      stripAnsi(line)
        .replace(/^\uFEFF?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ?/, '')
        .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>')
        .replace(/\b\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\b/g, '<time>')
        .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
        // Temporary files and directories: /tmp/…, macOS /var/folders/…, Windows %TEMP%, tmpXXXX names.
        .replace(/(?:\/tmp|\/var\/folders|\/private\/var|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp)[^\s'"`)]*/g, '<tmp>')
        .replace(/\b(?:tmp|temp)[\w.-]*/gi, '<tmp>')
        // Paths: keep the file name, drop directories (checkout roots differ between runners).
        .replace(/(?:[A-Za-z]:)?(?:[\w.@~+-]*[/\\])+([\w.@+-]+)/g, '$1')
        // Positions: file.ts:12:5, file.java:[12,5], file.cs(12,5), "line 12".
        .replace(/(?::\[?\d+(?:[,:]\d+)*\]?)+|\(\d+(?:,\d+)*\)|\bline \d+/g, '')
        .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b/gi, '<hex>')
        .replace(/\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\b/gi, '<dur>')
        .replace(/\d+(?:[.,]\d+)*/g, '<n>')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .join('\n');
}

/** Most key lines a signature is built from. */
const SIGNATURE_LINES = 12;

/**
 * A stable id for grouping failures that broke the same way: the sha256 (hex) of the category and
 * the excerpt's key lines after {@link normalizeForSignature}. Key lines are the excerpt's lines
 * with an error signal (header lines such as `error:`, exceptions, `FAIL`), de-duplicated, in
 * order, at most 12; with none, its last 12 non-blank lines. Context lines around them (which
 * tests ran nearby, progress output) are left out so that they do not split a group.
 */
export function failureSignature(category: string, excerpt: string): string {
  const all: string[] = [];
  const key: string[] = [];
  const seen = new Set<string>();
  for (const line of excerpt.split(/\r\n|\r|\n/)) {
    const text = normalizeForSignature(line);
    if (!text || text === '…') continue;
    all.push(text);
    const { score, role } = scoreLine(stripAnsi(line));
    if (score < 2 || role === 'context' || seen.has(text)) continue;
    seen.add(text);
    key.push(text);
  }
  const lines = key.length > 0 ? key.slice(0, SIGNATURE_LINES) : [...new Set(all)].slice(-SIGNATURE_LINES);
  return createHash('sha256').update(`${category}\n${lines.join('\n')}`).digest('hex');
}
