import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** One labelled LogChunks log: the failed log's path and the chunk that explains the failure. */
export interface LogChunksCase {
  /** `log` as written in labels.jsonl (path relative to the data set directory). */
  id: string;
  logPath: string;
  repo: string | null;
  chunk: string;
}

/** One CiDiff breakage: failed log, nearest passing log, and the labelled line numbers. */
export interface CiDiffCase {
  /** The case directory relative to the data set directory. */
  id: string;
  failPath: string;
  passPath: string | null;
  groundtruth: CiDiffGroundtruth;
}

/** A parsed CiDiff `groundtruth` file. */
export interface CiDiffGroundtruth {
  /** First line of the file: `DEFAULT`, `RAW_GITHUB`, `FULL_GITHUB`, or `null` when absent. */
  flavour: string | null;
  /** 1-based line numbers of the error message in fail.log (`E a-b`, `E n`). */
  error: number[];
  /** 1-based line numbers of helpful context (`C a-b`, `C n`). */
  context: number[];
}

/**
 * Loads a LogChunks-layout directory: `labels.jsonl` with one `{log, chunk, repo?, …}` object per
 * line, `log` relative to the directory. Blank lines are skipped.
 *
 * @throws Error naming the directory when `labels.jsonl` is missing, and the line when a label is malformed
 */
export function loadLogChunks(dir: string): LogChunksCase[] {
  const root = resolve(dir);
  const labelsPath = join(root, 'labels.jsonl');
  if (!existsSync(labelsPath)) throw new Error(`${root} is not a LogChunks directory: no labels.jsonl in it`);
  const cases: LogChunksCase[] = [];
  readFileSync(labelsPath, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let label: unknown;
      try {
        label = JSON.parse(line);
      } catch (error) {
        throw new Error(`${labelsPath}:${i + 1}: not JSON`, { cause: error });
      }
      const { log, chunk, repo } = (label ?? {}) as { log?: unknown; chunk?: unknown; repo?: unknown };
      if (typeof log !== 'string' || typeof chunk !== 'string') {
        throw new Error(`${labelsPath}:${i + 1}: expected string fields "log" and "chunk"`);
      }
      cases.push({ id: log, logPath: resolve(root, log), repo: typeof repo === 'string' ? repo : null, chunk });
    });
  return cases;
}

/**
 * Parses a CiDiff `groundtruth` file: an optional flavour line, then `E`/`C` lines with a 1-based
 * line number or an inclusive range (`E 12`, `E 12-20`, `C 11`). Other lines are ignored.
 */
export function parseGroundtruth(text: string): CiDiffGroundtruth {
  const lines = text.split(/\r\n|\r|\n/);
  const first = lines[0]?.trim() ?? '';
  const flavour = first && !/^[EC]\s+\d/.test(first) ? first : null;
  const error = new Set<number>();
  const context = new Set<number>();
  for (const line of lines) {
    const match = /^\s*([EC])\s+(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(line);
    if (!match) continue;
    const from = Number(match[2]);
    const to = match[3] ? Number(match[3]) : from;
    const target = match[1] === 'E' ? error : context;
    for (let n = Math.min(from, to); n <= Math.max(from, to); n++) target.add(n);
  }
  return { flavour, error: [...error].sort((a, b) => a - b), context: [...context].sort((a, b) => a - b) };
}

/**
 * Loads a CiDiff-layout directory: every directory at any depth below `dir` (or `dir` itself)
 * holding `fail.log` and `groundtruth` is a case; `pass.log` beside them is optional. This covers
 * both `breakages/<case>/` and `breakages_dump/<workflow>/<run>/`. Cases are sorted by id.
 *
 * @throws Error when `dir` does not exist
 */
export function loadCiDiff(dir: string): CiDiffCase[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`${root} is not a directory`);
  const cases: CiDiffCase[] = [];
  const visit = (current: string) => {
    const entries = readdirSync(current, { withFileTypes: true });
    const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (names.has('fail.log') && names.has('groundtruth')) {
      cases.push({
        id: relative(root, current) || '.',
        failPath: join(current, 'fail.log'),
        passPath: names.has('pass.log') ? join(current, 'pass.log') : null,
        groundtruth: parseGroundtruth(readFileSync(join(current, 'groundtruth'), 'utf8')),
      });
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) visit(join(current, entry.name));
    }
  };
  visit(root);
  return cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
