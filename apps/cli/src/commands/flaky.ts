import { num, type AdminClient } from '../admin/client.ts';
import { time } from '../admin/format.ts';
import { renderTable } from '../table.ts';

/**
 * `pitcrew flaky ls [--repo owner/repo --jobs --limit]`: the flaky registry (`GET /api/flaky`),
 * most flaky first: score (fails then passes on the same commit over resolved failures seen),
 * occurrences, first and last seen, per job and per failing test (`--jobs`: per job only).
 *
 * @throws {AdminApiError} on a bad filter or an unreachable API
 */
export async function flakyLs(client: AdminClient, options: { repo?: string; jobs?: boolean; limit?: number; json?: boolean }): Promise<string> {
  const answer = await client.call(client.api.flaky.$get({ query: { repo: options.repo, limit: num(options.limit), ...(options.jobs ? { tests: 'false' } : {}) } }));
  if (options.json) return JSON.stringify(answer, null, 2);
  if (answer.items.length === 0) return 'no flaky jobs or tests recorded';
  return renderTable(
    ['repository', 'workflow', 'job', 'test', 'score', 'occurrences', 'observed', 'first seen (UTC)', 'last seen (UTC)'],
    answer.items.map((f) => [`${f.owner}/${f.repo}`, f.workflow || '-', f.job, f.test ?? '-', f.score.toFixed(2), f.occurrences, f.observations, time(f.firstSeenAt), time(f.lastSeenAt)]),
    60,
  );
}
