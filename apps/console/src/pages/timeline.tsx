import type { FC } from 'hono/jsx';
import type { ExecutionView } from '@pitcrew/core';
import { count, duration, usd } from './format.ts';

/** Geometry of the stage timeline, px. */
const LABEL_W = 210;
const BAR_W = 560;
const FIGURES_W = 250;
const ROW_H = 26;
const AXIS_H = 22;
const WIDTH = LABEL_W + BAR_W + FIGURES_W;

const STAGE_COLOURS: Record<string, string> = {
  classify: '#0969da',
  execute: '#8250df',
  summarize: '#1a7f37',
  fix: '#bc4c00',
  guard: '#9a6700',
  verify: '#bf3989',
  propose: '#57606a',
};

/**
 * A failure's executions as a timeline, server-rendered SVG: one row per execution (stage, attempt,
 * runner), a bar from its start to its end on a shared time axis (ms since the first start), and
 * its tokens in/out, USD and ms at the right. A failed execution's bar is hatched and says so.
 * The table below it carries the same figures for screen readers.
 */
export const StageTimeline: FC<{ executions: ExecutionView[] }> = ({ executions }) => {
  if (executions.length === 0) return <p>No stage has run yet.</p>;
  const start = (e: ExecutionView) => Date.parse(e.startedAt);
  const end = (e: ExecutionView) => (e.finishedAt ? Date.parse(e.finishedAt) : start(e) + (e.durationMs ?? 0));
  const t0 = Math.min(...executions.map(start));
  const span = Math.max(1, Math.max(...executions.map(end)) - t0);
  const x = (t: number) => LABEL_W + ((t - t0) / span) * BAR_W;
  const height = AXIS_H + executions.length * ROW_H + 4;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <svg viewBox={`0 0 ${WIDTH} ${height}`} width={WIDTH} height={height} role="img" aria-labelledby="timeline-title" font-family="system-ui, sans-serif" font-size="12">
      <title id="timeline-title">{`Stage timeline: ${executions.length} executions over ${duration(span)}`}</title>
      <defs>
        <pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
          <rect width="6" height="6" fill="#cf222e" />
          <line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="3" />
        </pattern>
      </defs>
      {ticks.map((f) => (
        <g>
          <line x1={LABEL_W + f * BAR_W} x2={LABEL_W + f * BAR_W} y1={AXIS_H - 4} y2={height} stroke="#d1d9e0" />
          <text x={LABEL_W + f * BAR_W} y={12} text-anchor={f === 0 ? 'start' : f === 1 ? 'end' : 'middle'} fill="#59636e">
            {duration(f * span)}
          </text>
        </g>
      ))}
      {executions.map((e, i) => {
        const y = AXIS_H + i * ROW_H;
        const bx = x(start(e));
        const bw = Math.max(2, x(end(e)) - bx);
        const failed = e.status === 'failed';
        return (
          <g>
            <text x={4} y={y + 17}>
              {`${e.stage} #${e.attempt} · ${e.runner}${e.model ? `/${e.model}` : ''}`}
            </text>
            <rect x={bx} y={y + 5} width={bw} height={ROW_H - 10} rx={3} fill={failed ? 'url(#hatch)' : (STAGE_COLOURS[e.stage] ?? '#57606a')}>
              <title>{`${e.stage} #${e.attempt} ${e.status}: ${duration(e.durationMs)}`}</title>
            </rect>
            <text x={LABEL_W + BAR_W + 8} y={y + 17} fill={failed ? '#cf222e' : '#1f2328'}>
              {`${failed ? 'failed · ' : ''}${count(e.tokensIn)}/${count(e.tokensOut)} tok · ${usd(e.costUsd)} · ${duration(e.durationMs)}`}
            </text>
          </g>
        );
      })}
    </svg>
  );
};

/** The executions as a table: the timeline's figures, readable without the picture. */
export const ExecutionTable: FC<{ executions: ExecutionView[] }> = ({ executions }) => (
  <table>
    <caption class="sr-only">Executions of every stage and attempt, oldest first</caption>
    <thead>
      <tr>
        <th scope="col">Stage</th>
        <th scope="col" class="num">
          Attempt
        </th>
        <th scope="col">Runner</th>
        <th scope="col">Status</th>
        <th scope="col" class="num">
          Tokens in
        </th>
        <th scope="col" class="num">
          Tokens out
        </th>
        <th scope="col" class="num">
          USD
        </th>
        <th scope="col" class="num">
          Wall time
        </th>
        <th scope="col">Error</th>
      </tr>
    </thead>
    <tbody>
      {executions.map((e) => (
        <tr>
          <td>{e.stage}</td>
          <td class="num">{e.attempt}</td>
          <td>
            {e.runner}
            {e.model ? <span class="muted"> / {e.model}</span> : null}
          </td>
          <td>{e.status}</td>
          <td class="num">{count(e.tokensIn)}</td>
          <td class="num">{count(e.tokensOut)}</td>
          <td class="num">{usd(e.costUsd)}</td>
          <td class="num">{duration(e.durationMs)}</td>
          <td>{e.error ?? ''}</td>
        </tr>
      ))}
    </tbody>
  </table>
);
