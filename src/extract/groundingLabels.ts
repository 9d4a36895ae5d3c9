/**
 * Labels for grounding: a value that occurs several times — a total equal to a line item's amount, a date
 * that is both the invoice date and the delivery date — is preferably placed where its label is written: a
 * word of its field name (`total` for `total`, `invoice` for `invoiceNumber`) before it on its line
 * ("Total due: EUR 40.00"), or at the end of the line above when the value starts its line (forms that put
 * a value under its label). Line items are placed by their row instead (src/extract/groundingRows.ts).
 */

/** Words too common in field names to tell two occurrences apart. */
const STOP_WORDS = new Set(['the', 'and', 'for', 'with', 'value', 'field']);

/** How far before a value its label is looked for, in characters. */
const LOOK_BACK = 80;

/** One word of a field name, as the beginning of a word in the text (`invoic` matches "Invoice", "invoiced"). */
export type LabelPattern = RegExp;

/** The words of a field name (`invoice_number`, `invoiceNumber`, `Invoice Number`) as patterns; [] for array indexes. */
export function labelPatterns(key: string): LabelPattern[] {
  if (/^\d+$/.test(key)) return [];
  const words = key
    .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length >= 3 && !STOP_WORDS.has(w));
  return [...new Set(words)].map((w) => new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(w.slice(0, Math.min(w.length, 6)))}`, 'u'));
}

/** How many of `labels` are written before offset `start` of `text` on its line (or the line above, see above). */
export function labelHits(text: string, start: number, labels: readonly LabelPattern[]): number {
  if (!labels.length) return 0;
  const window = text.slice(Math.max(0, start - LOOK_BACK), start);
  const nl = window.lastIndexOf('\n');
  let before = nl < 0 ? window : window.slice(nl + 1);
  if (nl >= 0 && !/\p{L}/u.test(before)) {
    const above = window.slice(0, nl);
    before = `${above.slice(above.lastIndexOf('\n') + 1)} ${before}`;
  }
  const lower = before.toLowerCase();
  let hits = 0;
  for (const re of labels) if (re.test(lower)) hits++;
  return hits;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
