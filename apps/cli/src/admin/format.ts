/** Formatting shared by the operator commands' tables. */

/** `2026-11-25 18:22:03` (UTC) from an ISO time; `-` for none. */
export function time(value: string | null | undefined): string {
  return value ? value.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-';
}

/** USD with 4 decimals (`0.0125`); cost columns are numeric(14,6), so smaller amounts show as 0.0000. */
export function usd(value: number): string {
  return value.toFixed(4);
}

/** A cell for a nullable value. */
export function cell(value: string | number | null | undefined): string | number {
  return value === null || value === undefined || value === '' ? '-' : value;
}

/** `key  value` lines, keys padded to one width. */
export function fields(entries: [string, string | number | null | undefined][]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n');
}
