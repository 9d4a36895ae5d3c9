/**
 * What the model reads of a spreadsheet (XLSX: xlsx.ts, XLS: xls.ts): per sheet with values a
 * `Sheet: <name>` line, then one line per row with its cells joined by ` | `; empty rows and sheets left out.
 */

/** A date as a person reads it: `2024-03-05`, or `2024-03-06T09:30:00Z` when it has a time. */
export function isoDate(d: Date): string {
  const iso = d.toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.replace('.000Z', 'Z');
}

/** A row's line: cells (sparse: holes are empty cells) trimmed, line breaks as spaces, trailing empties dropped; undefined when empty. */
export function rowLine(cells: ReadonlyArray<string | undefined>): string | undefined {
  const out = Array.from(cells, (c) => (c ?? '').replace(/\s*\n\s*/g, ' ').trim());
  while (out.length && !out[out.length - 1]) out.pop();
  return out.length ? out.join(' | ') : undefined;
}

/** The block of one sheet, or undefined when it has no line. */
export function sheetBlock(name: string, lines: readonly string[]): string | undefined {
  return lines.length ? [`Sheet: ${name}`, ...lines].join('\n') : undefined;
}
