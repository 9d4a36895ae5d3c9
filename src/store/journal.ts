/**
 * Append-only journal of checkpoint-store changes.
 *
 * One line per change: `{"seq":<n>,"op":"<op>","data":<json>,"crc":<crc32>}` + `\n`. The CRC-32 covers the
 * UTF-8 bytes of the line up to (not including) `,"crc":`, so each line is self-verifying: a torn write
 * (crash mid-line), a zero-filled tail or a flipped byte is detected on replay and skipped with a warning,
 * never applied. Lines are written with `fs.writeSync` on a file descriptor opened once; `sync()` is an
 * `fdatasync`.
 *
 * File names are `journal-<first seq>.ndjson` (zero-padded so they also sort as text).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

// ---------------------------------------------------------------------------------------------------------
// CRC-32 (zlib.crc32 exists from Node 20.15 / 22.2; a table fallback keeps older hosts working)

let crcTable: Uint32Array | undefined;

function crc32Fallback(data: Uint8Array, seed = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const nativeCrc32: ((data: string | Uint8Array, seed?: number) => number) | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? (data, seed) => zlib.crc32(data, seed) : undefined;

/** CRC-32 (IEEE) of bytes, or of a string's UTF-8 bytes; `seed` continues a previous CRC. */
export function crc32(data: string | Uint8Array, seed = 0): number {
  if (nativeCrc32) return nativeCrc32(data, seed);
  return crc32Fallback(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, seed);
}

/** The pure-JS CRC-32 used when zlib.crc32 is missing (exported for tests). */
export function crc32Portable(data: Uint8Array, seed = 0): number {
  return crc32Fallback(data, seed);
}

/** True when the fast native `zlib.crc32` is available (Node ≥ 20.15). */
export const hasNativeCrc32 = nativeCrc32 !== undefined;

// ---------------------------------------------------------------------------------------------------------
// Records

export interface JournalRecord {
  seq: number;
  op: string;
  data: unknown;
}

const CRC_MARK = ',"crc":';
const CRC_MARK_BYTES = Buffer.from(CRC_MARK, 'utf8');

/** Encodes one journal line (with its trailing newline) as UTF-8 bytes. */
export function encodeRecord(seq: number, op: string, data: unknown): Buffer {
  const body = `{"seq":${seq},"op":${JSON.stringify(op)},"data":${JSON.stringify(data ?? null)}`;
  return Buffer.from(`${body}${CRC_MARK}${crc32(body)}}\n`, 'utf8');
}

/** Decodes one line (without its newline). Returns an error string when the line is invalid. */
export function decodeLine(line: Buffer): JournalRecord | string {
  if (line.length === 0) return 'empty line';
  const mark = line.lastIndexOf(CRC_MARK_BYTES);
  if (mark < 0) return 'no checksum';
  const crcText = line.subarray(mark + CRC_MARK_BYTES.length).toString('utf8');
  const m = /^(\d{1,10})\}\r?$/.exec(crcText);
  if (!m) return 'malformed checksum';
  const expected = Number(m[1]);
  const actual = crc32(line.subarray(0, mark));
  if (expected !== actual) return `checksum mismatch (expected ${expected}, got ${actual})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.toString('utf8'));
  } catch (e) {
    return `invalid JSON (${(e as Error).message})`;
  }
  const rec = parsed as { seq?: unknown; op?: unknown; data?: unknown };
  if (typeof rec !== 'object' || rec === null) return 'not an object';
  if (typeof rec.seq !== 'number' || !Number.isSafeInteger(rec.seq) || rec.seq < 1) return 'invalid seq';
  if (typeof rec.op !== 'string') return 'invalid op';
  return { seq: rec.seq, op: rec.op, data: rec.data };
}

export interface JournalLineIssue {
  /** 1-based line number in the file. */
  line: number;
  /** Byte offset of the line in the file. */
  offset: number;
  reason: string;
  /** True when no valid line follows in this file (a torn/incomplete tail from a crash). */
  tail: boolean;
}

export interface ParsedJournal {
  records: JournalRecord[];
  issues: JournalLineIssue[];
}

/** Splits a journal file's bytes into verified records and invalid lines. */
export function parseJournal(buf: Buffer): ParsedJournal {
  const records: JournalRecord[] = [];
  const issues: JournalLineIssue[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, start);
    const complete = end >= 0;
    if (!complete) end = buf.length;
    lineNo++;
    const line = buf.subarray(start, end);
    const rec = decodeLine(line);
    if (typeof rec === 'string') {
      issues.push({ line: lineNo, offset: start, reason: complete ? rec : `incomplete last line (${rec})`, tail: false });
    } else {
      records.push(rec);
    }
    start = end + 1;
  }
  // Invalid lines after the last valid one are a torn tail.
  const lastValidLine = records.length === 0 ? 0 : lineNo - countTrailingIssues(issues, lineNo);
  for (const issue of issues) if (issue.line > lastValidLine) issue.tail = true;
  return { records, issues };
}

function countTrailingIssues(issues: JournalLineIssue[], lastLine: number): number {
  let n = 0;
  for (let i = issues.length - 1; i >= 0 && issues[i].line === lastLine - n; i--) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Files

/**
 * The last record of a journal file, read from its end (up to 64 KiB), or undefined when its last line is
 * torn, corrupt or longer than that, or the file cannot be read. Lines are appended in seq order, so a
 * file whose last record is covered by a snapshot is covered entirely and need not be parsed.
 */
export function lastRecordOf(file: string): JournalRecord | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    if (len === 0) return undefined;
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    if (buf[len - 1] !== 0x0a) return undefined; // torn tail: the full parse reports it
    const start = buf.lastIndexOf(0x0a, len - 2) + 1;
    if (start === 0 && len < size) return undefined; // the line is longer than what was read
    const rec = decodeLine(buf.subarray(start, len - 1));
    return typeof rec === 'string' ? undefined : rec;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export interface JournalFile {
  file: string;
  /** First sequence number the file was opened for. */
  startSeq: number;
}

const JOURNAL_RE = /^journal-(\d+)\.ndjson$/;

export function journalFileName(startSeq: number): string {
  return `journal-${String(startSeq).padStart(12, '0')}.ndjson`;
}

/** Journal files in `dir`, ordered by their first sequence number. */
export function listJournalFiles(dir: string): JournalFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: JournalFile[] = [];
  for (const name of names) {
    const m = JOURNAL_RE.exec(name);
    if (m) out.push({ file: path.join(dir, name), startSeq: Number(m[1]) });
  }
  return out.sort((a, b) => a.startSeq - b.startSeq);
}

/** fsync a directory so that created/renamed/deleted entries are durable (best effort where unsupported). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not supported on some platforms/filesystems (e.g. Windows); the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Append-only writer: one `writeSync` per record on a descriptor opened once. */
export class JournalWriter {
  private fd: number | undefined;
  /** Number of fdatasync calls (observable by tests and benchmarks). */
  syncs = 0;
  writes = 0;
  bytes = 0;
  private dirty = false;

  private constructor(readonly file: string, fd: number) {
    this.fd = fd;
  }

  /** Creates (or truncates) the journal file and makes its directory entry durable. */
  static create(file: string): JournalWriter {
    const fd = fs.openSync(file, 'w');
    fsyncDir(path.dirname(file));
    return new JournalWriter(file, fd);
  }

  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  append(seq: number, op: string, data: unknown): void {
    this.writeBytes(encodeRecord(seq, op, data));
  }

  writeBytes(buf: Buffer): void {
    const fd = this.fd;
    if (fd === undefined) throw new Error(`journal ${this.file} is closed`);
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    this.writes++;
    this.bytes += buf.length;
    this.dirty = true;
  }

  /** fdatasync; a no-op (returns false) when nothing was written since the last sync. */
  sync(): boolean {
    if (this.fd === undefined || !this.dirty) return false;
    fs.fdatasyncSync(this.fd);
    this.syncs++;
    this.dirty = false;
    return true;
  }

  /**
   * Group commit: fdatasync on libuv's thread pool, so the event loop is not blocked. Writes made while a
   * flush is in progress are covered by one follow-up flush shared by all who asked during that time.
   */
  flush(): Promise<void> {
    if (this.fd === undefined) return Promise.resolve();
    if (this.flushing) {
      this.nextFlush ??= this.flushing.then(
        () => {
          this.nextFlush = undefined;
          return this.flush();
        },
        () => {
          this.nextFlush = undefined;
          return this.flush();
        },
      );
      return this.nextFlush;
    }
    if (!this.dirty) return Promise.resolve();
    const fd = this.fd;
    this.dirty = false;
    const flushing = new Promise<void>((resolve, reject) => {
      fs.fdatasync(fd, (err) => {
        this.flushing = undefined;
        if (!err) {
          this.syncs++;
          resolve();
        } else if (this.fd === undefined) {
          resolve(); // closed meanwhile: close() synced synchronously
        } else {
          this.dirty = true;
          reject(err);
        }
      });
    });
    this.flushing = flushing;
    return flushing;
  }

  private flushing: Promise<void> | undefined;
  private nextFlush: Promise<void> | undefined;

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      if (this.dirty || this.flushing) fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}
