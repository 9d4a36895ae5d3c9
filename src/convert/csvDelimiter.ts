/** Guessing a CSV file's delimiter from its first line. */

/** `\t` when the first line has more tabs than commas (and semicolons), `;` when it has more semicolons, else `,`. */
export function sniffDelimiter(text: string): string {
  const first = text.slice(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n'));
  const count = (ch: string) => first.split(ch).length - 1;
  const tabs = count('\t'), commas = count(','), semis = count(';');
  if (tabs > commas && tabs >= semis) return '\t';
  if (semis > commas) return ';';
  return ',';
}
