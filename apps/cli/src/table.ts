import Table from 'cli-table3';

/**
 * Renders rows as a boxed text table with the given columns (cli-table3). Cells are cut to
 * `maxWidth` characters so one long summary does not wrap the whole table.
 */
export function renderTable(head: string[], rows: (string | number)[][], maxWidth = 60): string {
  const table = new Table({ head, style: { head: [], border: [] }, wordWrap: false });
  for (const row of rows) {
    table.push(row.map((cell) => {
      const text = String(cell).replace(/\s+/g, ' ');
      return text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text;
    }));
  }
  return table.toString();
}
