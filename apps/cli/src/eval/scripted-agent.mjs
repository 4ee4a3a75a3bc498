#!/usr/bin/env node
// The scripted agent of `pitcrew eval fix`. It is NOT a model and decides nothing: it runs in the
// sandbox like any coding-agent CLI (the fix prompt on stdin, the checkout as its working
// directory) and applies the edit plan its case ships, `agent.patch` (git apply) or `agent.mjs`
// (a module whose default export edits the workspace), found through PITCREW_SCRIPTED_PLAN. A case
// with no plan makes it print `ESCALATE: …`. An `agent.mjs` gets the prompt's log excerpt on its
// own: the failed step's output, or on a later iteration CI's output on the previous fix, the only
// way a plan learns what CI said; a note starting `ESCALATE:` is printed as the agent's answer.
// What it measures is the pipeline around an agent: sandbox, guard, verification, iterations.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const prompt = readFileSync(0, 'utf8');
const workspace = process.cwd();
const plan = process.env.PITCREW_SCRIPTED_PLAN;
// The fenced block after `Log excerpt (untrusted):` (buildFixPrompt of @pitcrew/core).
const excerpt = /Log excerpt \(untrusted\):\n\n(`{3,})log untrusted\n([\s\S]*?)\n\1(?:\n|$)/.exec(prompt)?.[2] ?? '';

if (!prompt.includes('ESCALATE')) {
  console.log('ESCALATE: scripted agent: stdin held no fix prompt');
} else if (plan && existsSync(join(plan, 'agent.patch'))) {
  execFileSync('git', ['apply', '--whitespace=nowarn', join(plan, 'agent.patch')], { cwd: workspace, stdio: ['ignore', 'pipe', 'inherit'] });
  console.log(`scripted agent (no model): applied ${join(plan, 'agent.patch')}`);
} else if (plan && existsSync(join(plan, 'agent.mjs'))) {
  const { default: edit } = await import(pathToFileURL(join(plan, 'agent.mjs')).href);
  const note = await edit({ workspace, prompt, excerpt });
  console.log(note.startsWith('ESCALATE:') ? note : `scripted agent (no model): ran agent.mjs: ${note}`);
} else {
  console.log('ESCALATE: scripted agent (no model): this case ships no edit plan (agent.patch or agent.mjs)');
}
