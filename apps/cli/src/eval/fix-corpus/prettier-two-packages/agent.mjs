// Edit plan of the scripted agent: format the files `prettier --check` lists in the excerpt (and
// only those), with the prettier the case links in. What CI has not checked yet it cannot list.
import { prettierWarnings, runTool } from '../../scripted-plans.mjs';

export default async function edit({ workspace, excerpt }) {
  const files = prettierWarnings(excerpt);
  if (!files.length) return 'ESCALATE: the excerpt lists no file prettier would format';
  runTool(workspace, 'prettier', ['--write', ...files]);
  return `prettier --write ${files.join(' ')}`;
}
