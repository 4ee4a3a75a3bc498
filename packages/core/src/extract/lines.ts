/**
 * Line handling shared by the extractor, the baselines and signatures: splitting a raw CI log into
 * numbered lines, cleaning a line for display (ANSI codes, GitHub Actions timestamps), and
 * normalizing the parts that change from run to run (for pass/fail comparison and signatures).
 */

/** One physical line of a raw log. */
export interface RawLine {
  /** 1-based line number in the raw log. */
  number: number;
  /** The line as CI emitted it, without its terminator. */
  raw: string;
  /** Display text: ANSI codes, control characters, a leading timestamp and trailing spaces removed. */
  text: string;
  /**
   * The line ended with a bare `\r` and the next line has text: a terminal would overwrite it
   * (progress bars, Travis `\r\x1b[0K` redraws).
   */
  overwritten: boolean;
}

/**
 * Splits on `\r\n`, `\n` or a bare `\r`, like Java's `BufferedReader.readLine` (the numbering the
 * CiDiff ground truth uses). A terminator at the very end does not start an extra line.
 */
export function splitRawLines(log: string): { raw: string; cr: boolean }[] {
  const out: { raw: string; cr: boolean }[] = [];
  const re = /\r\n|\r|\n/g;
  let start = 0;
  for (let m = re.exec(log); m; m = re.exec(log)) {
    out.push({ raw: log.slice(start, m.index), cr: m[0] === '\r' });
    start = m.index + m[0].length;
  }
  if (start < log.length) out.push({ raw: log.slice(start), cr: false });
  return out;
}

/**
 * ECMA-48 escape sequences: CSI (`ESC [ … final`, also the 8-bit `\x9b`), OSC (`ESC ] … BEL/ST`),
 * charset designations (`ESC ( B`) and two-character sequences (`ESC =`, `ESC >`, `ESC 7`).
 */
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()*+#%][ -~]|\x1b[ -/]*[0-~]/g;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

/** Removes ANSI escape sequences and other control characters (tabs are kept). */
export function stripAnsi(text: string): string {
  if (!/[\x00-\x08\x0b-\x1f\x7f\x9b]/.test(text)) return text;
  return text.replace(ANSI, '').replace(CONTROL, '');
}

/** The ISO-8601 timestamp GitHub Actions puts before every log line (`2024-01-02T03:04:05.1234567Z `). */
const GITHUB_TIMESTAMP = /^\uFEFF?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ?/;

/** Display text of one raw line: no ANSI, no control characters, no leading timestamp, no trailing spaces. */
export function cleanLine(raw: string): string {
  const clean = stripAnsi(raw).replace(GITHUB_TIMESTAMP, '').replace(/^\uFEFF/, '');
  return (clean.includes('^[') ? clean.replace(CARET_ANSI, '') : clean).trimEnd();
}

/**
 * SGR sequences whose escape byte was written in caret notation (`^[[31m`, as `cat -v` and some
 * log exporters render ESC): 3150 of the 6669 lines of a pip job log in LogDx-CI carry them.
 */
const CARET_ANSI = /\^\[\[[0-9;]*[A-Za-z]/g;

/** Splits and cleans a raw log; see {@link RawLine}. */
export function parseLog(log: string): RawLine[] {
  const split = splitRawLines(log);
  const texts = split.map(({ raw }) => cleanLine(raw));
  return split.map(({ raw, cr }, i) => ({
    number: i + 1,
    raw,
    text: texts[i]!,
    overwritten: cr && i + 1 < texts.length && texts[i + 1]!.trim() !== '',
  }));
}

/**
 * Replaces what varies between two runs of the same job with placeholders, so equal lines compare
 * equal: timestamps and clock times, durations, UUIDs and hex ids, temporary paths, numbers.
 * Used to match a failed log's lines against its passing run (the CiDiff technique) and for signatures.
 */
export function normalizeVolatile(text: string): string {
  // Everything replaced below contains a digit or a "tmp"/"temp" name.
  if (!/[0-9]|te?mp/i.test(text)) return text.replace(/\s+/g, ' ').trim();
  return text
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<time>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/(?:\/tmp|\/var\/folders|\/private\/var|[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp)[^\s'"`:)]*/g, '<tmp>')
    .replace(/\b(?:tmp|temp)[\w.-]*\d[\w.-]*/gi, '<tmp>')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b/gi, '<hex>')
    .replace(/\b\d+(?:\.\d+)?\s?(?:ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\b/gi, '<dur>')
    .replace(/\d+(?:[.,]\d+)*/g, '0')
    .replace(/\s+/g, ' ')
    .trim();
}
