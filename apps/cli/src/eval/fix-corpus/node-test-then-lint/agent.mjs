// Edit plan of the scripted agent, one edit per thing the excerpt reports (nothing else is read).
// The failing test: the discount arithmetic, written with a `let` a linter would flag. eslint's
// report (CI's Lint job on that fix): each prefer-const binding made const, at the line it names.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eslintProblems } from '../../scripted-plans.mjs';

export default async function edit({ workspace, excerpt }) {
  const problems = eslintProblems(excerpt, workspace).filter((p) => p.rule === 'prefer-const');
  if (problems.length) {
    for (const p of problems) {
      const path = join(workspace, p.file);
      const lines = (await readFile(path, 'utf8')).split('\n');
      lines[p.line - 1] = lines[p.line - 1].replace(/\blet\b/, 'const');
      await writeFile(path, lines.join('\n'));
    }
    return `prefer-const: const at ${problems.map((p) => `${p.file}:${p.line}`).join(', ')}`;
  }
  if (/not ok .* - applies the discount/.test(excerpt)) {
    const path = join(workspace, 'src/cart.js');
    const source = await readFile(path, 'utf8');
    await writeFile(path, source.replace('  return sum * discount;', '  let rate = 1 - discount;\n  return sum * rate;'));
    return 'src/cart.js: the discount is taken off (1 - discount)';
  }
  return 'ESCALATE: the excerpt reports nothing this plan knows';
}
