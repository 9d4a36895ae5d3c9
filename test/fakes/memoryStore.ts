/** In-memory CheckpointStore for pipeline tests: the same contract, no persistence. Counts by brute force. */
import { isActiveStage, emptyCounts, type AttemptRecord, type DeadLetter, type DocumentState, type RunCounts, type RunRecord } from '../../src/core/types';
import type { CheckpointStore, DocumentQuery, WriteOptions } from '../../src/store/types';

export class MemoryCheckpointStore implements CheckpointStore {
  readonly dir = undefined;
  readonly docs = new Map<string, DocumentState>();
  readonly runs = new Map<string, RunRecord>();
  readonly attempts: AttemptRecord[] = [];
  readonly letters = new Map<string, DeadLetter>();
  readonly reprocessed: DeadLetter[] = [];
  durableWrites = 0;
  closed = false;

  #durable(o?: WriteOptions) {
    if (o?.durable) this.durableWrites++;
  }
  putRun(run: RunRecord, o?: WriteOptions) {
    this.runs.set(run.id, structuredClone(run));
    this.#durable(o);
  }
  getRun(id: string) {
    return this.runs.get(id);
  }
  latestRun() {
    return [...this.runs.values()].sort((a, b) => b.startedAt - a.startedAt)[0];
  }
  listRuns(limit = 100) {
    return [...this.runs.values()].sort((a, b) => b.startedAt - a.startedAt).slice(0, limit);
  }
  getDocument(p: string) {
    const d = this.docs.get(p);
    return d && structuredClone(d);
  }
  putDocument(doc: DocumentState, o?: WriteOptions) {
    this.docs.set(doc.path, structuredClone(doc));
    this.#durable(o);
  }
  patchDocument(p: string, patch: Partial<DocumentState>, o?: WriteOptions) {
    const d = this.docs.get(p);
    if (!d) throw new Error(`Unknown document ${p}`);
    const next = { ...d, ...patch } as DocumentState;
    for (const k of Object.keys(patch) as (keyof DocumentState)[]) if (patch[k] === undefined) delete next[k];
    this.docs.set(p, next);
    this.#durable(o);
    return structuredClone(next);
  }
  removeDocument(p: string) {
    this.docs.delete(p);
  }
  #filter(q: DocumentQuery = {}) {
    return [...this.docs.values()]
      .filter((d) => (!q.stages || q.stages.includes(d.stage)) && (!q.readiness || q.readiness.includes(d.readiness)) && (!q.pathPrefix || d.path.startsWith(q.pathPrefix)))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
  }
  listDocuments(q: DocumentQuery = {}) {
    const all = this.#filter(q);
    return all.slice(q.offset ?? 0, q.limit === undefined ? undefined : (q.offset ?? 0) + q.limit).map((d) => structuredClone(d));
  }
  countDocuments(q: DocumentQuery = {}) {
    return this.#filter(q).length;
  }
  counts(): RunCounts {
    const c = emptyCounts();
    for (const d of this.docs.values()) {
      c.total++;
      if (d.readiness === 'rejected') c.rejected++;
      else if (d.stage === 'pending') c.pending++;
      else if (isActiveStage(d.stage)) c.running++;
      else if (d.stage === 'done') c.done++;
      else if (d.stage === 'failed') c.failed++;
      else if (d.stage === 'dead-lettered') c.deadLettered++;
    }
    return c;
  }
  resetInFlight() {
    let n = 0;
    for (const d of this.docs.values()) {
      if (isActiveStage(d.stage)) {
        d.stage = 'pending';
        n++;
      }
    }
    return n;
  }
  recordAttempt(a: AttemptRecord) {
    this.attempts.push(structuredClone(a));
  }
  listAttempts(f: { path?: string; runId?: string; limit?: number } = {}) {
    return this.attempts.filter((a) => (!f.path || a.path === f.path) && (!f.runId || a.runId === f.runId)).slice(0, f.limit);
  }
  putDeadLetter(l: DeadLetter, o?: WriteOptions) {
    this.letters.set(l.path, structuredClone(l));
    this.#durable(o);
  }
  getDeadLetter(p: string) {
    return this.letters.get(p);
  }
  listDeadLetters() {
    return [...this.letters.values()].sort((a, b) => a.at - b.at);
  }
  markDeadLetterReprocessed(p: string, at: number, note?: string) {
    const l = this.letters.get(p);
    if (!l) return;
    this.reprocessed.push({ ...l, reprocessedAt: at, ...(note ? { note } : {}) });
    this.letters.delete(p);
  }
  removeDeadLetter(p: string) {
    this.letters.delete(p);
  }
  sync() {}
  async flush() {
    this.durableWrites++;
  }
  compact() {}
  close() {
    this.closed = true;
  }
}
