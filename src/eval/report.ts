/**
 * The evaluation report: the JSON form (`eval --json`, also what the VS Code commands show) and the
 * readable text form (a table per field, overall, then the mismatches).
 *
 * Pure: no I/O.
 */
import type { DateOrder, NormaliseOptions } from './normalise';
import type { EvalInput } from './sources';
import type { FieldStats, Mismatch, Scores } from './score';

export const PAIRING_METHOD = 'hungarian (optimal assignment maximising agreeing sub-fields)';

export interface EvalReport extends Scores {
  truth: string;
  /** Documents with a truth but no result (their values are counted as missing). */
  withoutResult: string[];
  /** Results without a truth: not scored. */
  skipped: { withoutTruth: number; paths: string[] };
  unreadableResults: EvalInput['unreadable'];
  comparison: { tolerance: number; dateOrder: DateOrder | 'either'; ignoreCase: boolean; ignorePunctuation: boolean; lineItemPairing: string };
}

export function buildReport(truth: string, input: EvalInput, scores: Scores, o: NormaliseOptions): EvalReport {
  return {
    ...scores,
    truth,
    withoutResult: input.withoutResult,
    skipped: { withoutTruth: input.withoutTruth.length, paths: input.withoutTruth },
    unreadableResults: input.unreadable,
    comparison: { tolerance: o.tolerance, dateOrder: o.dateOrder ?? 'either', ignoreCase: o.ignoreCase, ignorePunctuation: o.ignorePunctuation, lineItemPairing: PAIRING_METHOD },
  };
}

export function percent(a: number | null): string {
  return a === null ? '—' : `${(a * 100).toFixed(1)}%`;
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd());
}

function statsRow(name: string, s: FieldStats): string[] {
  return [name, String(s.correct), String(s.total), percent(s.accuracy), String(s.missing), String(s.extra)];
}

function show(v: unknown): string {
  const s = v === null || v === undefined ? '(none)' : typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

export function describeComparison(c: EvalReport['comparison']): string {
  return [
    `numbers within ±${c.tolerance} (absolute)`,
    `dates by calendar day${c.dateOrder === 'either' ? ' (05/03/2024 matches either reading: --date-order dmy|mdy decides)' : ` (05/03/2024 read as ${c.dateOrder})`}`,
    `strings trimmed, whitespace collapsed${c.ignoreCase ? ', case ignored' : ''}${c.ignorePunctuation ? ', punctuation ignored' : ''}`,
    `line items paired by ${c.lineItemPairing}`,
  ].join('; ');
}

export function mismatchLine(m: Mismatch): string {
  return `${m.source}  ${m.at}  ${m.kind}: expected ${show(m.expected)}, got ${show(m.actual)}`;
}

/** The text report; at most `maxMismatches` mismatches are listed (--json lists all). */
export function formatReport(r: EvalReport, maxMismatches = 50): string {
  const lines: string[] = [];
  lines.push(`Evaluated ${r.documents} document(s) against ${r.truth}.`);
  lines.push(`Compared: ${describeComparison(r.comparison)}.`);
  lines.push('');
  const rows = Object.entries(r.fields).map(([name, s]) => statsRow(name, s));
  const t = table(['Field', 'Correct', 'Total', 'Accuracy', 'Missing', 'Extra'], [...rows, statsRow('Overall', r.overall)]);
  lines.push(...t.slice(0, -1), '-'.repeat(t[0].length), t[t.length - 1]);
  lines.push('');
  if (r.mismatches.length) {
    lines.push(`Mismatches (${r.mismatches.length}):`);
    for (const m of r.mismatches.slice(0, maxMismatches)) lines.push(`  ${mismatchLine(m)}`);
    if (r.mismatches.length > maxMismatches) lines.push(`  … ${r.mismatches.length - maxMismatches} more (--json lists all)`);
  } else {
    lines.push('No mismatches.');
  }
  if (r.withoutResult.length) lines.push(`${r.withoutResult.length} document(s) with a truth but no result (their values count as missing): ${r.withoutResult.join(', ')}`);
  if (r.skipped.withoutTruth) lines.push(`${r.skipped.withoutTruth} result(s) without a truth skipped.`);
  for (const u of r.unreadableResults) lines.push(`Skipped ${u.file}: ${u.reason}`);
  return lines.join('\n') + '\n';
}

/** The JSON report as documented (`documents`, `fields`, `overall`, `mismatches`, then the rest). */
export function reportJson(r: EvalReport): string {
  const { documents, fields, overall, mismatches, ...rest } = r;
  return JSON.stringify({ documents, fields, overall, mismatches, ...rest }, null, 2) + '\n';
}

/** A Markdown rendering, for the editor (VS Code commands). */
export function reportMarkdown(r: EvalReport, title: string): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [`# ${title}`, '', `${r.documents} document(s) against ${esc(r.truth)}. Compared: ${describeComparison(r.comparison)}.`, ''];
  lines.push('| Field | Correct | Total | Accuracy | Missing | Extra |', '|---|---:|---:|---:|---:|---:|');
  for (const [name, s] of Object.entries(r.fields)) lines.push(`| ${statsRow(esc(name), s).join(' | ')} |`);
  lines.push(`| ${statsRow('**Overall**', r.overall).join(' | ')} |`, '');
  if (r.mismatches.length) {
    lines.push(`## Mismatches (${r.mismatches.length})`, '', '| Document | Field | Kind | Expected | Got |', '|---|---|---|---|---|');
    for (const m of r.mismatches.slice(0, 500)) lines.push(`| ${esc(m.source)} | ${esc(m.at)} | ${m.kind} | ${esc(show(m.expected))} | ${esc(show(m.actual))} |`);
    if (r.mismatches.length > 500) lines.push('', `… ${r.mismatches.length - 500} more.`);
  } else {
    lines.push('No mismatches.');
  }
  if (r.withoutResult.length) lines.push('', `Documents with a truth but no result (counted as missing): ${r.withoutResult.map(esc).join(', ')}`);
  if (r.skipped.withoutTruth) lines.push('', `${r.skipped.withoutTruth} result(s) without a truth skipped.`);
  return lines.join('\n') + '\n';
}
