/**
 * E-mail converter (`.eml`, RFC 5322 / MIME), read with mailparser (loaded on the first message): the
 * headers a reader looks at (From, To, Cc, Date, Subject), the body (its text part, else its HTML part as
 * text), then each attachment as a part of its own under an `Attachment: <name>` line — converted with the
 * converter its file name calls for (PDF, DOCX, text, …), or named with its type and size when there is none
 * or it cannot be read (a warning says why; the message itself still converts).
 *
 * Bad input: zero bytes → EMPTY_DOCUMENT; bytes without any header → CORRUPT_INPUT ("not an e-mail");
 * a message with neither body nor readable attachment → EMPTY_DOCUMENT.
 */
import * as path from 'node:path';
import type { ParsedMail } from 'mailparser';
import { ErrorCodes, ExtractionError } from '../core/errors';
import { formatBytes } from '../core/reader';
import { converterCacheKey } from './cache';
import { htmlToText } from './html';
import { emptyDocumentError, linePositions, normalizeNewlines, throwIfAborted } from './text';
import type { ConvertedDocument, ConvertInput, Converter } from './types';

type SimpleParser = (input: Buffer, options?: { skipImageLinks?: boolean; skipTextLinks?: boolean }) => Promise<ParsedMail>;

let parserPromise: Promise<SimpleParser> | undefined;
function loadParser(): Promise<SimpleParser> {
  parserPromise ??= import('mailparser').then((m) => (m as unknown as { simpleParser: SimpleParser }).simpleParser);
  return parserPromise;
}

/** Output version of this converter: bump when its text changes, so cached conversions are redone. */
export const EML_CONVERTER_VERSION = 1;

export interface EmlOptions {
  /** The converter for an attachment's file name (the registry's), or undefined when there is none. */
  converterFor?: (fileName: string) => Converter | undefined;
}

function addressText(a: ParsedMail['to']): string | undefined {
  if (!a) return undefined;
  return (Array.isArray(a) ? a : [a]).map((x) => x.text).join(', ') || undefined;
}

function headerBlock(mail: ParsedMail): string {
  const rows: [string, string | undefined][] = [
    ['From', addressText(mail.from)],
    ['To', addressText(mail.to)],
    ['Cc', addressText(mail.cc)],
    ['Date', mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : undefined],
    ['Subject', mail.subject],
  ];
  return rows
    .filter((r): r is [string, string] => !!r[1])
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
}

async function bodyText(mail: ParsedMail): Promise<string> {
  if (mail.text && mail.text.trim()) return normalizeNewlines(mail.text).trim();
  if (typeof mail.html === 'string' && mail.html.trim()) return (await htmlToText(mail.html)).text.trim();
  return '';
}

export async function convertEmlBytes(bytes: Uint8Array, docPath = '(input)', signal?: AbortSignal, options: EmlOptions = {}): Promise<ConvertedDocument> {
  if (bytes.length === 0) throw emptyDocumentError(docPath);
  const parse = await loadParser();
  throwIfAborted(signal);
  let mail: ParsedMail;
  try {
    mail = await parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipImageLinks: true });
  } catch (err) {
    throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Cannot read e-mail ${docPath}: ${(err as Error).message}`, { retryable: false, stage: 'converting', cause: err });
  }
  if (mail.headers.size === 0) {
    throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `Cannot read e-mail ${docPath}: it has no header lines (From:, Subject:, …), so it is not an e-mail message`, {
      retryable: false,
      stage: 'converting',
    });
  }
  const warnings: string[] = [];
  const blocks = [headerBlock(mail), await bodyText(mail)];
  let content = blocks[1] !== '';
  for (const [i, att] of mail.attachments.entries()) {
    throwIfAborted(signal);
    const name = att.filename || `attachment-${i + 1}`;
    const described = `Attachment: ${name} (${att.contentType}, ${formatBytes(att.size)})`;
    const converter = options.converterFor?.(name);
    if (!converter) {
      blocks.push(described);
      continue;
    }
    try {
      const part = await converter.convert({ path: `${docPath}#${name}`, absPath: path.join(path.dirname(docPath), name), bytes: att.content, signal });
      blocks.push(`Attachment: ${name}\n${part.text.trim()}`);
      content = true;
      for (const w of part.warnings ?? []) warnings.push(`${name}: ${w}`);
    } catch (err) {
      if (err instanceof ExtractionError && err.code === ErrorCodes.CANCELLED) throw err;
      blocks.push(described);
      warnings.push(`attachment ${name} was not converted: ${(err as Error).message}`);
    }
  }
  if (!content) throw emptyDocumentError(docPath);
  const text = blocks.filter(Boolean).join('\n\n');
  return { format: 'eml', text, positions: linePositions(text), meta: { attachments: mail.attachments.length }, ...(warnings.length ? { warnings } : {}) };
}

export function createEmlConverter(options: EmlOptions = {}): Converter {
  return {
    id: 'eml',
    cacheKey: converterCacheKey('eml', EML_CONVERTER_VERSION),
    extensions: ['.eml'],
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertEmlBytes(input.bytes, input.path, input.signal, options);
    },
  };
}
