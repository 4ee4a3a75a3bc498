// Edit plan of the scripted agent, one edit per thing the excerpt reports (nothing else is read):
// the failing test gets the range check it asks for; prettier's list gets prettier --write, and
// eslint's report eslint --fix, on the files each names. Each follows its report faithfully, and
// the two tools disagree on quotes: CI never passes.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eslintProblems, prettierWarnings, runTool } from '../../scripted-plans.mjs';

export default async function edit({ workspace, excerpt }) {
  const linted = [...new Set(eslintProblems(excerpt, workspace).map((p) => p.file))];
  if (linted.length) {
    try {
      runTool(workspace, 'eslint', ['--fix', ...linted]);
    } catch {
      // eslint exits 1 when problems remain; the verification decides.
    }
    return `eslint --fix ${linted.join(' ')}`;
  }
  const formatted = prettierWarnings(excerpt);
  if (formatted.length) {
    runTool(workspace, 'prettier', ['--write', ...formatted]);
    return `prettier --write ${formatted.join(' ')}`;
  }
  if (/not ok .* - rejects an empty range/.test(excerpt)) {
    const path = join(workspace, 'src/clamp.js');
    const source = await readFile(path, 'utf8');
    await writeFile(path, source.replace('export function clamp(value, min, max) {\n', "export function clamp(value, min, max) {\n  if (min > max) throw new RangeError('empty range: min > max');\n"));
    return 'src/clamp.js: an empty range is rejected';
  }
  return 'ESCALATE: the excerpt reports nothing this plan knows';
}
