/**
 * Putting a compacted state on disk: the exported database becomes `state.sqlite`, the snapshot before it
 * `state.sqlite.bak`, and the journals neither needs are deleted.
 *
 * A compaction the store starts on its own (after `compactionThreshold` changes) writes the snapshot in the
 * background: the export and the new journal are synchronous, the temp file's write and fsync run on
 * libuv's thread pool while changes go on into the new journal, and the snapshot is published (backup link,
 * rename, folder fsync, old journals deleted) when the file is durable. Until then the previous snapshot and
 * every journal since it are on disk, so a crash at any point loses nothing. Writing 35 MB and fsyncing it
 * was about half of a compaction at 100k documents; off the event loop, compactions can come twice as often
 * for the same cost per change, which halves the journal a crash leaves to replay (issue #15).
 *
 * `compact()`, `close()` and an open that repaired something write synchronously, as before; a background
 * write still in flight then is superseded (its file is deleted and never published).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempId } from '../core/tempNames';
import { SimulatedCrash } from './errors';
import { fsyncDir } from './journal';
import type { CompactionStep, StoreLogger } from './options';
import { BACKUP_FILE, SNAPSHOT_FILE, deleteCoveredJournals, writeFileDurable } from './snapshot';

/** The database as exported at journal seq `seq`, stamped. */
export interface Exported {
  bytes: Uint8Array;
  seq: number;
}

/** What the snapshot writer asks of its store when it publishes: the journal open now and its last seq. */
export interface JournalPosition {
  current(): string | undefined;
  lastSeq(): number;
}

/** Temp files of background writes: `state.sqlite.<tag>.bg.tmp`. Left by a crash; deleted at the next open. */
const BACKGROUND_TMP = /^state\.sqlite\.[0-9a-z-]+\.bg\.tmp$/;

/** Deletes the temp files of snapshot writes a crash interrupted (the store's lock is held). */
export function removeSnapshotTemps(dir: string): void {
  fs.rmSync(path.join(dir, `${SNAPSHOT_FILE}.tmp`), { force: true, recursive: true });
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (BACKGROUND_TMP.test(n)) fs.rmSync(path.join(dir, n), { force: true });
}

/** Makes a durable temp file the snapshot: the old one hard-linked (or copied) as the backup, rename, fsync. */
function publish(dir: string, tmpFile: string, step: (s: CompactionStep) => void): { backupLinked: boolean } {
  const primaryFile = path.join(dir, SNAPSHOT_FILE);
  const bakFile = path.join(dir, BACKUP_FILE);
  let backupLinked = false;
  if (fs.existsSync(primaryFile)) {
    fs.rmSync(bakFile, { force: true });
    try {
      fs.linkSync(primaryFile, bakFile);
    } catch {
      fs.copyFileSync(primaryFile, bakFile);
    }
    backupLinked = true;
    step('backup-linked');
  }
  fs.renameSync(tmpFile, primaryFile);
  fsyncDir(dir);
  step('renamed');
  return { backupLinked };
}

/**
 * One `write` of the whole buffer, not `writeFile`'s 512 KB chunks: each chunk waits for a turn of the event
 * loop, so a busy writer (the very one compacting) would stretch a 35 MB write over seconds.
 */
async function writeFileDurableAsync(file: string, bytes: Uint8Array): Promise<void> {
  const fh = await fs.promises.open(file, 'w');
  try {
    for (let off = 0; off < bytes.length; ) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The snapshot files of one store folder, and the seqs they hold. */
export class SnapshotWriter {
  /** Journal seq of state.sqlite on disk (undefined: no primary snapshot yet). */
  primarySeq: number | undefined;
  /** Journal seq of state.sqlite.bak on disk, when known. */
  bakSeq: number | undefined;
  #generation = 0;
  #background: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly dir: string,
    private readonly logger: StoreLogger,
    private readonly step: (s: CompactionStep) => void,
  ) {}

  /** True while a background write is in flight (the store starts no other meanwhile). */
  get busy(): boolean {
    return this.#background !== undefined;
  }

  /** Resolves when no background write is in flight. */
  async settled(): Promise<void> {
    while (this.#background) await this.#background;
  }

  /**
   * Writes and publishes `exported` now; a background write in flight is superseded. Throws on failure. The
   * store then opens its new journal and calls {@link deleteCovered}.
   */
  writeNow(exported: Exported): void {
    this.#generation++;
    const tmpFile = path.join(this.dir, `${SNAPSHOT_FILE}.tmp`);
    writeFileDurable(tmpFile, exported.bytes);
    this.step('temp-written');
    this.#published(publish(this.dir, tmpFile, this.step), exported.seq);
  }

  /** Deletes the journals no snapshot needs any more (the .bak snapshot plus the journals is the full state). */
  deleteCovered(journal: JournalPosition): void {
    if (this.bakSeq !== undefined) deleteCoveredJournals(this.dir, this.bakSeq, journal.current(), journal.lastSeq(), this.logger);
    this.step('journals-deleted');
  }

  /**
   * Writes `exported` on the thread pool and publishes it when durable, unless a synchronous write or the
   * store's close came first. `done` runs once it is published; a failure is logged and loses nothing.
   */
  writeInBackground(exported: Exported, journal: JournalPosition, done: () => void): void {
    const generation = ++this.#generation;
    const tmpFile = path.join(this.dir, `${SNAPSHOT_FILE}.${tempId()}.bg.tmp`);
    const superseded = () => this.#closed || generation !== this.#generation;
    const discard = () => fs.promises.rm(tmpFile, { force: true }).catch(() => undefined);
    const background = writeFileDurableAsync(tmpFile, exported.bytes)
      .then(() => {
        if (superseded()) return discard();
        this.step('temp-written');
        this.#published(publish(this.dir, tmpFile, this.step), exported.seq);
        this.deleteCovered(journal);
        done();
      })
      .catch((e: unknown) => {
        if (e instanceof SimulatedCrash) return; // a test's crash: the files stay as they are
        this.logger.error?.(`checkpoint store: background compaction failed: ${(e as Error).message}; the previous snapshot and the journals still hold the state`);
        return discard();
      })
      .finally(() => {
        if (this.#background === background) this.#background = undefined;
      });
    this.#background = background;
  }

  /** The store is closing: a background write that finishes later is discarded. */
  close(): void {
    this.#closed = true;
    this.#generation++;
  }

  #published(r: { backupLinked: boolean }, seq: number): void {
    if (r.backupLinked) this.bakSeq = this.primarySeq;
    this.primarySeq = seq;
  }
}
