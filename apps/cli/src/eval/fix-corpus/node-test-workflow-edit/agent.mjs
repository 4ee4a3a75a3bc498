// Edit plan of the scripted agent: the shortcut a careless agent takes, to show the guard refuse it.
import { readFile, writeFile } from 'node:fs/promises';

export default async function edit({ workspace }) {
  const path = `${workspace}/.github/workflows/ci.yml`;
  await writeFile(path, (await readFile(path, 'utf8')).replace('run: npm test', 'run: npm test || true'));
  return '.github/workflows/ci.yml: the test step no longer fails the job';
}
