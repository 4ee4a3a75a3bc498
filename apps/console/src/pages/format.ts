/**
 * Formatting of the console's figures. Every value comes from the admin read queries of
 * `@pitcrew/core` (USD as numbers, ms, ISO 8601 UTC times); pages never format by hand.
 */

/** USD with enough digits for a model call: `$0.000420`, `$1.25`. */
export function usd(value: number): string {
  if (value === 0) return '$0';
  return Math.abs(value) >= 1 ? `$${value.toFixed(2)}` : `$${value.toFixed(6).replace(/0{1,3}$/, '')}`;
}

/** A duration in ms as people read it: `840 ms`, `3.2 s`, `4 min 05 s`, `2 h 10 min`, `3 d 4 h`. */
export function duration(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const s = Math.round(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3_600)} h`;
}

/** An ISO 8601 time as `2026-12-03 14:05:09 UTC`; `–` for `null`. */
export function when(value: string | null): string {
  return value ? `${value.slice(0, 10)} ${value.slice(11, 19)} UTC` : '–';
}

/** The first 7 characters of a commit SHA, as GitHub shows it; `–` for `null`. */
export function shortSha(sha: string | null): string {
  return sha ? sha.slice(0, 7) : '–';
}

/** An integer with thousands separators: `12,345`. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** A URL's text when it is http(s), else `null`: stored links come from payloads and are shown only when they are web links. */
export function webUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : null;
  } catch {
    return null;
  }
}
