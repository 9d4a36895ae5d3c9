/**
 * Reading a text file as a stream of decoded, `\n`-normalised pieces, for converters that never hold the
 * whole file (CSV, TSV, JSONL above their stream threshold: `Converter.stream`).
 *
 * What is decided on the file's head (its first {@link SNIFF_BYTES} bytes), as `decodeText` decides on a
 * whole file: binary data → UNSUPPORTED_CONTENT (binary.ts); a byte order mark, or UTF-16 without one;
 * UTF-8 when the head is valid UTF-8, else windows-1252. A file whose head is UTF-8 but that holds invalid
 * UTF-8 further on fails with CORRUPT_INPUT naming the byte (a whole-file read would have decoded all of
 * it as windows-1252; a stream cannot go back).
 *
 * At most `maxBytes` bytes are read: `truncated` says the file is longer, and the converter drops its last,
 * possibly cut, record.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { ErrorCodes, ExtractionError } from '../core/errors';
import { assertTextContent, sniffUtf16WithoutBom, SNIFF_BYTES } from './binary';
import { decodeWindows1252, throwIfAborted, type TextEncodingName } from './text';
import type { FileConvertInput } from './types';

/** Files above this size are converted from a stream (CSV, TSV and JSONL alike); smaller ones are read whole. */
export const STREAM_ABOVE_BYTES = 16 * 1024 * 1024;

export interface StreamingConverterOptions {
  /** Files above this many bytes are read as a stream. Default {@link STREAM_ABOVE_BYTES}. */
  streamAboveBytes?: number;
}

/** Bytes read from the file at a time. */
const READ_CHUNK_BYTES = 64 * 1024;

export interface TextStreamInfo {
  encoding: TextEncodingName;
  /** Size of the file. */
  fileBytes: number;
  /** Bytes read (≤ `maxBytes`). */
  readBytes: number;
  /** The file is longer than `maxBytes`: the text ends where the reading stopped (possibly in a record). */
  truncated: boolean;
}

interface Decoder {
  encoding: TextEncodingName;
  /** Bytes of a byte order mark to skip. */
  skip: number;
  decode(bytes: Uint8Array, last: boolean): string;
}

function decoderFor(head: Uint8Array): Decoder {
  const utf = (label: 'utf-8' | 'utf-16le' | 'utf-16be', encoding: TextEncodingName, skip: number, fatal = false): Decoder => {
    const d = new TextDecoder(label, { fatal, ignoreBOM: true });
    return { encoding, skip, decode: (bytes, last) => d.decode(bytes, { stream: !last }) };
  };
  if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return utf('utf-8', 'utf-8-bom', 3, true);
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return utf('utf-16le', 'utf-16le', 2);
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return utf('utf-16be', 'utf-16be', 2);
  const utf16 = sniffUtf16WithoutBom(head);
  if (utf16) return utf(`utf-16${utf16}`, `utf-16${utf16}`, 0);
  try {
    // a streaming decoder does not fail on a character cut at the end of the head
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return utf('utf-8', 'utf-8', 0, true);
  } catch {
    return { encoding: 'latin1', skip: 0, decode: (bytes) => decodeWindows1252(bytes) };
  }
}

/**
 * Calls `onText` with the file's text, piece by piece (`\r\n` and lone `\r` turned into `\n`), waiting for
 * each call; reads at most `input.maxBytes` bytes. `format` names the format in messages (`CSV`).
 */
export async function streamText(input: FileConvertInput, format: string, onText: (text: string) => void | Promise<void>): Promise<TextStreamInfo> {
  const { path, absPath, signal } = input;
  const maxBytes = Math.max(1, Math.floor(input.maxBytes));
  throwIfAborted(signal);
  const fileBytes = (await fsp.stat(absPath)).size;
  const truncated = fileBytes > maxBytes;
  const stream = createReadStream(absPath, { highWaterMark: READ_CHUNK_BYTES, ...(truncated ? { end: maxBytes - 1 } : {}) });
  let decoder: Decoder | undefined;
  let head: Buffer[] = [];
  let headBytes = 0;
  let readBytes = 0;
  let decodedUpTo = 0;
  let carryCr = false;
  const emit = async (bytes: Uint8Array, last: boolean): Promise<void> => {
    let text: string;
    try {
      text = decoder!.decode(bytes, last);
    } catch (err) {
      if (last && truncated) text = ''; // a character cut where the reading stopped
      else {
        throw new ExtractionError(
          ErrorCodes.CORRUPT_INPUT,
          `${path} is not valid UTF-8 after byte ${decodedUpTo} (it starts as UTF-8): save it with one encoding throughout, preferably UTF-8`,
          { retryable: false, stage: 'converting', cause: err },
        );
      }
    }
    decodedUpTo += bytes.length;
    if (carryCr) text = '\r' + text;
    carryCr = !last && text.endsWith('\r');
    if (carryCr) text = text.slice(0, -1);
    if (text.indexOf('\r') >= 0) text = text.replace(/\r\n?/g, '\n');
    if (text) await onText(text);
  };
  const start = async (last: boolean): Promise<void> => {
    const bytes = Buffer.concat(head);
    head = [];
    assertTextContent(bytes, path, format);
    decoder = decoderFor(bytes);
    decodedUpTo = decoder.skip;
    await emit(bytes.subarray(decoder.skip), last);
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      throwIfAborted(signal);
      readBytes += chunk.length;
      if (decoder) {
        await emit(chunk, false);
      } else {
        head.push(chunk);
        headBytes += chunk.length;
        if (headBytes >= SNIFF_BYTES) await start(false);
      }
    }
    throwIfAborted(signal);
    if (decoder) await emit(new Uint8Array(0), true);
    else await start(true);
  } finally {
    stream.destroy();
  }
  return { encoding: decoder!.encoding, fileBytes, readBytes, truncated };
}

/** The warning of a file cut at the size limit. */
export function truncationWarning(info: TextStreamInfo, kept: string): string {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  return (
    `Only the first ${mb(info.readBytes)} of the ${mb(info.fileBytes)} file were read (${kept}); the rest is over the file size limit ` +
    `(--max-file-size-mb, setting maxFileSizeMb): raise it to read more`
  );
}
