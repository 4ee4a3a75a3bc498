import { parse as parseYaml } from 'yaml';

/** The command a failed step ran, as the verify stage re-runs it. */
export interface StepCommand {
  /** The step's `run` script (multi-line as written). */
  run: string;
  /** `working-directory` of the step, else of the job's `defaults.run`, else of the workflow's; `null` = the checkout's root. */
  workingDirectory: string | null;
  /** `shell` likewise; `null` = GitHub's default (`bash -e {0}` on Linux). */
  shell: string | null;
  source: 'workflow' | 'log';
}

type Run = { 'working-directory'?: unknown; shell?: unknown };
type Step = { name?: unknown; run?: unknown; uses?: unknown; 'working-directory'?: unknown; shell?: unknown };
type Job = { name?: unknown; steps?: unknown; defaults?: { run?: Run } };

const escape = (literal: string) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);

/**
 * The failed step's command from a workflow file at the failing SHA (`.github/workflows/*.yml`,
 * parsed with `yaml`). The job is found by its display name (`name:`, expressions in it matching any value, else its id, or `<id> (<matrix values>)`), the step by its
 * display name; an unnamed `run` step is shown by GitHub as `Run <first line of run>`
 * (GitHub docs, "Workflow syntax": `jobs.<job_id>.steps[*].name`). `working-directory` and `shell`
 * fall back to the job's then the workflow's `defaults.run`.
 *
 * @returns `null` when the file does not parse, or has no such job or `run` step
 */
export function stepCommandFromWorkflow(workflow: string, jobName: string, stepName: string): StepCommand | null {
  let doc: { jobs?: Record<string, Job>; defaults?: { run?: Run } } | null;
  try {
    doc = parseYaml(workflow) as typeof doc;
  } catch {
    return null;
  }
  if (!doc || typeof doc !== 'object' || !doc.jobs || typeof doc.jobs !== 'object') return null;
  const jobs = Object.entries(doc.jobs);
  // A display name with expressions (`test (${{ matrix.node }})`) matches any value in their
  // place; a matrix job without a name is shown as `<id> (<values>)`.
  const shown = (id: string, job: Job) => {
    const name = text(job?.name);
    if (!name) return new RegExp(`^${escape(id)}(?: \\(.+\\))?$`);
    return new RegExp(`^${name.split(/\$\{\{.*?\}\}/).map(escape).join('.+?')}$`);
  };
  const job = jobs.find(([id, j]) => shown(id, j).test(jobName))?.[1];
  if (!job || !Array.isArray(job.steps)) return null;
  const step = (job.steps as Step[]).find((s) => {
    const run = text(s?.run);
    const name = text(s?.name) ?? (run ? `Run ${run.split('\n')[0]!.trim()}` : null);
    return name === stepName || (run !== null && stepName.startsWith('Run ') && run.trim().startsWith(stepName.slice(4).trim()));
  });
  const run = text(step?.run);
  if (!step || !run) return null;
  const pick = (key: 'working-directory' | 'shell') => text(step[key]) ?? text(job.defaults?.run?.[key]) ?? text(doc!.defaults?.run?.[key]);
  return { run, workingDirectory: pick('working-directory'), shell: pick('shell'), source: 'workflow' };
}

/**
 * The failed step's command from its job log: GitHub Actions prints `##[group]Run <first line>`
 * and then the whole script, each line as is, until `shell: …`, the `env:` block or
 * `##[endgroup]`. Timestamps (`2024-05-01T10:00:00.1234567Z `) are dropped.
 *
 * @param stepName the failed step (`Run npm test`), or `null` for the last `Run` group before the first `##[error]`
 * @returns `null` when the log shows no such group
 */
export function stepCommandFromLog(log: string, stepName: string | null): StepCommand | null {
  const lines = log.split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '').replace(/\r$/, ''));
  const starts = lines.flatMap((l, i) => (l.startsWith('##[group]Run ') ? [i] : []));
  const firstError = lines.findIndex((l) => l.startsWith('##[error]'));
  const start = stepName
    ? starts.find((i) => stepName === lines[i]!.slice('##[group]'.length) || (stepName.startsWith('Run ') && lines[i]!.slice('##[group]Run '.length).startsWith(stepName.slice(4))))
    : starts.filter((i) => firstError === -1 || i < firstError).at(-1);
  if (start === undefined) return null;
  const script: string[] = [];
  let shell: string | null = null;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('##[endgroup]')) break;
    const shellLine = /^shell: (.+)$/.exec(line.trim());
    if (shellLine) {
      shell = shellLine[1]!.trim();
      break;
    }
    if (/^env:\s*$/.test(line.trim())) break;
    script.push(line);
  }
  const run = script.join('\n').trim() || lines[start]!.slice('##[group]Run '.length).trim();
  return { run, workingDirectory: null, shell, source: 'log' };
}
