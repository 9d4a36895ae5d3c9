/**
 * OCR worker thread (bundled to `dist/ocrWorker.js`): one tesseract.js engine (the WebAssembly build of
 * Tesseract, LSTM only) per thread, driven in-thread through tesseract.js' own worker script so no second
 * thread is spawned and nothing is fetched: the language data comes from the files named in `workerData`
 * (ocr/languages.ts resolves them), the core's .wasm files sit beside this bundle (esbuild.js copies them).
 *
 * Images: encoded files (PNG, JPEG, WebP, BMP, and the grey PNG of a scanned PDF page) go to Leptonica as
 * they are; a TIFF page is decoded here with UTIF (multi-page TIFF, and compressions Leptonica's build may
 * lack) and handed over as an 8-bit grey PGM. The pool terminates this thread when a page passes
 * its time limit.
 */
import * as fs from 'fs';
import { parentPort, workerData } from 'worker_threads';
import * as zlib from 'zlib';
import * as tesseract from 'tesseract.js/src/worker-script';
import getCore from 'tesseract.js/src/worker-script/node/getCore';
import { ErrorCodes } from '../../core/errors';
import type { OcrImage, OcrLine, OcrPageResult, OcrRequest, OcrResponse, OcrWorkerInit } from './protocol';
import { rgbaToGray } from './grayPng';
import { tiffPageRgba } from './tiffPages';

/** OEM 1: LSTM only (the `4.0.0_best_int` data has no legacy model). */
const OEM_LSTM_ONLY = 1;

let jobs = 0;
/** Runs one action of tesseract.js' worker script in this thread. */
function call(action: string, payload: unknown): Promise<unknown> {
  const jobId = `ew-${++jobs}`;
  return new Promise((resolve, reject) => {
    tesseract.dispatchHandlers({ workerId: 'ew', jobId, action, payload }, (msg) => {
      if (msg.status === 'resolve') resolve(msg.data);
      else if (msg.status === 'reject') reject(new Error(String(msg.data)));
    });
  });
}

tesseract.setAdapter({
  // the LSTM-only core (tesseract.js' getCore takes the OEM first; its worker script passes a boolean)
  getCore: (_lstmOnly: unknown, corePath: unknown, res: unknown) => getCore(OEM_LSTM_ONLY, corePath, res),
  gunzip: zlib.gunzipSync,
  fetch: () => Promise.reject(new Error('OCR never downloads: language data comes from installed packages')),
  readCache: () => Promise.resolve(undefined),
  writeCache: () => Promise.resolve(),
  deleteCache: () => Promise.resolve(),
  checkCache: () => Promise.resolve(false),
});

export async function startEngine(init: OcrWorkerInit): Promise<void> {
  await call('load', { options: { lstmOnly: true, logging: false } });
  const langs = init.languages.map((l) => ({ code: l.code, data: new Uint8Array(fs.readFileSync(l.file)) }));
  await call('loadLanguage', { langs, options: { cacheMethod: 'none', gzip: true, lstmOnly: true } });
  await call('initialize', { langs: init.languages.map((l) => l.code).join('+'), oem: OEM_LSTM_ONLY });
}

/** Binary PGM (P5) of 8-bit grey pixels: a format Leptonica reads without a codec. */
export function pgm(gray: Uint8Array, width: number, height: number): Uint8Array<ArrayBuffer> {
  const header = Buffer.from(`P5\n${width} ${height}\n255\n`, 'ascii');
  const out = new Uint8Array(header.length + width * height);
  out.set(header, 0);
  out.set(gray.subarray(0, width * height), header.length);
  return out;
}

class PageFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** Page `page` of a TIFF as grey pixels. */
function tiffPageGray(bytes: Uint8Array, page: number): { gray: Uint8Array; width: number; height: number } {
  const px = tiffPageRgba(bytes, page);
  if ('error' in px) throw new PageFailure(ErrorCodes.CORRUPT_INPUT, px.error);
  const { rgba, width: w, height: h } = px;
  const gray = rgbaToGray(rgba, w, h);
  return { gray, width: w, height: h };
}

function imageBytes(image: OcrImage): { bytes: Uint8Array; width?: number; height?: number } {
  if (image.kind === 'encoded') return { bytes: image.bytes };
  const px = tiffPageGray(image.bytes, image.page);
  return { bytes: pgm(px.gray, px.width, px.height), width: px.width, height: px.height };
}

interface TessWord {
  text: string;
  confidence: number;
  bbox: { x0: number; y0: number; x1: number; y1: number };
}
interface TessBlock {
  paragraphs?: { lines?: { words?: TessWord[] }[] }[];
}

/** Recognises one page image: its lines of words with boxes and confidences. */
export async function recognizePage(image: OcrImage): Promise<OcrPageResult> {
  const { bytes, width, height } = imageBytes(image);
  let data: { blocks?: TessBlock[] | null };
  try {
    const out = (await call('recognize', { image: bytes, options: {}, output: { text: false, blocks: true } })) as { blocks?: TessBlock[] | null };
    data = out ?? {};
  } catch (err) {
    const message = (err as Error).message;
    if (/read image|pixRead|image file/i.test(message)) throw new PageFailure(ErrorCodes.CORRUPT_INPUT, `Image cannot be decoded: ${message}`);
    throw err;
  }
  const lines: OcrLine[] = [];
  let paragraph = 0;
  let maxX = 0, maxY = 0;
  for (const block of data.blocks ?? []) {
    for (const par of block.paragraphs ?? []) {
      paragraph++;
      for (const line of par.lines ?? []) {
        const words = (line.words ?? [])
          .filter((w) => w.text && w.text.trim() !== '')
          .map((w) => {
            maxX = Math.max(maxX, w.bbox.x1);
            maxY = Math.max(maxY, w.bbox.y1);
            return { text: w.text.trim(), confidence: Math.round(w.confidence), bbox: [w.bbox.x0, w.bbox.y0, w.bbox.x1, w.bbox.y1] as [number, number, number, number] };
          });
        if (words.length) lines.push({ words, paragraph });
      }
    }
  }
  return { lines, width: width ?? maxX, height: height ?? maxY };
}

if (parentPort) {
  const port = parentPort;
  const init = workerData as OcrWorkerInit;
  const send = (msg: OcrResponse) => port.postMessage(msg);
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (req: OcrRequest) => {
    if (req?.type !== 'ocr') return;
    chain = chain.then(async () => {
      try {
        send({ type: 'result', id: req.id, result: await recognizePage(req.image) });
      } catch (err) {
        const code = err instanceof PageFailure ? err.code : ErrorCodes.CORRUPT_INPUT;
        send({ type: 'error', id: req.id, error: { code, message: (err as Error)?.message ?? String(err) } });
      }
    });
  });
  startEngine(init).then(
    () => send({ type: 'ready' }),
    (err) => send({ type: 'fatal', error: { code: ErrorCodes.INVALID_CONFIG, message: `OCR engine could not start: ${(err as Error)?.message ?? String(err)}` } }),
  );
}
