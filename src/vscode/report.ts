/**
 * CSV report of a folder's documents: document, status, attempts, duration, tokens in/out, cost, error.
 * Pure (no `vscode`): rows are paged from the checkpoint store, so a 100k-document report never holds
 * more than one page of states in memory besides the text itself.
 */
import type { DocumentState } from '../core/types';
import type { CheckpointStore } from '../store/types';
import { GROUPS, groupOf } from './tree/groups';

export const REPORT_COLUMNS = ['Document', 'Status', 'Attempts', 'Duration (s)', 'Tokens in', 'Tokens out', 'Cost', 'Error'] as const;

/** Quotes a CSV field when needed; text that a spreadsheet would run as a formula is defused. */
export function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  let s = typeof value === 'number' ? String(value) : value;
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function reportRow(doc: DocumentState, prefix = ''): string {
  const group = groupOf(doc);
  const error = group === 'rejected' ? doc.rejectReason : group === 'done' ? undefined : doc.lastError ? `[${doc.lastError.code}] ${doc.lastError.message}` : undefined;
  return [
    csvField(prefix + doc.path),
    csvField(GROUPS[group].label),
    csvField(doc.attempts),
    csvField(doc.durationMs !== undefined ? Number((doc.durationMs / 1000).toFixed(3)) : undefined),
    csvField(doc.tokensIn),
    csvField(doc.tokensOut),
    csvField(Number(doc.cost.toFixed(6))),
    csvField(error),
  ].join(',');
}

/** The report as CSV text (CRLF line ends, as RFC 4180 asks). `prefix` goes before each path (multi-root). */
export function buildReport(sources: readonly { store: CheckpointStore; prefix?: string }[], pageSize = 1000): string {
  const lines = [REPORT_COLUMNS.join(',')];
  for (const { store, prefix } of sources) {
    for (let offset = 0; ; offset += pageSize) {
      const rows = store.listDocuments({ offset, limit: pageSize });
      for (const d of rows) lines.push(reportRow(d, prefix));
      if (rows.length < pageSize) break;
    }
  }
  return lines.join('\r\n') + '\r\n';
}
