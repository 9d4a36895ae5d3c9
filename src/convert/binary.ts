/**
 * Telling text from binary data before a text-like converter (text, Markdown, CSV, JSON, HTML) turns it
 * into a prompt: an executable, an image or random bytes named `.txt` must fail once with
 * UNSUPPORTED_CONTENT instead of being sent to the model (and re-asked) as garbage.
 *
 * The heuristic is git's (`buffer_is_binary`: a NUL byte in the first 8,000 bytes means binary), plus a
 * share of control characters that text does not have, so that binary data without a NUL byte is caught
 * too. Text with a UTF-16 byte order mark is judged on its decoded characters (its ASCII characters are
 * half NUL bytes); UTF-16 without a mark is recognised by where its NUL bytes are (every second byte) and
 * decoded as such (see `decodeText`). Only the first {@link SNIFF_BYTES} bytes are looked at: a text file
 * with binary data far inside it is still text, as for git.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';

/** Bytes looked at, as git does. */
export const SNIFF_BYTES = 8000;
/**
 * Share of suspicious characters (C0 controls other than tab, line feed, vertical tab, form feed, carriage
 * return and escape; DEL; and, in text that is not UTF-8, the bytes windows-1252 leaves unassigned) above
 * which the bytes are binary. Text has almost none; uniformly random bytes without NUL have ~12 %.
 */
export const MAX_CONTROL_SHARE = 0.05;
/** Fewer suspicious characters than this never make a file binary (a few stray ones in a short file). */
const MIN_CONTROL_COUNT = 8;

/** File signatures named in the message (only for the message: any NUL byte or control flood decides). */
const SIGNATURES: [bytes: number[], name: string][] = [
  [[0x7f, 0x45, 0x4c, 0x46], 'an ELF executable'],
  [[0x4d, 0x5a], 'a Windows executable (MZ)'],
  [[0xcf, 0xfa, 0xed, 0xfe], 'a Mach-O executable'],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'a PDF file'],
  [[0x50, 0x4b, 0x03, 0x04], 'a ZIP archive (or DOCX/XLSX)'],
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0xff, 0xd8, 0xff], 'a JPEG image'],
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image'],
  [[0x1f, 0x8b], 'gzip-compressed data'],
  [[0x42, 0x5a, 0x68], 'bzip2-compressed data'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz-compressed data'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'zstd-compressed data'],
  [[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], 'a 7-Zip archive'],
  [[0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66], 'an SQLite database'],
  [[0xd0, 0xcf, 0x11, 0xe0], 'an old Office (OLE) document'],
  [[0x00, 0x61, 0x73, 0x6d], 'a WebAssembly module'],
];

/** windows-1252 bytes without a character. */
const CP1252_UNASSIGNED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

function isSuspiciousControl(c: number): boolean {
  // allowed: \t \n \v \f \r (9–13) and ESC (27, colour codes in logs)
  return (c < 0x20 && (c < 9 || c > 13) && c !== 0x1b) || c === 0x7f;
}

export type ByteOrder = 'le' | 'be';

/**
 * UTF-16 without a byte order mark: NUL bytes at one parity only, on at least a third of those
 * positions (ASCII-range characters), and none at the other. Undefined otherwise.
 */
export function sniffUtf16WithoutBom(bytes: Uint8Array): ByteOrder | undefined {
  const n = Math.min(bytes.length, SNIFF_BYTES) & ~1;
  if (n < 4) return undefined;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) evenNul++;
    if (bytes[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  if (oddNul >= pairs / 3 && evenNul === 0) return 'le';
  if (evenNul >= pairs / 3 && oddNul === 0) return 'be';
  return undefined;
}

/** What binary data was seen in `bytes`, or undefined when they look like text. */
export function sniffBinary(bytes: Uint8Array): string | undefined {
  const head = bytes.subarray(0, SNIFF_BYTES);
  // byte order marks: judge the decoded characters
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) {
    return judgeUtf16(head.subarray(2, 2 + ((head.length - 2) & ~1)), head[0] === 0xff ? 'le' : 'be');
  }
  if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return judgeBytes(head.subarray(3), true);
  const utf16 = sniffUtf16WithoutBom(head);
  if (utf16) return judgeUtf16(head.subarray(0, head.length & ~1), utf16);
  return judgeBytes(head, false);
}

function judgeUtf16(body: Uint8Array, order: ByteOrder): string | undefined {
  let nul = 0;
  let control = 0;
  const chars = body.length >> 1;
  for (let i = 0; i + 1 < body.length; i += 2) {
    const c = order === 'le' ? body[i] | (body[i + 1] << 8) : (body[i] << 8) | body[i + 1];
    if (c === 0) nul++;
    else if (isSuspiciousControl(c)) control++;
  }
  if (nul > 0) return `${nul} NUL character${nul === 1 ? '' : 's'} in the first ${chars} UTF-16 characters`;
  if (control >= MIN_CONTROL_COUNT && control > chars * MAX_CONTROL_SHARE) return `${percent(control, chars)} control characters in the first ${chars} UTF-16 characters`;
  return undefined;
}

function judgeBytes(head: Uint8Array, utf8Bom: boolean): string | undefined {
  let nul = 0;
  let control = 0;
  let high = false;
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if (c === 0) nul++;
    else if (isSuspiciousControl(c)) control++;
    else if (c >= 0x80) high = true;
  }
  // bytes windows-1252 has no character for count only when the text is not UTF-8 (decodeText's fallback)
  if (high && !utf8Bom && !isUtf8Prefix(head)) {
    for (let i = 0; i < head.length; i++) if (CP1252_UNASSIGNED.has(head[i])) control++;
  }
  const signature = SIGNATURES.find(([sig]) => sig.length <= head.length && sig.every((b, i) => head[i] === b))?.[1];
  const seen: string[] = [];
  if (nul > 0) seen.push(`${nul} NUL byte${nul === 1 ? '' : 's'} in the first ${head.length} bytes`);
  else if (control >= MIN_CONTROL_COUNT && control > head.length * MAX_CONTROL_SHARE) seen.push(`${percent(control, head.length)} control bytes in the first ${head.length} bytes`);
  else return undefined;
  return signature ? `${seen[0]}; it starts like ${signature}` : seen[0];
}

/** Whether `head` is valid UTF-8 except for a character cut off at its end. */
function isUtf8Prefix(head: Uint8Array): boolean {
  let end = head.length;
  // drop an incomplete sequence at the end (the sniffed head may cut a character)
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const b = head[end - k];
    if ((b & 0xc0) !== 0x80) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (need > k) end -= k;
      break;
    }
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}

function percent(part: number, whole: number): string {
  return `${Math.round((part / Math.max(1, whole)) * 1000) / 10} %`;
}

/** Throws UNSUPPORTED_CONTENT (non-retryable) when `bytes` look like binary data rather than text. */
export function assertTextContent(bytes: Uint8Array, path: string, format: string): void {
  const seen = sniffBinary(bytes);
  if (seen === undefined) return;
  throw new ExtractionError(ErrorCodes.UNSUPPORTED_CONTENT, `${path} is binary data, not ${format === 'text' ? 'text' : `${format} text`} (${seen})`, {
    retryable: false,
    stage: 'converting',
    details: { seen },
  });
}
