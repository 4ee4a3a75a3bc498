import type { FC } from 'hono/jsx';
import type { IncidentFailure, IncidentView } from '@pitcrew/core';
import { shortSha, when } from './format.ts';
import { Badge } from './layout.tsx';

/** Incidents, most recently seen first: one breakage across failures of one repository. */
export const IncidentTable: FC<{ items: IncidentView[] }> = ({ items }) =>
  items.length === 0 ? (
    <p>No incident matches. A failure's breakage (its signature) opens one; later failures of the same repository with that signature join it.</p>
  ) : (
    <table>
      <caption class="sr-only">Incidents, most recently seen first</caption>
      <thead>
        <tr>
          <th scope="col">Incident</th>
          <th scope="col">Repository</th>
          <th scope="col">Category</th>
          <th scope="col" class="num">
            Occurrences
          </th>
          <th scope="col" class="num">
            Failures linked
          </th>
          <th scope="col">First seen</th>
          <th scope="col">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr>
            <td>
              <a href={`/incidents/${encodeURIComponent(i.id)}`}>Incident {i.id}</a>
            </td>
            <td>
              {i.owner}/{i.repo}
            </td>
            <td>{i.category}</td>
            <td class="num">{i.occurrences}</td>
            <td class="num">{i.failures}</td>
            <td>{when(i.firstSeenAt)}</td>
            <td>{when(i.lastSeenAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );

/** One incident: its signature and its failures, oldest first, the leader marked. */
export const IncidentDetailView: FC<{ incident: IncidentView & { linked: IncidentFailure[] } }> = ({ incident }) => (
  <>
    <dl class="facts">
      <dt>Repository</dt>
      <dd>
        {incident.owner}/{incident.repo}
      </dd>
      <dt>Category</dt>
      <dd>{incident.category}</dd>
      <dt>Occurrences</dt>
      <dd>{incident.occurrences}</dd>
      <dt>Seen</dt>
      <dd>
        {when(incident.firstSeenAt)} to {when(incident.lastSeenAt)}
      </dd>
      <dt>Signature</dt>
      <dd>
        <code>{incident.signature}</code>
      </dd>
    </dl>
    <h2>Failures</h2>
    <table>
      <caption class="sr-only">Failures of this incident, oldest first</caption>
      <thead>
        <tr>
          <th scope="col">Received</th>
          <th scope="col">Job</th>
          <th scope="col">Commit</th>
          <th scope="col">Status</th>
          <th scope="col">Runner</th>
          <th scope="col">Summary</th>
        </tr>
      </thead>
      <tbody>
        {incident.linked.map((f) => (
          <tr>
            <td>{when(f.receivedAt)}</td>
            <td>
              <a href={`/failures/${encodeURIComponent(f.id)}`}>{f.jobName ?? f.id}</a> {f.leader ? <Badge>leader</Badge> : null}
            </td>
            <td>
              <code>{shortSha(f.headSha)}</code>
            </td>
            <td>{f.status}</td>
            <td>{f.runner ?? '–'}</td>
            <td>{f.summary ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </>
);
