import type { FC } from 'hono/jsx';
import type { FlakyView } from '@pitcrew/core';
import { when } from './format.ts';

/** The flaky registry, most flaky first: a job's own row (no test) and one per failing test. */
export const FlakyTable: FC<{ items: FlakyView[]; repo?: string }> = ({ items, repo }) =>
  items.length === 0 ? (
    <p>{`Nothing flaky${repo ? ` in ${repo}` : ''}: no failure${repo ? ' there' : ''} has been resolved on the commit that failed.`}</p>
  ) : (
    <table>
      <caption class="sr-only">Flaky jobs and tests, most flaky first</caption>
      <thead>
        <tr>
          <th scope="col">Repository</th>
          <th scope="col">Workflow / job</th>
          <th scope="col">Test</th>
          <th scope="col" class="num">
            Score
          </th>
          <th scope="col" class="num">
            Fails then passes on one commit
          </th>
          <th scope="col" class="num">
            Resolved failures seen
          </th>
          <th scope="col">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {items.map((f) => (
          <tr>
            <td>
              {f.owner}/{f.repo}
            </td>
            <td>
              {f.workflow ? `${f.workflow} / ` : ''}
              {f.lastFailureId ? <a href={`/failures/${encodeURIComponent(f.lastFailureId)}`}>{f.job}</a> : f.job}
            </td>
            <td>{f.test ?? <span class="muted">the whole job</span>}</td>
            <td class="num">{`${Math.round(f.score * 100)}%`}</td>
            <td class="num">{f.occurrences}</td>
            <td class="num">{f.observations}</td>
            <td>{when(f.lastSeenAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
