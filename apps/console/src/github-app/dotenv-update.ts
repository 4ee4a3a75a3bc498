import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** What {@link updateDotEnvFile} did. */
export interface DotEnvUpdate {
  path: string;
  /** The previous file's copy (`<path>.bak-<UTC timestamp>`), or `null` when there was none. */
  backup: string | null;
  /** Keys whose line was replaced in place. */
  updated: string[];
  /** Keys appended at the end. */
  added: string[];
}

/**
 * A value written unquoted: characters that no dotenv reader (Node, docker, compose) treats
 * specially (no quote, no `#`, no `$`), single inner spaces allowed (`-----BEGIN RSA PRIVATE KEY-----`).
 */
const PLAIN = /^[\w.,:/@+=%{}\\-]+(?: [\w.,:/@+=%{}\\-]+)*$/;

/**
 * A value as one dotenv line's right-hand side, readable alike by Node's `process.loadEnvFile`
 * (which `pitcrew` uses), `docker run --env-file` (no quotes, no escapes) and compose's `env_file`:
 * plain values unquoted; a multi-line value (a PEM key) on one line with its newlines as the two
 * characters `\n`, unquoted (the worker's `GITHUB_APP_PRIVATE_KEY` turns `\n` back into newlines);
 * other one-line values single-quoted (literal for Node and compose).
 *
 * @throws {Error} for a value no form keeps intact
 */
export function formatDotEnvValue(value: string): string {
  const oneLine = value.replace(/\r?\n/g, '\\n');
  if (oneLine === '' || PLAIN.test(oneLine)) return oneLine;
  if (!/[\r\n'\\]/.test(value)) return `'${value}'`;
  throw new Error(`cannot write this value to a .env file intact: ${JSON.stringify(value.slice(0, 40))}`);
}

/** What Node's dotenv parser reads back from a value {@link formatDotEnvValue} wrote. */
function readBack(formatted: string): string {
  return formatted.startsWith("'") ? formatted.slice(1, -1) : formatted;
}

/** The lines `[start, end]` (inclusive) that hold `key`'s assignments, a quoted value possibly spanning lines. */
function assignments(lines: string[], key: string): [number, number][] {
  const found: [number, number][] = [];
  const head = new RegExp(`^\\s*(?:export\\s+)?${key}\\s*=\\s*(.*)$`);
  for (let i = 0; i < lines.length; i++) {
    const m = head.exec(lines[i]!);
    if (!m) continue;
    const value = m[1]!;
    const quote = value[0];
    let end = i;
    // A quoted value left open on its line runs to the first later line holding the closing
    // quote; with none, Node reads the quote as a character of a one-line value, and so do we.
    if ((quote === '"' || quote === "'" || quote === '`') && !value.slice(1).includes(quote)) {
      const close = lines.findIndex((l, j) => j > i && l.includes(quote));
      if (close !== -1) end = close;
    }
    found.push([i, end]);
    i = end;
  }
  return found;
}

/**
 * Sets `values` in the dotenv file at `path` without touching its other lines: a key already
 * assigned has its (first) assignment replaced where it stands, later duplicate assignments
 * removed; a new key is appended, after `comment` when given. The previous file is first copied
 * to `<path>.bak-<UTC timestamp>`; the new one is written beside it and renamed over it, mode
 * 0600 (it holds secrets). Before the rename, the new text is read back with Node's dotenv parser:
 * it must give every new value, and every other variable as the old text did.
 *
 * @param values variable → value (multi-line values are written as {@link formatDotEnvValue} says)
 * @throws {Error} when a value cannot be written intact, or the text does not read back (the file is then unchanged)
 */
export function updateDotEnvFile(path: string, values: Record<string, string>, comment?: string): DotEnvUpdate {
  const existed = existsSync(path);
  const before = existed ? readFileSync(path, 'utf8') : '';
  const lines = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const updated: string[] = [];
  const added: string[] = [];
  const appended: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`not a variable name: ${key}`);
    const line = `${key}=${formatDotEnvValue(value)}`;
    const ranges = assignments(lines, key);
    if (ranges.length === 0) {
      appended.push(line);
      added.push(key);
      continue;
    }
    // From the last: removing later ranges leaves earlier indexes valid.
    for (const [start, end] of ranges.slice(1).reverse()) lines.splice(start, end - start + 1);
    const [start, end] = ranges[0]!;
    lines.splice(start, end - start + 1, line);
    updated.push(key);
  }
  if (appended.length) {
    if (lines.length && lines.at(-1)!.trim() !== '') lines.push('');
    if (comment) lines.push(...comment.split('\n').map((l) => `# ${l}`));
    lines.push(...appended);
  }
  const text = `${lines.join('\n')}\n`;
  const parsed = parseEnv(text);
  for (const [key, value] of Object.entries(values)) {
    if (parsed[key] !== readBack(formatDotEnvValue(value))) throw new Error(`${path}: ${key} would not read back as written (is a quote left open above it?); the file is unchanged`);
  }
  const previous = parseEnv(before);
  for (const key of Object.keys(previous)) {
    if (!(key in values) && parsed[key] !== previous[key]) throw new Error(`${path}: ${key} would not read back as it was; the file is unchanged`);
  }
  let backup: string | null = null;
  if (existed) {
    backup = `${path}.bak-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
    copyFileSync(path, backup);
    chmodSync(backup, 0o600);
  }
  const next = `${path}.tmp-${process.pid}`;
  writeFileSync(next, text, { mode: 0o600 });
  chmodSync(next, 0o600);
  renameSync(next, path);
  return { path, backup, updated, added };
}
