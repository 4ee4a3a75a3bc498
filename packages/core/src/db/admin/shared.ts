import { sql } from 'kysely';
import { toOutgoing } from '../../outgoing.ts';

/**
 * What the admin read queries share: repository filters, the keyset cursor, ISO 8601 times and
 * the outgoing boundary for stored texts.
 */

/** A repository filter: `owner/repo` matches exactly, a bare `name` matches that repository name under any owner. */
export type RepoFilter = string;

/** A {@link RepoFilter} split into its owner (`undefined` for a bare name) and repository name; `undefined` without a filter. */
export function repoWhere(repoFilter: RepoFilter | undefined): { owner: string | undefined; repo: string } | undefined {
  if (!repoFilter) return undefined;
  const slash = repoFilter.indexOf('/');
  return slash > 0 ? { owner: repoFilter.slice(0, slash), repo: repoFilter.slice(slash + 1) } : { owner: undefined, repo: repoFilter };
}

/** A repository filter as a condition on `table`'s `owner` and `repo` columns; `undefined` without a filter. */
export function repoCondition(table: 'failures' | 'incidents' | 'fix_loops', repoFilter: RepoFilter | undefined) {
  const where = repoWhere(repoFilter);
  if (!where) return undefined;
  const repo = sql<boolean>`${sql.ref(`${table}.repo`)} = ${where.repo}`;
  return where.owner ? sql<boolean>`${sql.ref(`${table}.owner`)} = ${where.owner} and ${repo}` : repo;
}

/** Thrown for a cursor this release did not produce. */
export class BadCursorError extends Error {
  constructor(cursor: string) {
    super(`cursor ${JSON.stringify(cursor.slice(0, 40))} is not one this API produced`);
    this.name = 'BadCursorError';
  }
}

/**
 * Keyset cursor: base64url of `<sort time with microseconds>|<id>`, the last row of a page
 * (`received_at` of a failure, `started_at` of a fix attempt or a fix loop).
 */
export function encodeCursor(time: string, id: string): string {
  return Buffer.from(`${time}|${id}`).toString('base64url');
}

/**
 * The (sort time, `id`) an {@link encodeCursor} cursor holds; `time` is ISO 8601 with microseconds.
 *
 * @throws {BadCursorError} when `cursor` is not one {@link encodeCursor} produced
 */
export function decodeCursor(cursor: string): { time: string; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const bar = text.indexOf('|');
  const time = text.slice(0, bar);
  if (bar <= 0 || Number.isNaN(Date.parse(time))) throw new BadCursorError(cursor);
  return { time, id: text.slice(bar + 1) };
}

/**
 * A timestamptz column as the text a cursor keeps: UTC ISO 8601 with microseconds
 * (`2026-01-10T12:00:00.123456Z`), so the next page starts exactly after the row (a JS Date
 * would drop the microseconds).
 */
export function cursorTime(column: 'failures.received_at' | 'fix_attempts.started_at' | 'fix_loops.started_at' | 'incidents.last_seen_at') {
  return sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/**
 * One keyset page from the rows of a query that asked for `limit + 1` (the extra row says a next
 * page exists): the first `limit` rows as views, and the cursor of the last of them (its
 * `cursor_time` and `cursorId(row)`), `null` on the last page.
 */
export function keysetPage<R extends { cursor_time: string }, V>(rows: R[], limit: number, view: (row: R) => V, cursorId: (row: R) => string): { items: V[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(view), nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_time, cursorId(last)) : null };
}

/**
 * A timestamp column's value as ISO 8601 UTC (`2026-01-10T12:00:00.000Z`); `null` stays `null`.
 * `unknown`: columns typed `Generated<Timestamp>` in database.ts select as the ColumnType itself,
 * while pg hands back a Date.
 */
export const iso = (value: unknown): string | null =>
  value === null || value === undefined ? null : new Date(value as Date | string).toISOString();

/**
 * A stored text through the outgoing boundary for the admin API: a name from the payload (job,
 * step, branch: an unnamed step is `Run <its command>` and may hold a token), a summary or an
 * error. `null` stays `null`.
 */
export function outText(text: string | null): string | null {
  return text === null ? null : toOutgoing(text, 'admin-api').text;
}
