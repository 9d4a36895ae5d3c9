/**
 * The changes the store journals, one JSON line each, and how each is applied to the database. The write
 * path journals a change and then applies it; replay at open applies the journaled lines again, so both
 * go through {@link applyChange}.
 */
import type { Database } from 'sql.js';
import type { AttemptRecord, DeadLetter, DocumentState, RunRecord } from '../core/types';
import { attemptParams, dlHistoryParams, dlParams, docParams, nn, runParams, validateAttempt, validateDeadLetter, validateDocument, validateRun } from './rows';
import { applyPrune, validatePrune, type PruneChange } from './retention';
import type { Statements } from './statements';

export type JournalOp =
  | { op: 'doc'; data: DocumentState }
  | { op: 'docDel'; data: { path: string } }
  | { op: 'reset'; data: { at: number } }
  | { op: 'run'; data: RunRecord }
  | { op: 'att'; data: AttemptRecord }
  | { op: 'dl'; data: DeadLetter }
  | { op: 'dlRep'; data: { path: string; at: number; note?: string } }
  | { op: 'dlDel'; data: { path: string } }
  | { op: 'prune'; data: PruneChange };

/** Applies a journaled change to the database (no journal, no counters): used by replay. */
export function applyChange(st: Statements, db: Database, entry: JournalOp): void {
  switch (entry.op) {
    case 'doc': {
      validateDocument(entry.data);
      const params = docParams(entry.data);
      params.push(params.shift()!);
      st.updateDoc.run(params);
      if (db.getRowsModified() === 0) st.upsertDoc.run(docParams(entry.data));
      return;
    }
    case 'docDel':
      st.delDoc.run([entry.data.path]);
      return;
    case 'reset':
      st.resetActive.run([entry.data.at]);
      return;
    case 'run':
      validateRun(entry.data);
      st.upsertRun.run(runParams(entry.data));
      return;
    case 'att':
      validateAttempt(entry.data);
      st.insAttempt.run(attemptParams(entry.data));
      return;
    case 'dl':
      validateDeadLetter(entry.data);
      applyDeadLetter(st, entry.data);
      return;
    case 'dlRep':
      applyDlReprocessed(st, entry.data);
      return;
    case 'dlDel':
      st.delDl.run([entry.data.path]);
      return;
    case 'prune':
      validatePrune(entry.data);
      applyPrune(db, entry.data);
      return;
    default:
      throw new Error(`unknown journal op ${JSON.stringify((entry as { op: unknown }).op)}`);
  }
}

export function applyDlReprocessed(st: Statements, d: { path: string; at: number; note?: string }): void {
  st.moveDlToHistory.run([d.at, nn(d.note), d.path]);
  st.delDl.run([d.path]);
}

/** Queues a dead letter; one that already carries `reprocessedAt` goes straight to the history. */
export function applyDeadLetter(st: Statements, d: DeadLetter): void {
  if (d.reprocessedAt !== undefined) {
    st.insDlHistory.run(dlHistoryParams(d));
    st.delDl.run([d.path]);
  } else {
    st.upsertDl.run(dlParams(d));
  }
}
