import type { FC } from 'hono/jsx';
import type { BreakerStateView, FixBreakerView } from '@pitcrew/core';
import { duration, when } from './format.ts';
import { Badge } from './layout.tsx';

/** The runners' circuit breakers as the live workers publish them (one row per worker and runner). */
export const RunnerBreakers: FC<{ breakers: BreakerStateView[] }> = ({ breakers }) =>
  breakers.length === 0 ? (
    <p>No worker has published its breakers in the last minute (no worker running, or none has called a runner yet).</p>
  ) : (
    <table>
      <caption class="sr-only">Runner breakers per worker</caption>
      <thead>
        <tr>
          <th scope="col">Worker</th>
          <th scope="col">Runner</th>
          <th scope="col">State</th>
          <th scope="col">Since</th>
        </tr>
      </thead>
      <tbody>
        {breakers.map((b) => (
          <tr>
            <td>
              <code>{b.worker}</code>
            </td>
            <td>{b.runner}</td>
            <td>
              <Badge tone={b.state === 'closed' ? 'good' : b.state === 'half-open' ? 'warn' : 'bad'}>{b.state}</Badge>
            </td>
            <td>{when(b.since)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );

/** Each repository's fix-loop breaker: exhausted loops in a row against the threshold. */
export const FixBreakers: FC<{ breakers: FixBreakerView[]; cooldownMs: number }> = ({ breakers, cooldownMs }) =>
  breakers.length === 0 ? (
    <p>No repository has had a fix loop.</p>
  ) : (
    <>
      <p class="muted">A repository's breaker opens after its threshold of fix loops in a row ended exhausted; no new loop starts there for {duration(cooldownMs)}.</p>
      <table>
        <caption class="sr-only">Fix-loop breakers per repository</caption>
        <thead>
          <tr>
            <th scope="col">Repository</th>
            <th scope="col">State</th>
            <th scope="col" class="num">
              Exhausted in a row
            </th>
            <th scope="col">Open until</th>
            <th scope="col">Last loop ended</th>
          </tr>
        </thead>
        <tbody>
          {breakers.map((b) => (
            <tr>
              <td>
                {b.owner}/{b.repo}
              </td>
              <td>
                <Badge tone={b.state === 'open' ? 'bad' : 'good'}>{b.state}</Badge>
              </td>
              <td class="num">
                {b.exhaustedInARow} of {b.threshold}
              </td>
              <td>{when(b.until)}</td>
              <td>{when(b.lastEndedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
