import type { FC } from 'hono/jsx';
import { CATEGORIES, FAILURE_CONCLUSIONS, type FailureListItem } from '@pitcrew/core';
import { count, usd, when } from './format.ts';
import { Badge } from './layout.tsx';

/** The failure list's filters as the form sends them (query parameters), text as typed. */
export interface FailureFilterForm {
  repo: string;
  category: string;
  conclusion: string;
  resolution: string;
  status: string;
  /** UTC day `YYYY-MM-DD`, inclusive. */
  since: string;
  /** UTC day `YYYY-MM-DD`, inclusive. */
  until: string;
}

const STATUSES = ['queued', 'running', 'triaged', 'failed'] as const;

/** A `<select>` with a blank "any" first, the current value selected. */
const Choice: FC<{ id: string; label: string; value: string; options: readonly string[] }> = ({ id, label, value, options }) => (
  <div>
    <label for={id}>{label}</label>
    <select id={id} name={id}>
      <option value="">any</option>
      {options.map((o) => (
        <option value={o} selected={o === value}>
          {o}
        </option>
      ))}
    </select>
  </div>
);

/** The filter form: GET, so a filtered list is a link. Every control has its label. */
export const FailureFilters: FC<{ form: FailureFilterForm }> = ({ form }) => (
  <form class="filters" method="get" action="/failures" aria-label="Filter failures">
    <div>
      <label for="repo">Repository</label>
      <input id="repo" name="repo" type="text" value={form.repo} placeholder="owner/repo or repo" />
    </div>
    <Choice id="category" label="Category" value={form.category} options={CATEGORIES} />
    <Choice id="conclusion" label="Conclusion" value={form.conclusion} options={FAILURE_CONCLUSIONS} />
    <Choice id="resolution" label="Open or resolved" value={form.resolution} options={['open', 'resolved']} />
    <Choice id="status" label="Triage status" value={form.status} options={STATUSES} />
    <div>
      <label for="since">Received from (UTC day)</label>
      <input id="since" name="since" type="date" value={form.since} />
    </div>
    <div>
      <label for="until">Received until (UTC day)</label>
      <input id="until" name="until" type="date" value={form.until} />
    </div>
    <button type="submit">Filter</button>
    <a href="/failures">Clear filters</a>
  </form>
);

/** A failure's triage status and resolution as badges. */
export const FailureState: FC<{ status: string; resolvedAt: string | null }> = ({ status, resolvedAt }) => (
  <>
    <Badge tone={status === 'failed' ? 'bad' : status === 'triaged' ? undefined : 'warn'}>{status}</Badge>{' '}
    {resolvedAt ? <Badge tone="good">resolved</Badge> : <Badge tone="bad">open</Badge>}
  </>
);

/** The list's table: newest received first, one row per failure, its link the job's name. */
export const FailureTable: FC<{ items: FailureListItem[] }> = ({ items }) =>
  items.length === 0 ? (
    <p>No failure matches these filters.</p>
  ) : (
    <table>
      <caption class="sr-only">Failures, newest received first</caption>
      <thead>
        <tr>
          <th scope="col">Received</th>
          <th scope="col">Repository</th>
          <th scope="col">Job</th>
          <th scope="col">Conclusion</th>
          <th scope="col">Category</th>
          <th scope="col">State</th>
          <th scope="col" class="num">
            Tokens in / out
          </th>
          <th scope="col" class="num">
            USD
          </th>
          <th scope="col">Summary</th>
        </tr>
      </thead>
      <tbody>
        {items.map((f) => (
          <tr>
            <td>{when(f.receivedAt)}</td>
            <td>
              {f.owner}/{f.repo}
              {f.branch ? <div class="muted">{f.branch}</div> : null}
            </td>
            <td>
              <a href={`/failures/${encodeURIComponent(f.id)}`}>{f.jobName ?? f.workflowName ?? f.id}</a>
              {f.workflowName && f.jobName ? <div class="muted">{f.workflowName}</div> : null}
            </td>
            <td>{f.conclusion}</td>
            <td>{f.category ?? '–'}</td>
            <td>
              <FailureState status={f.status} resolvedAt={f.resolvedAt} />
            </td>
            <td class="num">
              {count(f.tokensIn)} / {count(f.tokensOut)}
            </td>
            <td class="num">{usd(f.costUsd)}</td>
            <td>{f.summary ?? <span class="muted">{f.status === 'failed' ? 'triage failed' : 'not summarized yet'}</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );

/** The query string of the list with `form`'s filters, and `cursor` when given. */
export function failuresQuery(form: FailureFilterForm, cursor?: string): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) if (value) params.set(key, value);
  if (cursor) params.set('cursor', cursor);
  const text = params.toString();
  return text ? `?${text}` : '';
}
