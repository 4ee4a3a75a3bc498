// Edit plan of the scripted agent: what a coding agent would do here, written down.
import { readFile, writeFile } from 'node:fs/promises';

export default async function edit({ workspace }) {
  const path = `${workspace}/src/page.js`;
  const source = await readFile(path, 'utf8');
  await writeFile(path, source.replace('start + size - 1', 'start + size'));
  return 'src/page.js: the slice ends at start + size (exclusive)';
}
