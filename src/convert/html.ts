/**
 * HTML converter: visible text only. `script`, `style`, `template`, `noscript`, `head` (except
 * `title`) and elements with the `hidden` attribute or an inline `display:none` are dropped; entities
 * are decoded (htmlparser2); whitespace is collapsed outside `pre`/`textarea`; block elements start new
 * lines, table cells are tab-separated, list items get a `- ` bullet. Each output text run has a
 * position span whose `line` is the 1-based source line it came from.
 */
import { ErrorCodes, ExtractionError } from '../core/errors';
import { assertTextContent } from './binary';
import { converterCacheKey } from './cache';
import { decodeText, decodeWindows1252, emptyDocumentError, throwIfAborted } from './text';
import { TextBuilder } from './textBuilder';
import type { ConvertedDocument, ConvertInput, Converter, PositionSpan } from './types';

const SKIP = new Set(['script', 'style', 'template', 'noscript', 'head', 'iframe', 'object', 'embed', 'svg', 'math', 'canvas', 'select', 'datalist']);
const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
/** Block elements followed by a blank line. */
const PARA = new Set(['p', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'pre', 'blockquote', 'table', 'ul', 'ol', 'dl', 'figure', 'hr', 'address', 'fieldset', 'form']);
/** Block elements followed by a line break. */
const BLOCK = new Set([
  'div', 'section', 'article', 'aside', 'header', 'footer', 'nav', 'main', 'li', 'tr', 'dt', 'dd', 'caption',
  'figcaption', 'title', 'legend', 'option', 'summary', 'details', 'thead', 'tbody', 'tfoot', 'body', 'html',
]);
const PRE = new Set(['pre', 'textarea', 'listing', 'plaintext', 'xmp']);
/**
 * Deepest nesting of open elements accepted. htmlparser2 keeps its open elements in an array it
 * `unshift`s and `shift`s, so every tag costs time proportional to the depth: 100,000 nested `<div>`s
 * took minutes. Real pages stay far below this.
 */
export const MAX_HTML_DEPTH = 4096;

const isSpaceOrTab = (c: number) => c === 32 || c === 9;
const isSpace = (c: number) => c === 32;

type HtmlParser2 = typeof import('htmlparser2');
let libPromise: Promise<HtmlParser2> | undefined;
function loadParser(): Promise<HtmlParser2> {
  libPromise ??= import('htmlparser2');
  return libPromise;
}

function lineIndex(source: string): (offset: number) => number {
  const starts = [0];
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** Extracts visible text from an HTML string. Linear in the size of the HTML (see textBuilder.ts). */
export async function htmlToText(html: string): Promise<{ text: string; positions: PositionSpan[]; title?: string }> {
  const { Parser } = await loadParser();
  const lineOf = lineIndex(html);
  const out = new TextBuilder();
  const positions: PositionSpan[] = [];
  let pendingBreak = 0;
  let pendingSpace = false;
  let pendingTab = false;
  let skipDepth = 0;
  let titleDepth = 0;
  let title = '';
  let preDepth = 0;
  const cellCount: number[] = [];
  // stack of open tags that were skipped / pre, so that close tags unwind correctly
  const stack: { name: string; skip: boolean; pre: boolean }[] = [];

  const needBreak = (n: number) => {
    if (out.length > 0) pendingBreak = Math.max(pendingBreak, n);
  };
  /** Trims the end of the text; spans that reached into the trimmed part end where the text ends now. */
  const trimEnd = (strip: (c: number) => boolean) => {
    out.trimEnd(strip);
    for (let k = positions.length - 1; k >= 0 && positions[k].end > out.length; k--) {
      positions[k].end = out.length;
      if (positions[k].start > out.length) positions[k].start = out.length;
    }
  };
  const flush = () => {
    if (pendingBreak > 0 && out.length > 0) {
      trimEnd(isSpaceOrTab);
      const trailing = out.trailingNewlines(pendingBreak);
      if (pendingBreak > trailing) out.append('\n'.repeat(pendingBreak - trailing));
      pendingSpace = false;
      pendingTab = false;
    } else if (pendingTab && out.length > 0) {
      trimEnd(isSpace);
      out.append('\t');
      pendingSpace = false;
    } else if (pendingSpace && !out.endsWithWhitespaceOrEmpty) {
      out.append(' ');
    }
    pendingBreak = 0;
    pendingSpace = false;
    pendingTab = false;
  };
  const emit = (s: string, sourceOffset: number) => {
    flush();
    const start = out.length;
    out.append(s);
    positions.push({ start, end: out.length, line: lineOf(sourceOffset) });
  };

  const parser = new Parser(
    {
      onopentag(name, attribs) {
        const style = (attribs.style ?? '').replace(/\s+/g, '').toLowerCase();
        const hidden = 'hidden' in attribs || style.includes('display:none') || style.includes('visibility:hidden');
        const skip = SKIP.has(name) || hidden;
        const pre = PRE.has(name);
        if (!VOID.has(name)) {
          stack.push({ name, skip, pre });
          if (stack.length > MAX_HTML_DEPTH) {
            throw new ExtractionError(ErrorCodes.CORRUPT_INPUT, `HTML is nested deeper than ${MAX_HTML_DEPTH} elements (line ${lineOf(parser.startIndex)})`, {
              retryable: false,
              stage: 'converting',
            });
          }
        }
        if (name === 'title') titleDepth++;
        if (skip) {
          skipDepth++;
          return;
        }
        if (skipDepth > 0) return;
        if (pre) preDepth++;
        if (name === 'br') {
          flush();
          out.append('\n');
          return;
        }
        if (PARA.has(name)) needBreak(2);
        else if (BLOCK.has(name)) needBreak(1);
        if (name === 'tr') cellCount.push(0);
        if (name === 'td' || name === 'th') {
          const n = cellCount.length ? cellCount[cellCount.length - 1]++ : 0;
          if (n > 0 && pendingBreak === 0) pendingTab = true;
        }
        if (name === 'li') {
          flush();
          out.append('- ');
        }
        if (name === 'img' && attribs.alt && attribs.alt.trim()) {
          emit(attribs.alt.trim(), parser.startIndex);
        }
      },
      ontext(data) {
        if (titleDepth > 0) title += data;
        if (skipDepth > 0) return;
        if (preDepth > 0) {
          if (data.length) emit(data.replace(/\r\n?/g, '\n'), parser.startIndex);
          return;
        }
        const collapsed = data.replace(/[ \t\n\r\f]+/g, ' ');
        if (collapsed.trim() === '') {
          if (collapsed.length) pendingSpace = true;
          return;
        }
        if (collapsed.startsWith(' ')) pendingSpace = true;
        const lead = data.length - data.replace(/^[ \t\n\r\f]+/, '').length;
        emit(collapsed.trim().replace(/\u00a0/g, ' '), parser.startIndex + lead);
        if (collapsed.endsWith(' ')) pendingSpace = true;
      },
      onclosetag(name) {
        if (VOID.has(name)) return;
        // unwind to the matching open tag (htmlparser2 already balances implied closes)
        const entry = stack.pop();
        if (!entry) return;
        if (name === 'title') titleDepth = Math.max(0, titleDepth - 1);
        if (entry.skip) {
          skipDepth = Math.max(0, skipDepth - 1);
          return;
        }
        if (skipDepth > 0) return;
        if (entry.pre) preDepth = Math.max(0, preDepth - 1);
        if (name === 'tr') cellCount.pop();
        if (PARA.has(name)) needBreak(2);
        else if (BLOCK.has(name)) needBreak(1);
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: true },
  );
  parser.write(html);
  parser.end();
  // without the trailing whitespace of the whole text
  const trimmed = out.trimmedText();
  const finalPositions = positions.filter((p) => p.start < trimmed.length && p.end > p.start).map((p) => ({ ...p, end: Math.min(p.end, trimmed.length) }));
  const t = title.replace(/\s+/g, ' ').trim();
  return { text: trimmed, positions: finalPositions, ...(t ? { title: t } : {}) };
}

/** Detects `<meta charset=…>` in the first 2 KB when the bytes carry no BOM and are not valid UTF-8. */
function decodeHtml(bytes: Uint8Array): { text: string; encoding: string } {
  const d = decodeText(bytes);
  if (d.encoding !== 'latin1') return d;
  const head = decodeWindows1252(bytes.subarray(0, 2048));
  const m = /<meta[^>]+charset\s*=\s*["']?([\w-]+)/i.exec(head);
  if (m) {
    try {
      const decoder = new TextDecoder(m[1].toLowerCase());
      if (decoder.encoding === 'windows-1252') return { text: decodeWindows1252(bytes), encoding: 'windows-1252' };
      return { text: decoder.decode(bytes), encoding: decoder.encoding };
    } catch {
      /* unknown label: keep latin1 */
    }
  }
  return d;
}

export async function convertHtmlBytes(bytes: Uint8Array, path = '(input)'): Promise<ConvertedDocument> {
  assertTextContent(bytes, path, 'HTML');
  const { text: html, encoding } = decodeHtml(bytes);
  if (html.trim() === '') throw emptyDocumentError(path);
  let converted: Awaited<ReturnType<typeof htmlToText>>;
  try {
    converted = await htmlToText(html);
  } catch (err) {
    if (err instanceof ExtractionError) throw new ExtractionError(err.code, `${err.message}: ${path}`, { retryable: false, stage: 'converting', cause: err });
    throw err;
  }
  const { text, positions, title } = converted;
  if (text.trim() === '') throw emptyDocumentError(path);
  return { format: 'html', text, positions, meta: { encoding, ...(title ? { title } : {}) } };
}

/** Output version of this converter: bump when its text or positions change, so cached conversions are redone. */
export const HTML_CONVERTER_VERSION = 2;

export function createHtmlConverter(): Converter {
  return {
    id: 'html',
    cacheKey: converterCacheKey('html', HTML_CONVERTER_VERSION),
    extensions: ['.html', '.htm', '.xhtml'],
    async convert(input: ConvertInput): Promise<ConvertedDocument> {
      throwIfAborted(input.signal);
      return convertHtmlBytes(input.bytes, input.path);
    },
  };
}
