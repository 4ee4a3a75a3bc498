import { renderTable } from '../table.ts';
import { matches, type FixEvalReport, type FixRun } from './run-fix-eval.ts';

/** Column headings of {@link fixTable}. */
export const FIX_COLUMNS = ['case', 'kind', 'fixer', 'status', 'guard rule', 'verified', 'CI', 'iterations', 'ms', 'USD', 'expected'];

/**
 * The fix eval table: one row per case × fixer. `verified` is the failed step's verdict on the
 * fixed checkout (`yes`, `no`, `left to CI` when its toolchain is missing, `-` when nothing was
 * verified) of the last iteration; `CI` is CI's verdict on the last fix (`-` when none ran);
 * `expected` is `ok` when the run ended as case.json expects, else what it expects.
 */
export function fixTable(report: FixEvalReport): string {
  const rows = report.runs.map((r) => [
    r.case,
    r.kind,
    r.fixer,
    r.status,
    r.guardRule ?? '-',
    r.verification === 'passed' ? 'yes' : r.verification === 'failed' ? 'no' : r.verification === 'left-to-ci' ? 'left to CI' : '-',
    r.ci === 'left-to-ci' ? 'left to CI' : (r.ci ?? '-'),
    r.iterations,
    r.ms,
    r.usd.toFixed(4),
    !r.expected ? '-' : matches(r) ? 'ok' : `${r.expected.status}${r.expected.guardRule ? ` (${r.expected.guardRule})` : ''}${r.expected.iterations ? `, ${r.expected.iterations} iterations` : ''}`,
  ]);
  return renderTable(FIX_COLUMNS, rows);
}

function counts(runs: FixRun[]): string {
  const by = new Map<string, number>();
  for (const r of runs) {
    const key = r.status === 'refused' ? `refused ${r.guardRule}` : r.escalation === 'iterations' ? 'escalated after the last iteration' : r.status;
    by.set(key, (by.get(key) ?? 0) + 1);
  }
  return [...by].map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
}

/**
 * The summary lines: per fixer, fixed and verified out of the cases of its kind (case.json
 * `for`), and how the other cases ended; then runs that ended otherwise than case.json expects.
 */
export function fixSummary(report: FixEvalReport): string[] {
  const kindOf = new Map(report.cases.map((c) => [c.name, c.for]));
  const lines: string[] = [];
  for (const fixer of [...new Set(report.runs.map((r) => r.fixer))]) {
    const runs = report.runs.filter((r) => r.fixer === fixer);
    const mine = runs.filter((r) => kindOf.get(r.case) === (fixer === 'rules' ? 'rules' : 'agent'));
    const others = runs.filter((r) => !mine.includes(r));
    const verified = mine.filter((r) => r.status === 'verified' || r.status === 'verified_by_ci').length;
    const kinds = [...new Set(mine.map((r) => r.kind))].join(', ');
    const name = fixer === 'rules' ? 'rules fixer' : fixer === 'scripted-agent' ? 'scripted agent (no model: measures sandbox, guard, verification)' : fixer;
    const usd = runs.reduce((s, r) => s + r.usd, 0);
    lines.push(`${name}: fixed and verified ${verified} of ${mine.length} cases of its kind (${kinds}); on those: ${counts(mine)}; on the ${others.length} other cases: ${counts(others)}; ${usd.toFixed(4)} USD`);
  }
  const looped = report.runs.filter((r) => r.history.some((i) => i.ci));
  if (looped.length) {
    const more = looped.filter((r) => r.iterations > 1);
    lines.push(`iterations on CI's verdict: ${looped.length} runs went to CI; ${more.length} needed more than one iteration (${more.map((r) => `${r.case} ${r.fixer} ${r.iterations}: ${r.status}`).join(', ') || 'none'})`);
  }
  const expected = report.runs.filter((r) => r.expected);
  const unexpected = expected.filter((r) => !matches(r));
  lines.push(`as case.json expects: ${expected.length - unexpected.length} of ${expected.length} runs${unexpected.length ? `; not: ${unexpected.map((r) => `${r.case} ${r.fixer} ${r.status} after ${r.iterations}`).join(', ')}` : ''}`);
  const missing = report.cases.filter((c) => c.toolchainFound === false).map((c) => `${c.name} (${c.toolchain})`);
  if (missing.length) lines.push(`toolchain missing here (its fix form is command not found; withoutToolchain expected): ${missing.join(', ')}`);
  const notFailing = report.runs.filter((r) => r.exitBefore === 0);
  if (notFailing.length) lines.push(`BROKEN CASES: the failed step passed before any fix: ${[...new Set(notFailing.map((r) => r.case))].join(', ')}`);
  return lines;
}
