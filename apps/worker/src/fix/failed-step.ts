import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { stepCommandFromLog, stepCommandFromWorkflow, type CiFailure, type StepCommand } from '@pitcrew/core';

/**
 * The failed step's command for verification and the rules fixer, from the checkout itself: the
 * workflow files at the failing SHA (`.github/workflows/*.yml|yaml`), the one named like the
 * failure's workflow first (`name:`, else the file name, GitHub's display rule), then the job and
 * step by name (`stepCommandFromWorkflow`); else the job log's `##[group]Run …` header
 * (`stepCommandFromLog`).
 *
 * @param log the job's log text when it was fetched, else `null`
 * @returns `null` when neither gives a command (verification is then left to CI)
 */
export async function failedStepCommand(workspace: string, failure: Pick<CiFailure, 'workflowName' | 'jobName' | 'failedSteps'>, log: string | null): Promise<StepCommand | null> {
  const step = failure.failedSteps[0] ?? null;
  if (failure.jobName && step) {
    for (const text of await workflowFiles(workspace, failure.workflowName)) {
      const found = stepCommandFromWorkflow(text, failure.jobName, step);
      if (found) return found;
    }
  }
  return log ? stepCommandFromLog(log, step) : null;
}

/** The workflow files' texts, the one whose display name is `workflowName` first. */
async function workflowFiles(workspace: string, workflowName: string | null): Promise<string[]> {
  const dir = join(workspace, '.github', 'workflows');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch {
    return [];
  }
  const files = await Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), 'utf8').catch(() => '') })));
  const displayName = (file: { name: string; text: string }) => {
    try {
      const doc = parseYaml(file.text) as { name?: unknown } | null;
      return typeof doc?.name === 'string' ? doc.name : `.github/workflows/${file.name}`;
    } catch {
      return null;
    }
  };
  return files.sort((a, b) => Number(displayName(b) === workflowName) - Number(displayName(a) === workflowName)).map((f) => f.text);
}
