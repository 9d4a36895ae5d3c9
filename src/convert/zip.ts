/**
 * Reading a ZIP archive's central directory, unpacking chosen entries within a byte bound, and writing
 * entries back as a stored (uncompressed) archive — for the DOCX converter, which must not hand a zip
 * bomb to mammoth: mammoth's JSZip inflates whatever it reads with no bound (a 1 MB DOCX took 2.3 GB).
 *
 * Sizes in the directory are only claims: a total over the bound is refused before anything is inflated,
 * and inflating itself stops at what is left of the bound (zlib's `maxOutputLength`), so an archive that
 * understates its sizes cannot pass it either. ZIP64 fields are read; encrypted entries and methods other
 * than stored (0) and deflate (8) are refused.
 */
import * as zlib from 'zlib';
import { formatBytes } from '../core/reader';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  flags: number;
  compressedSize: number;
  /** As the directory claims it. */
  uncompressedSize: number;
  localHeaderOffset: number;
}

/** The archive cannot be read (truncated, not a ZIP, unsupported feature). */
export class ZipFormatError extends Error {
  override readonly name = 'ZipFormatError';
}

/** Unpacking would pass the byte bound (`declared`: the directory said so; else inflating found out). */
export class ZipTooLargeError extends Error {
  override readonly name = 'ZipTooLargeError';
  constructor(
    message: string,
    readonly limitBytes: number,
    readonly declared: boolean,
  ) {
    super(message);
  }
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Entries accepted in one archive (a DOCX has tens to a few thousand). */
export const MAX_ZIP_ENTRIES = 50_000;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function need(ok: boolean, what: string): void {
  if (!ok) throw new ZipFormatError(what);
}

function u64(v: DataView, at: number): number {
  const n = v.getBigUint64(at, true);
  need(n <= BigInt(Number.MAX_SAFE_INTEGER), 'a ZIP64 size is out of range');
  return Number(n);
}

/** The entries of the central directory (nothing is inflated). */
export function readZipDirectory(bytes: Uint8Array): ZipEntry[] {
  const v = view(bytes);
  need(bytes.length >= 22, 'too short for a ZIP archive');
  let eocd = -1;
  for (let i = bytes.length - 22, stop = Math.max(0, bytes.length - 22 - 0xffff); i >= stop; i--) {
    if (v.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  need(eocd >= 0, 'no end of central directory (not a ZIP archive, or truncated)');
  let count = v.getUint16(eocd + 10, true);
  let cdSize = v.getUint32(eocd + 12, true);
  let cdOffset = v.getUint32(eocd + 16, true);
  if ((count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && eocd >= 20 && v.getUint32(eocd - 20, true) === ZIP64_LOCATOR) {
    const at = u64(v, eocd - 12);
    need(at + 56 <= bytes.length && v.getUint32(at, true) === ZIP64_EOCD, 'broken ZIP64 end of central directory');
    count = u64(v, at + 32);
    cdSize = u64(v, at + 40);
    cdOffset = u64(v, at + 48);
  }
  need(cdOffset + cdSize <= bytes.length, 'central directory outside the file (truncated?)');
  need(count <= MAX_ZIP_ENTRIES, `${count} entries (at most ${MAX_ZIP_ENTRIES} are read)`);
  const entries: ZipEntry[] = [];
  const decoder = new TextDecoder('utf-8');
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    need(p + 46 <= bytes.length && v.getUint32(p, true) === CENTRAL, 'broken central directory');
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    let compressedSize = v.getUint32(p + 20, true);
    let uncompressedSize = v.getUint32(p + 24, true);
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    need(p + 46 + nameLength + extraLength + commentLength <= bytes.length, 'broken central directory');
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    // ZIP64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF, in this order
    for (let e = p + 46 + nameLength, end = e + extraLength; e + 4 <= end; ) {
      const id = v.getUint16(e, true);
      const size = v.getUint16(e + 2, true);
      if (id === 0x0001) {
        let f = e + 4;
        const take = () => {
          need(f + 8 <= e + 4 + size, 'broken ZIP64 extra field');
          const n = u64(v, f);
          f += 8;
          return n;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      e += 4 + size;
    }
    entries.push({ name, method, flags, compressedSize, uncompressedSize, localHeaderOffset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The compressed bytes of an entry (after its local header). */
function entryData(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const v = view(bytes);
  const at = entry.localHeaderOffset;
  need(at + 30 <= bytes.length && v.getUint32(at, true) === LOCAL, `no local header for ${entry.name}`);
  const start = at + 30 + v.getUint16(at + 26, true) + v.getUint16(at + 28, true);
  need(start + entry.compressedSize <= bytes.length, `${entry.name} is truncated`);
  return bytes.subarray(start, start + entry.compressedSize);
}

/**
 * Unpacks the entries `keep` chooses, all together at most `limitBytes`: refused before inflating when
 * the directory claims more, and inflating stops where the bound is passed (archives that lie).
 */
export function unpackZipEntries(bytes: Uint8Array, entries: readonly ZipEntry[], keep: (name: string) => boolean, limitBytes: number): Map<string, Uint8Array> {
  const chosen = entries.filter((e) => keep(e.name) && !e.name.endsWith('/'));
  const declared = chosen.reduce((sum, e) => sum + e.uncompressedSize, 0);
  if (declared > limitBytes) {
    const biggest = chosen.reduce((a, b) => (b.uncompressedSize > a.uncompressedSize ? b : a));
    throw new ZipTooLargeError(`declares ${formatBytes(declared)} unpacked (largest: ${biggest.name}, ${formatBytes(biggest.uncompressedSize)} from ${formatBytes(biggest.compressedSize)})`, limitBytes, true);
  }
  const out = new Map<string, Uint8Array>();
  let used = 0;
  for (const e of chosen) {
    need((e.flags & 1) === 0, `${e.name} is encrypted`);
    const data = entryData(bytes, e);
    const left = limitBytes - used;
    let content: Uint8Array;
    if (e.method === 0) {
      content = data;
    } else if (e.method === 8) {
      if (left < 1) throw new ZipTooLargeError(`unpacks to more than ${formatBytes(limitBytes)} (at ${e.name})`, limitBytes, false);
      try {
        content = zlib.inflateRawSync(data, { maxOutputLength: Math.min(left, 4 * 1024 * 1024 * 1024) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE') {
          throw new ZipTooLargeError(`unpacks to more than ${formatBytes(limitBytes)} (at ${e.name}, which declares ${formatBytes(e.uncompressedSize)})`, limitBytes, false);
        }
        throw new ZipFormatError(`${e.name} cannot be inflated: ${(err as Error).message}`);
      }
    } else {
      throw new ZipFormatError(`${e.name} uses compression method ${e.method} (only stored and deflate are read)`);
    }
    used += content.length;
    if (used > limitBytes) throw new ZipTooLargeError(`unpacks to more than ${formatBytes(limitBytes)} (at ${e.name})`, limitBytes, false);
    out.set(e.name, content);
  }
  return out;
}


/** A ZIP archive of `files` (name → content, in order), every entry stored without compression. */
export function storedZip(files: Iterable<[string, Uint8Array]>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  let count = 0;
  for (const [name, content] of files) {
    const nameBytes = Buffer.from(name, 'utf8');
    const data = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    const crc = zlib.crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(CENTRAL, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(nameBytes.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, data);
    central.push(cd, nameBytes);
    offset += 30 + nameBytes.length + data.length;
    count++;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}
