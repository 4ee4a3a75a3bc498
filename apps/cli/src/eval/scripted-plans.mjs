// What the scripted agent's edit plans (fix-corpus/<case>/agent.mjs) read in a log excerpt and
// run in the sandbox: the tool reports a coding agent would read, parsed, and the tools the case
// links into node_modules. Plain functions over text; no plan learns anything but from its excerpt.
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';

/** The text without terminal colours (tools colour their reports even into a pipe, prettier's `[warn]`). */
function plain(text) {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/** Files `prettier --check` lists (`[warn] path`), relative to the checkout. */
export function prettierWarnings(excerpt) {
  return [...plain(excerpt).matchAll(/^\[warn\] (\S+\.\w+)\s*$/gm)].map((m) => m[1]);
}

/**
 * Problems of eslint's stylish report: `path` lines, then `line:col  error  message  rule`.
 * @returns `{ file, line, column, message, rule }` with `file` relative to `workspace`
 */
export function eslintProblems(excerpt, workspace) {
  const problems = [];
  let file = null;
  for (const text of plain(excerpt).split('\n')) {
    if (/^\/\S+\.\w+$/.test(text.trim())) file = text.trim();
    const m = /^\s+(\d+):(\d+)\s+error\s+(.+?)\s{2,}(\S+)$/.exec(text);
    if (m && file) problems.push({ file: isAbsolute(file) ? relative(workspace, file) : file, line: Number(m[1]), column: Number(m[2]), message: m[3], rule: m[4] });
  }
  return problems;
}

/** `tsc` diagnostics: `path(line,col): error TSnnnn: message`. */
export function tscErrors(excerpt) {
  return [...plain(excerpt).matchAll(/^(\S+)\((\d+),(\d+)\): error (TS\d+): (.+)$/gm)].map((m) => ({ file: m[1], line: Number(m[2]), column: Number(m[3]), code: m[4], message: m[5] }));
}

/** Runs a tool the case links into `node_modules/.bin` with this node, in the checkout. @returns its stdout */
export function runTool(workspace, bin, args) {
  const script = realpathSync(join(workspace, 'node_modules', '.bin', bin));
  return execFileSync(process.execPath, [script, ...args], { cwd: workspace, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
