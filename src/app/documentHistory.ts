/**
 * A document's history, as the CLI (`history <path>`) and the editor (Show History) show it: its current
 * state, every attempt (run, time, duration, stage reached, outcome, error, tokens, cost, requests, model
 * and the raw reply where one was kept), the dead letter it is queued as and its dead-letter history.
 * Gathered from any checkpoint store (read-only is enough); rendered as plain text or Markdown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AttemptRecord, DeadLetter, DocumentState } from '../core/types';
import { requestLogFile } from '../store/requestLog';
import type { CheckpointStore } from '../store/types';

export interface DocumentHistory {
  path: string;
  /** The document's current state (absent when only history is left). */
  document?: DocumentState;
  /** Oldest first, with raw replies. */
  attempts: AttemptRecord[];
  /** The dead letter it is queued as now. */
  deadLetter?: DeadLetter;
  /** Earlier dead letters that were reprocessed, oldest first. */
  deadLetterHistory: DeadLetter[];
  /** Request logs of the runs of its attempts (`logRequests`), where they exist. */
  requestLogs: Array<{ runId: string; file: string }>;
}

/** The store calls the history needs. */
export type HistorySource = Pick<CheckpointStore, 'getDocument' | 'listAttempts' | 'getDeadLetter' | 'listDeadLetterHistory'>;

/** The history of `docPath`, or undefined when the store knows nothing of it. `stateDir` finds request logs. */
export function readDocumentHistory(store: HistorySource, docPath: string, stateDir?: string): DocumentHistory | undefined {
  const document = store.getDocument(docPath);
  const attempts = store.listAttempts({ path: docPath, rawReply: true });
  const deadLetter = store.getDeadLetter(docPath);
  const deadLetterHistory = store.listDeadLetterHistory?.(docPath) ?? [];
  if (!document && !attempts.length && !deadLetter && !deadLetterHistory.length) return undefined;
  const requestLogs: DocumentHistory['requestLogs'] = [];
  if (stateDir) {
    for (const runId of new Set(attempts.map((a) => a.runId))) {
      const file = requestLogFile(stateDir, runId);
      if (fs.existsSync(file)) requestLogs.push({ runId, file });
    }
  }
  return { path: docPath, ...(document ? { document } : {}), attempts, ...(deadLetter ? { deadLetter } : {}), deadLetterHistory, requestLogs };
}

// ---------------------------------------------------------------------------------------------------------
// shared wording

/** `2026-01-02 03:04:05Z` */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatCost(cost: number): string {
  return cost === 0 ? '0' : cost < 0.01 ? cost.toPrecision(2) : cost.toFixed(4);
}

/** `done`, or `dead-lettered: [CODE] message (stage extracting)`. */
function nowLine(d: DocumentState): string {
  const state = d.readiness === 'rejected' ? `rejected${d.rejectReason ? `: ${d.rejectReason}` : ''}` : d.stage;
  const error = d.lastError && d.stage !== 'done' ? ` · last error [${d.lastError.code}] ${d.lastError.message} (stage ${d.lastError.stage})` : '';
  return `${state}${error} · ${plural(d.attempts, 'attempt')} since queued · ${d.tokensIn} tokens in / ${d.tokensOut} out · cost ${formatCost(d.cost)}`;
}

function usageLine(a: AttemptRecord): string {
  return [
    `tokens ${a.tokensIn} in / ${a.tokensOut} out`,
    `cost ${formatCost(a.cost)}`,
    ...(a.requests !== undefined ? [plural(a.requests, 'request')] : []),
    ...(a.model ? [a.model] : []),
  ].join(' · ');
}

function deadLetterLine(d: DeadLetter): string {
  const reprocessed = d.reprocessedAt !== undefined ? ` · reprocessed ${formatTime(d.reprocessedAt)}${d.note ? ` (${d.note})` : ''}` : '';
  return `${formatTime(d.at)}  run ${d.runId}  stage ${d.stage}  [${d.code}] ${d.message} · ${plural(d.attempts, 'attempt')}${reprocessed}`;
}

const STORE_CUT_NOTE = 'the store kept the first 64 KB of a longer reply';

// ---------------------------------------------------------------------------------------------------------
// text (CLI)

export interface TextOptions {
  /** Lines of a raw reply shown (default 20); the rest is left out with a note. */
  maxReplyLines?: number;
  /** Characters of a raw reply shown (default 2000). */
  maxReplyChars?: number;
  /** What the note after a cut reply points to for all of it (default: `--json`). */
  fullReplyHint?: string;
  /** Shows paths of request logs relative to this folder. */
  relativeTo?: string;
}

/** Cuts a reply to a screenful; returns the lines shown and what was left out. */
function screenful(reply: string, maxLines: number, maxChars: number): { lines: string[]; leftLines: number; leftChars: number } {
  const shown = reply.length > maxChars ? reply.slice(0, maxChars) : reply;
  const all = shown.split('\n');
  const lines = all.slice(0, maxLines);
  const shownChars = lines.join('\n').length;
  return { lines, leftLines: Math.max(0, reply.split('\n').length - lines.length), leftChars: reply.length - shownChars };
}

/** Plain text: a heading, the current state, the attempts (raw replies indented, cut to a screenful), dead letters. */
export function formatHistoryText(h: DocumentHistory, options: TextOptions = {}): string {
  const maxLines = options.maxReplyLines ?? 20;
  const maxChars = options.maxReplyChars ?? 2000;
  const hint = options.fullReplyHint ?? '--json prints all of it';
  const out: string[] = [`History of ${h.path}`];
  out.push(h.document ? `Now: ${nowLine(h.document)}` : 'Now: no longer in the state (only its history is left)');
  if (h.deadLetter) out.push(`In the dead-letter queue: ${deadLetterLine(h.deadLetter)}`);
  out.push('', h.attempts.length ? `Attempts (${h.attempts.length}, oldest first):` : 'Attempts: none recorded (or pruned by the history retention).');
  for (const a of h.attempts) {
    out.push(`  #${a.attempt}  run ${a.runId}  ${formatTime(a.startedAt)}  ${formatDuration(a.durationMs)}  reached ${a.stageReached}  ${a.outcome}`);
    if (a.errorCode || a.errorMessage) out.push(`      [${a.errorCode ?? 'ERROR'}] ${a.errorMessage ?? ''}`.trimEnd());
    out.push(`      ${usageLine(a)}`);
    if (a.rawReply !== undefined) {
      const { lines, leftLines, leftChars } = screenful(a.rawReply, maxLines, maxChars);
      out.push(`      raw reply (${plural(a.rawReply.length, 'character')}${a.rawReplyTruncated ? `; ${STORE_CUT_NOTE}` : ''}):`);
      for (const l of lines) out.push(`        ${l}`);
      if (leftChars > 0) out.push(`        … ${leftLines > 0 ? `${plural(leftLines, 'more line')}, ` : ''}${plural(leftChars, 'more character')} not shown (${hint})`);
    }
  }
  if (h.deadLetterHistory.length) {
    out.push('', `Dead-letter history (${h.deadLetterHistory.length}, oldest first):`);
    for (const d of h.deadLetterHistory) out.push(`  ${deadLetterLine(d)}`);
  }
  if (h.requestLogs.length) {
    out.push('', 'Request logs:');
    for (const l of h.requestLogs) out.push(`  ${options.relativeTo ? path.relative(options.relativeTo, l.file) || l.file : l.file}`);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------
// Markdown (editor)

/** A fence longer than any run of backticks in `text`. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  return '`'.repeat(Math.max(3, longest + 1));
}

/** Inline code that survives backticks in the value. */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return longest ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

/** Free text in Markdown: the characters that could restyle the page (emphasis, code, links, HTML) are escaped. */
function md(text: string): string {
  return text.replace(/([\\`*_[\]<>])/g, '\\$1').replace(/\n/g, ' ');
}

function mdNow(d: DocumentState): string {
  const state = d.readiness === 'rejected' ? `rejected${d.rejectReason ? `: ${md(d.rejectReason)}` : ''}` : d.stage;
  const error = d.lastError && d.stage !== 'done' ? ` · last error ${code(d.lastError.code)} ${md(d.lastError.message)} (stage ${d.lastError.stage})` : '';
  return `${state}${error} · ${plural(d.attempts, 'attempt')} since queued · ${d.tokensIn} tokens in / ${d.tokensOut} out · cost ${formatCost(d.cost)}`;
}

function mdDeadLetter(d: DeadLetter): string {
  const reprocessed = d.reprocessedAt !== undefined ? ` · reprocessed ${formatTime(d.reprocessedAt)}${d.note ? ` (${md(d.note)})` : ''}` : '';
  return `${formatTime(d.at)}, run ${code(d.runId)}, stage ${d.stage}: ${code(d.code)} ${md(d.message)} · ${plural(d.attempts, 'attempt')}${reprocessed}`;
}

/** Markdown: the same content as the text, every raw reply whole in a fenced block. */
export function formatHistoryMarkdown(h: DocumentHistory): string {
  const out: string[] = [`# History of ${code(h.path)}`, ''];
  out.push(h.document ? `**Now:** ${mdNow(h.document)}` : '**Now:** no longer in the state (only its history is left)');
  if (h.deadLetter) out.push('', `**In the dead-letter queue:** ${mdDeadLetter(h.deadLetter)}`);
  out.push('', `## Attempts (${h.attempts.length})`, '');
  if (!h.attempts.length) out.push('None recorded (or pruned by the history retention).');
  for (const a of h.attempts) {
    out.push(`### Attempt ${a.attempt} · ${a.outcome} · run ${code(a.runId)}`, '');
    out.push(`- Started ${formatTime(a.startedAt)}, took ${formatDuration(a.durationMs)}, reached ${a.stageReached}`);
    if (a.errorCode || a.errorMessage) out.push(`- Error ${code(a.errorCode ?? 'ERROR')}: ${md(a.errorMessage ?? '')}`);
    out.push(`- ${md(usageLine(a))}`);
    if (a.rawReply !== undefined) {
      const fence = fenceFor(a.rawReply);
      out.push('', `Raw reply (${plural(a.rawReply.length, 'character')}${a.rawReplyTruncated ? `; ${STORE_CUT_NOTE}` : ''}):`, '', `${fence}text`, a.rawReply, fence);
    }
    out.push('');
  }
  if (h.deadLetterHistory.length) {
    out.push(`## Dead-letter history (${h.deadLetterHistory.length})`, '');
    for (const d of h.deadLetterHistory) out.push(`- ${mdDeadLetter(d)}`);
    out.push('');
  }
  if (h.requestLogs.length) {
    out.push('## Request logs', '');
    for (const l of h.requestLogs) out.push(`- ${code(l.file)}`);
    out.push('');
  }
  return out.join('\n');
}
