// Edit plan of the scripted agent, one edit per thing the excerpt reports (nothing else is read).
// The failing test: the price with tax, rounded with toFixed (a string). tsc's report (CI's
// Typecheck job on that fix): each TS2322 "Type 'string' is not assignable to type 'number'" on
// a return gets Number() around its value, at the line it names.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tscErrors } from '../../scripted-plans.mjs';

export default async function edit({ workspace, excerpt }) {
  const errors = tscErrors(excerpt).filter((e) => e.code === 'TS2322' && e.message.startsWith("Type 'string' is not assignable to type 'number'"));
  if (errors.length) {
    for (const e of errors) {
      const path = join(workspace, e.file);
      const lines = (await readFile(path, 'utf8')).split('\n');
      lines[e.line - 1] = lines[e.line - 1].replace(/return (.+);$/, 'return Number($1);');
      await writeFile(path, lines.join('\n'));
    }
    return `TS2322: Number() at ${errors.map((e) => `${e.file}:${e.line}`).join(', ')}`;
  }
  if (/not ok .* - adds the tax, rounded to cents/.test(excerpt)) {
    const path = join(workspace, 'src/price.js');
    const source = await readFile(path, 'utf8');
    await writeFile(path, source.replace('  return amount * rate;', '  return (amount * (1 + rate)).toFixed(2);'));
    return 'src/price.js: the amount plus its tax, rounded to cents';
  }
  return 'ESCALATE: the excerpt reports nothing this plan knows';
}
