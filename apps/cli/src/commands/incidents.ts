import { num, type AdminClient } from '../admin/client.ts';
import { fields, time } from '../admin/format.ts';
import { renderTable } from '../table.ts';

/**
 * `pitcrew incidents ls [--repo --since --limit --cursor]`: incidents, most recently seen first;
 * a page that is not the last ends with the command for the next one.
 *
 * @throws {AdminApiError} on a bad filter or an unreachable API
 */
export async function incidentsLs(client: AdminClient, options: { repo?: string; since?: string; limit?: number; cursor?: string; json?: boolean }): Promise<string> {
  const answer = await client.call(client.api.incidents.$get({ query: { repo: options.repo, since: options.since, limit: num(options.limit), cursor: options.cursor } }));
  if (options.json) return JSON.stringify(answer, null, 2);
  if (answer.items.length === 0) return 'no incidents match';
  const table = renderTable(
    ['incident', 'repository', 'category', 'occurrences', 'failures', 'leader', 'first seen (UTC)', 'last seen (UTC)', 'signature'],
    answer.items.map((i) => [i.id, `${i.owner}/${i.repo}`, i.category, i.occurrences, i.failures, i.leaderFailureId, time(i.firstSeenAt), time(i.lastSeenAt), i.signature.slice(0, 12)]),
  );
  return answer.nextCursor ? `${table}\nmore: pitcrew incidents ls --cursor ${answer.nextCursor}` : table;
}

/**
 * `pitcrew incidents show ID`: one incident and its linked failures.
 *
 * @throws {AdminApiError} 404 when unknown
 */
export async function incidentsShow(client: AdminClient, id: string, options: { json?: boolean } = {}): Promise<string> {
  const i = await client.call(client.api.incidents[':id'].$get({ param: { id } }));
  if (options.json) return JSON.stringify(i, null, 2);
  return [
    fields([
      ['incident', i.id],
      ['repository', `${i.owner}/${i.repo}`],
      ['category', i.category],
      ['signature', i.signature],
      ['occurrences', i.occurrences],
      ['seen (UTC)', `${time(i.firstSeenAt)} .. ${time(i.lastSeenAt)}`],
    ]),
    renderTable(
      ['failure', 'leader', 'status', 'category', 'runner', 'job', 'sha', 'received (UTC)'],
      i.linked.map((f) => [f.id, f.leader ? 'yes' : '', f.status, f.category ?? '-', f.runner ?? '-', f.jobName ?? '-', f.headSha.slice(0, 12), time(f.receivedAt)]),
    ),
  ].join('\n\n');
}

/**
 * `pitcrew breakers`: circuit-breaker state per runner per live worker process.
 *
 * @throws {AdminApiError} on an unreachable API
 */
export async function breakers(client: AdminClient, options: { json?: boolean } = {}): Promise<string> {
  const answer = await client.call(client.api.breakers.$get());
  if (options.json) return JSON.stringify(answer, null, 2);
  if (answer.breakers.length === 0) return 'no worker has published breaker states (none running, or none with a model runner)';
  return `${renderTable(
    ['worker', 'runner', 'state', 'since (UTC)', 'updated (UTC)'],
    answer.breakers.map((b) => [b.worker, b.runner, b.state, time(b.since), time(b.updatedAt)]),
  )}\n${answer.workers} workers, ${answer.open} breakers not closed`;
}
