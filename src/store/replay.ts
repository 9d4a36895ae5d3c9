/**
 * Replay at open: the journal lines after the snapshot's seq, in order, applied to the database. Torn or
 * corrupt lines are skipped and reported (never applied), gaps and duplicates are reported, a journal with
 * corrupt lines in the middle is copied aside. Read-only opens report nothing about a torn tail: it is the
 * line the writer is appending right now.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JournalOp } from './changes';
import { lastRecordOf, parseJournal, type JournalFile } from './journal';
import type { OpenReport } from './options';
import { copyAside } from './snapshot';

export interface ReplayFrom {
  /** Journal seq of the loaded snapshot: lines up to it are already in the database. */
  seq: number;
  report: OpenReport;
  warn: (m: string) => void;
  readOnly: boolean;
  /** Applies one change (throws when it cannot be applied: the line is skipped and reported). */
  apply: (entry: JournalOp) => void;
}

/** Applies the journals; returns the last seq applied and whether anything was repaired (skipped, missing). */
export function replayJournals(journals: readonly JournalFile[], from: ReplayFrom): { repaired: boolean; seq: number } {
  const { report, warn, readOnly, apply } = from;
  const snapSeq = from.seq;
  let last = snapSeq;
  let repaired = false;
  const accepted: { seq: number; op: string; data: unknown; file: string }[] = [];
  for (let i = 0; i < journals.length; i++) {
    const j = journals[i];
    // Entirely covered by the snapshot: the next file starts at or below snapSeq + 1, or (the last file, kept
    // after a final compaction for the backup snapshot) its last line is.
    if (i + 1 < journals.length && journals[i + 1].startSeq <= snapSeq + 1) continue;
    if (i + 1 === journals.length && j.startSeq <= snapSeq && (lastRecordOf(j.file)?.seq ?? Infinity) <= snapSeq) continue;
    const name = path.basename(j.file);
    let buf: Buffer;
    try {
      buf = fs.readFileSync(j.file);
    } catch (e) {
      warn(`cannot read journal ${name}: ${(e as Error).message}; its changes are lost`);
      repaired = true;
      continue;
    }
    const { records, issues } = parseJournal(buf);
    if (issues.length > 0) {
      repaired = true;
      report.skippedLines += issues.length;
      const tail = issues.filter((x) => x.tail);
      const mid = issues.filter((x) => !x.tail);
      if (tail.length > 0 && !readOnly) {
        warn(
          `journal ${name}: skipped ${tail.length} torn/incomplete line(s) at the end ` +
            `(line ${tail[0].line}, byte ${tail[0].offset}: ${tail[0].reason}) — an interrupted write that was never acknowledged`,
        );
      }
      if (mid.length > 0 && readOnly) {
        warn(`journal ${name}: skipped ${mid.length} corrupt line(s) (first: line ${mid[0].line}: ${mid[0].reason})`);
      } else if (mid.length > 0) {
        const kept = copyAside(j.file);
        report.movedAside.push(kept);
        warn(
          `journal ${name}: skipped ${mid.length} CORRUPT line(s) followed by valid ones ` +
            `(first: line ${mid[0].line}: ${mid[0].reason}); a copy is kept as ${path.basename(kept)}`,
        );
      }
    }
    for (const rec of records) {
      if (rec.seq <= last) {
        if (rec.seq > snapSeq) {
          warn(`journal ${name}: duplicate or out-of-order seq ${rec.seq} (after ${last}) skipped`);
          repaired = true;
          report.skippedLines++;
        }
        continue;
      }
      if (rec.seq !== last + 1) {
        warn(`journal ${name}: changes ${last + 1}..${rec.seq - 1} are missing; continuing with ${rec.seq}`);
        repaired = true;
      }
      accepted.push({ seq: rec.seq, op: rec.op, data: rec.data, file: name });
      last = rec.seq;
    }
  }

  // A document's full state is journaled on every change: only its last `doc`/`docDel` line matters.
  // Document writes between two `reset` lines commute, so they are applied in path order (B-tree
  // locality makes that about twice as fast); the other tables do not depend on documents.
  const pathOf = (r: { data: unknown }) => {
    const p = (r.data as { path?: unknown } | null)?.path;
    return typeof p === 'string' ? p : undefined;
  };
  const lastWrite = new Map<string, number>();
  accepted.forEach((r, idx) => {
    if (r.op === 'doc' || r.op === 'docDel') {
      const p = pathOf(r);
      if (p !== undefined) lastWrite.set(p, idx);
    }
  });
  const applyOne = (r: (typeof accepted)[number]) => {
    try {
      apply({ op: r.op, data: r.data } as JournalOp);
    } catch (e) {
      warn(`journal ${r.file}: change ${r.seq} (${r.op}) could not be applied: ${(e as Error).message}`);
      repaired = true;
      report.skippedLines++;
    }
  };
  let segment: { path: string; rec: (typeof accepted)[number] }[] = [];
  const flush = () => {
    segment.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const x of segment) applyOne(x.rec);
    segment = [];
  };
  for (const r of accepted) if (r.op !== 'doc' && r.op !== 'docDel' && r.op !== 'reset') applyOne(r);
  accepted.forEach((r, idx) => {
    if (r.op === 'reset') {
      flush();
      applyOne(r);
    } else if (r.op === 'doc' || r.op === 'docDel') {
      const p = pathOf(r);
      if (p === undefined) applyOne(r); // invalid: reported by apply
      else if (lastWrite.get(p) === idx) segment.push({ path: p, rec: r });
    }
  });
  flush();
  report.replayed += accepted.length;
  return { repaired, seq: last };
}
