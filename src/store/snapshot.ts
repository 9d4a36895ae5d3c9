/**
 * Snapshot files of a store folder: `state.sqlite` (the last snapshot) and `state.sqlite.bak` (the one
 * before it). A snapshot is written atomically (temp file + fsync + rename, the old one hard-linked as the
 * backup) and carries a CRC-32 of its bytes in the SQLite header's `user_version` field (offset 60,
 * computed with those 4 bytes zeroed): a matching checksum proves the file is exactly what was written, so
 * the slow `PRAGMA quick_check` only runs when it does not match (or is absent, e.g. a file written by
 * another tool). Unusable files are moved aside as `*.corrupt-<timestamp>`, never deleted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Database, SqlJsStatic } from 'sql.js';
import { crc32, listJournalFiles, type JournalFile } from './journal';
import { LATEST_SCHEMA_VERSION, StoreSchemaError, schemaVersion } from './migrations';
import type { OpenReport, StoreLogger } from './options';

export const SNAPSHOT_FILE = 'state.sqlite';
export const BACKUP_FILE = 'state.sqlite.bak';

function timestampSuffix(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** Renames a file to `<file>.corrupt-<timestamp>`; returns the new name. */
export function moveAside(file: string): string {
  let target = `${file}.corrupt-${timestampSuffix()}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.corrupt-${timestampSuffix()}-${i}`;
  fs.renameSync(file, target);
  return target;
}

/** Copies a file to `<file>.corrupt-<timestamp>` (a journal that is still replayed); returns the copy's name. */
export function copyAside(file: string): string {
  let target = `${file}.corrupt-${timestampSuffix()}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.corrupt-${timestampSuffix()}-${i}`;
  fs.copyFileSync(file, target);
  return target;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Offset of the 4-byte `user_version` header field that carries the snapshot checksum. */
const CHECKSUM_OFFSET = 60;

function snapshotCrc(bytes: Uint8Array): number {
  const zero = new Uint8Array(4);
  let c = crc32(bytes.subarray(0, CHECKSUM_OFFSET));
  c = crc32(zero, c);
  return crc32(bytes.subarray(CHECKSUM_OFFSET + 4), c);
}

/** Stamps the checksum into the exported bytes (in place). */
export function stampSnapshot(bytes: Uint8Array): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(CHECKSUM_OFFSET, snapshotCrc(bytes));
}

/** 'ok' when the stamped checksum matches, 'absent' when none is stamped, 'mismatch' otherwise. */
function verifySnapshot(bytes: Uint8Array): 'ok' | 'absent' | 'mismatch' {
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(CHECKSUM_OFFSET);
  if (stored === 0) return 'absent';
  return stored === snapshotCrc(bytes) ? 'ok' : 'mismatch';
}

export type LoadResult = { db: Database; seq: number; version: number; checksum: 'ok' | 'absent' | 'mismatch' } | { error: string } | { missing: true };

function readSeq(db: Database): number {
  const res = db.exec("SELECT value FROM meta WHERE key = 'journal_seq'");
  const v = Number(res[0]?.values[0]?.[0] ?? 0);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`invalid journal_seq ${String(res[0]?.values[0]?.[0])}`);
  return v;
}

/** Loads and checks one snapshot file; a file of a newer schema throws {@link StoreSchemaError}. */
export function loadSnapshot(SQL: SqlJsStatic, file: string): LoadResult {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
    return { error: `cannot read: ${(e as Error).message}` };
  }
  if (bytes.length === 0) return { error: 'empty file' };
  if (bytes.length < 100 || !bytes.subarray(0, 16).equals(SQLITE_HEADER)) return { error: 'not an SQLite file (bad header)' };
  const checksum = verifySnapshot(bytes);
  let db: Database | undefined;
  try {
    db = new SQL.Database(bytes);
    if (checksum !== 'ok') {
      const qc = db.exec('PRAGMA quick_check');
      const verdict = String(qc[0]?.values[0]?.[0] ?? 'no result');
      if (verdict !== 'ok') throw new Error(`${checksum === 'mismatch' ? 'checksum mismatch and ' : ''}integrity check failed: ${verdict}`);
    }
    const version = schemaVersion(db);
    if (version === 0) throw new Error('no checkpoint schema');
    if (version > LATEST_SCHEMA_VERSION) {
      db.close();
      throw new StoreSchemaError(
        `${file} has schema version ${version}, newer than this build supports (${LATEST_SCHEMA_VERSION}); update the extension`,
        version,
        LATEST_SCHEMA_VERSION,
      );
    }
    return { db, seq: readSeq(db), version, checksum };
  } catch (e) {
    if (e instanceof StoreSchemaError && e.found !== undefined) throw e;
    try {
      db?.close();
    } catch {
      // ignore
    }
    return { error: (e as Error).message };
  }
}

export function writeFileDurable(file: string, bytes: Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}


/** The snapshot a writable open starts from, and the journal seqs of the files on disk. */
export interface StartingSnapshot {
  db: Database;
  version: number;
  /** Journal seq of state.sqlite on disk (undefined: no usable primary snapshot). */
  primarySeq?: number;
  /** Journal seq of state.sqlite.bak, when it was loaded. */
  bakSeq?: number;
}

/**
 * Loads `state.sqlite`, else `state.sqlite.bak`, else starts empty (unusable files are moved aside and
 * reported). Fills `report.source`, `report.snapshotSeq` and `report.movedAside`.
 */
export function loadStartingSnapshot(
  SQL: SqlJsStatic,
  dir: string,
  journals: readonly JournalFile[],
  report: OpenReport,
  warn: (m: string) => void,
  logger: StoreLogger,
): StartingSnapshot {
  const primaryFile = path.join(dir, SNAPSHOT_FILE);
  const bakFile = path.join(dir, BACKUP_FILE);
  const primary = loadSnapshot(SQL, primaryFile);
  if ('db' in primary) {
    report.source = 'snapshot';
    report.snapshotSeq = primary.seq;
    if (primary.checksum === 'mismatch') {
      logger.info?.(`checkpoint store: ${SNAPSHOT_FILE} checksum does not match (changed by another tool?) but its integrity check passed`);
    }
    return { db: primary.db, version: primary.version, primarySeq: primary.seq };
  }
  if ('error' in primary) {
    const moved = moveAside(primaryFile);
    report.movedAside.push(moved);
    warn(`snapshot ${primaryFile} is unusable (${primary.error}); moved aside to ${path.basename(moved)}, trying ${BACKUP_FILE}`);
  }
  const bak = loadSnapshot(SQL, bakFile);
  if ('db' in bak) {
    report.source = 'backup';
    report.snapshotSeq = bak.seq;
    if ('missing' in primary) warn(`snapshot ${SNAPSHOT_FILE} is missing; loaded ${BACKUP_FILE}`);
    warn(`recovered from ${BACKUP_FILE} (journal seq ${bak.seq}); later changes are replayed from the journal`);
    return { db: bak.db, version: bak.version, bakSeq: bak.seq };
  }
  if ('error' in bak) {
    const moved = moveAside(bakFile);
    report.movedAside.push(moved);
    warn(`backup snapshot ${bakFile} is unusable (${bak.error}); moved aside to ${path.basename(moved)}`);
  }
  if ('error' in primary || 'error' in bak) {
    const m =
      `no usable snapshot in ${dir}: starting from an EMPTY state` +
      (journals.length ? ' and replaying the remaining journal files' : '') +
      `; the unusable files were kept as ${report.movedAside.map((f) => path.basename(f)).join(', ')}`;
    warn(m);
    logger.error?.(m);
  } else if (journals.length > 0) {
    warn(`no snapshot in ${dir}: rebuilding the state from ${journals.length} journal file(s)`);
  }
  report.source = 'fresh';
  return { db: new SQL.Database(), version: 0 };
}

/**
 * Deletes the journals that no snapshot needs any more: those whose changes are all in the `.bak` snapshot
 * (seq ≤ `bakSeq`). `current` (the open journal) is always kept; `lastSeq` ends the last file.
 */
export function deleteCoveredJournals(dir: string, bakSeq: number, current: string | undefined, lastSeq: number, logger: StoreLogger): void {
  const files = listJournalFiles(dir);
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    if (current && f.file === current) continue;
    const lastSeqInFile = i + 1 < files.length ? files[i + 1].startSeq - 1 : lastSeq;
    if (lastSeqInFile <= bakSeq) {
      try {
        fs.unlinkSync(f.file);
      } catch (e) {
        logger.warn(`checkpoint store: cannot delete old journal ${f.file}: ${(e as Error).message}`);
      }
    }
  }
}

/**
 * Rebuilds the database when at least a quarter of its pages (and 1 MB or more) are free, e.g. after history
 * was pruned: the snapshot then shrinks instead of carrying the free pages. Outside any transaction, before
 * an export (which is O(size) anyway); rowids (attempt cursors) are kept by VACUUM.
 */
export function vacuumIfSparse(db: Database): boolean {
  const free = Number(db.exec('PRAGMA freelist_count')[0]?.values[0]?.[0] ?? 0);
  const pages = Number(db.exec('PRAGMA page_count')[0]?.values[0]?.[0] ?? 0);
  const pageSize = Number(db.exec('PRAGMA page_size')[0]?.values[0]?.[0] ?? 4096);
  if (free * 4 < pages || free * pageSize < 1024 * 1024) return false;
  db.exec('VACUUM');
  return true;
}
