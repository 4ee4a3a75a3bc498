import type { Child, FC } from 'hono/jsx';
import { TRIAGE_STAGES, type ExecutionView, type FailureDetail, type FixAttemptView, type JobHistoryEvent } from '@pitcrew/core';
import { count, duration, shortSha, usd, webUrl, when } from './format.ts';
import { Badge } from './layout.tsx';
import { FailureState } from './failure-list.tsx';
import { ExecutionTable, StageTimeline } from './timeline.tsx';

/** The stored output of a failure's latest succeeded execution of `stage`, or `undefined`. */
function outputOf(executions: ExecutionView[], stage: string): Record<string, unknown> | undefined {
  const done = executions.filter((e) => e.stage === stage && e.status === 'succeeded').at(-1);
  return done && typeof done.output === 'object' && done.output !== null ? (done.output as Record<string, unknown>) : undefined;
}

/** The excerpt classify stored, with the log line number of each line (blank for a `…` marker). */
export const Excerpt: FC<{ text: string; numbers: unknown }> = ({ text, numbers }) => {
  const lines = text.split('\n');
  const nums = Array.isArray(numbers) && numbers.length === lines.length ? (numbers as (number | null)[]) : null;
  return (
    <div class="excerpt" role="region" aria-label="Log excerpt" tabindex={0}>
      <table>
        <tbody>
          {lines.map((line, i) => (
            <tr>
              <td class="ln">{nums ? (nums[i] ?? '') : ''}</td>
              <td>{line}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
};

/**
 * A runner's markdown as sections by its `## ` headings, as text (never as HTML: it is a model's
 * or an agent's output about untrusted logs).
 */
export const MarkdownSections: FC<{ markdown: string }> = ({ markdown }) => {
  const sections: { heading: string | null; body: string[] }[] = [{ heading: null, body: [] }];
  for (const line of markdown.split('\n')) {
    const heading = /^#{1,3}\s+(.+)$/.exec(line);
    if (heading) sections.push({ heading: heading[1]!.trim(), body: [] });
    else sections.at(-1)!.body.push(line);
  }
  return (
    <>
      {sections
        .filter((s) => s.heading !== null || s.body.join('').trim())
        .map((s) => (
          <section>
            {s.heading ? <h3>{s.heading}</h3> : null}
            <div class="plan">{s.body.join('\n').trim()}</div>
          </section>
        ))}
    </>
  );
};

/** Fix attempts, first iteration first: status, verification, PR, CI verdict, tokens and USD. */
const FixAttempts: FC<{ attempts: FixAttemptView[] }> = ({ attempts }) =>
  attempts.length === 0 ? (
    <p>No fix was attempted.</p>
  ) : (
    <table>
      <caption class="sr-only">Fix attempts, first iteration first</caption>
      <thead>
        <tr>
          <th scope="col" class="num">
            Iteration
          </th>
          <th scope="col">Fixer</th>
          <th scope="col">Status</th>
          <th scope="col">Verification</th>
          <th scope="col">Pull request</th>
          <th scope="col">CI on the fix</th>
          <th scope="col" class="num">
            Tokens in / out
          </th>
          <th scope="col" class="num">
            USD
          </th>
          <th scope="col" class="num">
            Wall time
          </th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a) => {
          const pr = webUrl(a.pr.url);
          return (
            <tr>
              <td class="num">{a.iteration}</td>
              <td>{a.fixer}</td>
              <td>
                <Badge tone={a.status === 'proposed' || a.status === 'verified' ? 'good' : a.status === 'running' ? 'warn' : 'bad'}>{a.status}</Badge>
                {a.guardRule ? <div class="muted">guard: {a.guardRule}</div> : null}
                {a.reason ? <div class="muted">{a.reason}</div> : null}
              </td>
              <td>
                {a.verify.command ? <code>{a.verify.command}</code> : '–'}
                {a.verify.exitCode !== null ? <div class="muted">exit {a.verify.exitCode} in {duration(a.verify.ms)}</div> : null}
              </td>
              <td>
                {pr ? <a href={pr}>{a.pr.number !== null ? `#${a.pr.number}` : pr}</a> : a.branch ? <code>{a.branch}</code> : '–'}
                {a.outcome ? <div class="muted">{a.outcome}{a.mergedBy ? ` by ${a.mergedBy}` : ''}</div> : null}
              </td>
              <td>{a.ci.verdict ?? (a.status === 'proposed' ? 'pending' : '–')}</td>
              <td class="num">
                {count(a.tokensIn)} / {count(a.tokensOut)}
              </td>
              <td class="num">{usd(a.costUsd)}</td>
              <td class="num">{duration(a.durationMs)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );

/** The job's recent fails and passes as a strip (newest first) and a list of the same events. */
const JobHistory: FC<{ events: JobHistoryEvent[]; current: string }> = ({ events, current }) => (
  <>
    <ul class="history" aria-hidden="true">
      {events.map((e) => (
        <li class={e.outcome} title={`${e.outcome} ${when(e.at)} ${shortSha(e.sha)}`} />
      ))}
    </ul>
    <table>
      <caption class="sr-only">This job's recent failures and the successes that resolved them, newest first</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Outcome</th>
          <th scope="col">Commit</th>
          <th scope="col">Failure</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr>
            <td>{when(e.at)}</td>
            <td>{e.outcome === 'pass' ? <Badge tone="good">pass</Badge> : <Badge tone="bad">fail</Badge>}</td>
            <td>
              <code>{shortSha(e.sha)}</code>
            </td>
            <td>{e.failureId === current ? <span>this failure</span> : <a href={`/failures/${encodeURIComponent(e.failureId)}`}>{e.category ?? e.failureId}</a>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </>
);

/** The retry and replay forms: POST, with the session's CSRF field; each control labelled. */
const Actions: FC<{ detail: FailureDetail; csrf: Child }> = ({ detail, csrf }) => {
  const f = detail.failure;
  const busy = f.status === 'queued' || f.status === 'running';
  return (
    <>
      <form class="action" method="post" action={`/failures/${encodeURIComponent(f.id)}/retry`} aria-label="Retry triage">
        {csrf}
        <div>
          <label for="retry-stage">Retry from stage</label>
          <select id="retry-stage" name="stage">
            {TRIAGE_STAGES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          Retry triage
        </button>
        {busy ? <span class="muted">the failure is {f.status}; retry once it is triaged or failed</span> : null}
      </form>
      <form class="action" method="post" action={`/deliveries/${encodeURIComponent(f.firstDeliveryId)}/replay`} aria-label="Replay delivery">
        {csrf}
        <button type="submit">Replay the first delivery</button>
        <span class="muted">
          <code>{f.firstDeliveryId}</code> as a new intake job: recorded as a merged delivery, not triaged again
        </span>
      </form>
    </>
  );
};

/** Everything about one failure, in the order an engineer arriving from a PR comment reads it. */
export const FailureDetailView: FC<{ detail: FailureDetail; history: JobHistoryEvent[]; csrf: Child }> = ({ detail, history, csrf }) => {
  const f = detail.failure;
  const classify = outputOf(detail.executions, 'classify');
  const execute = outputOf(detail.executions, 'execute');
  const excerpt = typeof classify?.logExcerpt === 'string' ? classify.logExcerpt : null;
  const log = classify?.log as { status?: string; reason?: string; lines?: number } | undefined;
  const markdown = typeof execute?.markdown === 'string' ? execute.markdown : null;
  // The incident leader's diagnosis, reused (execute's `sharedFrom`): written for that failure's job.
  const sharedFrom = typeof execute?.sharedFrom === 'string' ? execute.sharedFrom : null;
  const github = webUrl(f.htmlUrl);
  return (
    <>
      <dl class="facts">
        <dt>Repository</dt>
        <dd>
          {f.owner}/{f.repo}
          {f.branch ? ` @ ${f.branch}` : ''} <code>{shortSha(f.headSha)}</code>
        </dd>
        <dt>Job</dt>
        <dd>
          {f.workflowName ?? '–'} / {f.jobName ?? f.checkName ?? '–'}
          {f.failedSteps.length ? <span class="muted"> at step {f.failedSteps.join(', ')}</span> : null}
        </dd>
        <dt>Conclusion</dt>
        <dd>{f.conclusion}</dd>
        <dt>Category</dt>
        <dd>
          {f.category ?? '–'}
          {f.confidence !== null ? <span class="muted"> (confidence {f.confidence.toFixed(2)})</span> : null}
        </dd>
        <dt>State</dt>
        <dd>
          <FailureState status={f.status} resolvedAt={f.resolvedAt} />
          {f.error ? <div class="muted">{f.error}</div> : null}
        </dd>
        <dt>Received</dt>
        <dd>{when(f.receivedAt)}</dd>
        <dt>Triaged</dt>
        <dd>
          {when(f.finishedAt)} {f.runner ? <span class="muted">by {f.runner}</span> : null}
        </dd>
        <dt>Spent</dt>
        <dd>
          {count(detail.totals.tokensIn)} tokens in, {count(detail.totals.tokensOut)} out, {usd(detail.totals.costUsd)}, {duration(detail.totals.durationMs)} over {detail.totals.executions} executions
        </dd>
        {github ? (
          <>
            <dt>On GitHub</dt>
            <dd>
              <a href={github}>the {f.kind === 'run' ? 'workflow run' : 'job'}</a>
            </dd>
          </>
        ) : null}
      </dl>

      <h2>Summary</h2>
      {sharedFrom ? (
        <p class="muted shared-diagnosis">
          The diagnosis is shared: it was written for <a href={`/failures/${encodeURIComponent(sharedFrom)}`}>{sharedFrom}</a>, the first failure of
          {detail.incident ? ` incident ${detail.incident.id}` : ' its incident'}, and reused here without a model call, so it may name that failure's job.
        </p>
      ) : null}
      <p>{f.summary ?? <span class="muted">not summarized yet</span>}</p>

      <h2>Log excerpt</h2>
      {excerpt ? (
        <Excerpt text={excerpt} numbers={classify?.excerptLineNumbers} />
      ) : (
        <p class="muted">No excerpt: {log?.status ? `the log was ${log.status}${log.reason ? ` (${log.reason})` : ''}` : 'no log was read'}.</p>
      )}

      <h2>Diagnosis and plan</h2>
      {markdown ? <MarkdownSections markdown={markdown} /> : <p class="muted">The execute stage has not run.</p>}

      <h2>Stage timeline</h2>
      <div class="timeline">
        <StageTimeline executions={detail.executions} />
      </div>
      <ExecutionTable executions={detail.executions} />

      <h2>Fix attempts and pull requests</h2>
      <FixAttempts attempts={detail.fixAttempts} />

      <h2>Incident</h2>
      {detail.incident ? (
        <p>
          <a href={`/incidents/${encodeURIComponent(detail.incident.id)}`}>Incident {detail.incident.id}</a>: {detail.incident.category} in {detail.incident.owner}/{detail.incident.repo}, {detail.incident.occurrences} occurrences
          {detail.incident.leaderFailureId === f.id ? ' (this failure leads it)' : ''}
        </p>
      ) : (
        <p>Not part of an incident.</p>
      )}

      <h2>Resolution</h2>
      {f.resolvedAt ? (
        <dl class="facts">
          <dt>Resolved</dt>
          <dd>{when(f.resolvedAt)}</dd>
          <dt>Green at</dt>
          <dd>
            <code>{shortSha(f.resolvedBySha)}</code>
            {f.resolvedByRunId ? <span class="muted"> (workflow run {f.resolvedByRunId})</span> : null}
          </dd>
          <dt>Time to green</dt>
          <dd>{duration(f.timeToGreenMs)}</dd>
        </dl>
      ) : (
        <p>Open: the check has not gone green on this branch since.</p>
      )}

      <h2>This job's recent history</h2>
      <JobHistory events={history} current={f.id} />

      <h2>Deliveries and publications</h2>
      <ul>
        {detail.deliveries.map((d) => (
          <li>
            <code>{d.id}</code> {d.event} {d.action ?? ''} · {d.outcome} · {when(d.receivedAt)}
          </li>
        ))}
        {detail.publications.map((p) => {
          const url = webUrl(p.externalUrl);
          return (
            <li>
              {p.sink}: {p.status} {url ? <a href={url}>{url}</a> : null} {p.lastError ? <span class="muted">({p.lastError})</span> : null}
            </li>
          );
        })}
      </ul>

      <h2>Actions</h2>
      <Actions detail={detail} csrf={csrf} />
    </>
  );
};
