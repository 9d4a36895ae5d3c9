/**
 * Status counts of the documents, O(1): a (stage × readiness) matrix kept in step with every document
 * change, recomputed from the database only when a store opens. {@link countsOf} maps it to the
 * {@link RunCounts} buckets.
 */
import type { Database } from 'sql.js';
import { ACTIVE_STAGES, emptyCounts, type DocumentState, type Readiness, type RunCounts, type Stage } from '../core/types';
import { READINESS, READINESS_INDEX, STAGE_INDEX, STAGES } from './rows';

/**
 * Count buckets (see {@link RunCounts}), a partition of all documents: rejected = readiness `rejected`
 * (whatever the stage); otherwise by stage: pending = `pending`, running = an active stage (reading ..
 * exporting), done, failed, deadLettered = `dead-lettered`. total = all documents = the sum of the buckets.
 */
export function countsOf(docs: Iterable<Pick<DocumentState, 'stage' | 'readiness'>>): RunCounts {
  const c = emptyCounts();
  for (const d of docs) addToCounts(c, d.stage, d.readiness, 1);
  return c;
}

export function addToCounts(c: RunCounts, stage: Stage, readiness: Readiness, n: number): void {
  c.total += n;
  if (readiness === 'rejected') {
    c.rejected += n;
    return;
  }
  switch (stage) {
    case 'pending':
      c.pending += n;
      break;
    case 'done':
      c.done += n;
      break;
    case 'failed':
      c.failed += n;
      break;
    case 'dead-lettered':
      c.deadLettered += n;
      break;
    default:
      c.running += n; // active stages
  }
}

/** Document counts per (stage, readiness): index stage * 3 + readiness. */
export class StatusMatrix {
  readonly #m = new Float64Array(STAGES.length * READINESS.length);

  bump(stage: Stage, readiness: Readiness, n: number): void {
    this.#m[STAGE_INDEX.get(stage)! * READINESS.length + READINESS_INDEX.get(readiness)!] += n;
  }

  /** Documents of these stages and readiness values (all when omitted). */
  count(stages: readonly Stage[] = STAGES, readinessValues: readonly Readiness[] = READINESS): number {
    const readiness = new Set(readinessValues);
    let n = 0;
    for (const s of new Set(stages)) {
      const si = STAGE_INDEX.get(s);
      if (si === undefined) continue;
      for (let r = 0; r < READINESS.length; r++) if (readiness.has(READINESS[r])) n += this.#m[si * READINESS.length + r];
    }
    return n;
  }

  /** All documents. */
  total(): number {
    let docs = 0;
    for (let i = 0; i < this.#m.length; i++) docs += this.#m[i];
    return docs;
  }

  counts(): RunCounts {
    const c = emptyCounts();
    for (let s = 0; s < STAGES.length; s++) {
      for (let r = 0; r < READINESS.length; r++) {
        const n = this.#m[s * READINESS.length + r];
        if (n !== 0) addToCounts(c, STAGES[s], READINESS[r], n);
      }
    }
    return c;
  }

  /** Documents in an active stage (reading .. exporting). */
  active(): number {
    let n = 0;
    for (const s of ACTIVE_STAGES) for (let r = 0; r < READINESS.length; r++) n += this.#m[STAGE_INDEX.get(s)! * READINESS.length + r];
    return n;
  }

  /** What `resetInFlight` does to the documents: every active stage goes back to `pending`. */
  activeToPending(): void {
    const pending = STAGE_INDEX.get('pending')!;
    for (const s of ACTIVE_STAGES) {
      const si = STAGE_INDEX.get(s)!;
      for (let r = 0; r < READINESS.length; r++) {
        this.#m[pending * READINESS.length + r] += this.#m[si * READINESS.length + r];
        this.#m[si * READINESS.length + r] = 0;
      }
    }
  }

  /** Recomputes the counters from the database (two covering-index scans, no table scan). */
  recount(db: Database, warn: (message: string) => void): void {
    const m = this.#m;
    m.fill(0);
    const ready = READINESS_INDEX.get('ready')!;
    const perStage = db.exec('SELECT stage, count(*) FROM documents GROUP BY stage')[0]?.values ?? [];
    const unready = db.exec("SELECT stage, readiness, count(*) FROM documents WHERE readiness <> 'ready' GROUP BY readiness, stage")[0]?.values ?? [];
    const unknown = (n: unknown, what: string) => warn(`checkpoint store: ${String(n)} document(s) with unknown ${what} are not counted`);
    for (const [stage, n] of perStage) {
      const si = STAGE_INDEX.get(stage as string);
      if (si === undefined) unknown(n, `stage ${String(stage)}`);
      else m[si * READINESS.length + ready] = n as number;
    }
    for (const [stage, readiness, n] of unready) {
      const si = STAGE_INDEX.get(stage as string);
      const ri = READINESS_INDEX.get(readiness as string);
      if (si === undefined) continue; // reported above
      m[si * READINESS.length + ready] -= n as number;
      if (ri === undefined) unknown(n, `readiness ${String(readiness)}`);
      else m[si * READINESS.length + ri] = n as number;
    }
  }
}
