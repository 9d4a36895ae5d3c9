/**
 * The memory limit of a PDF worker for decoded stream data (runs in the worker thread only).
 *
 * Why: `resourceLimits` of a worker bound its V8 heap, but pdf.js keeps decoded streams in typed arrays,
 * whose bytes live outside that heap. A 1 MB PDF whose FlateDecode streams inflate to gigabytes of zeros
 * took 2.3 GB of RSS under a 64 MB limit (and a 3 MB one 9.5 GB). So every allocation of decoded bytes is
 * checked here first:
 *  - pdf.js' `DecodeStream.ensureBuffer` (every JavaScript decoder: Flate, LZW, ASCII85, predictors, the
 *    concatenation of a page's content streams) calls {@link checkDecodeAllocation} through a global hook
 *    (the exact, build-checked patch in scripts/pdfjs-patches.js);
 *  - the synchronous inflate of syncInflate.ts may produce at most {@link inflateAllowance} bytes.
 * The measure is the thread's external memory (`v8.getHeapStatistics().external_memory`: array buffers
 * and other memory outside the heap; per thread, and ~0.7 µs to read where `process.memoryUsage()` takes
 * ~19 µs) above what it was when the document was opened, plus the allocation asked for; before refusing,
 * a garbage collection gives back buffers of earlier pages.
 *
 * pdf.js catches most errors inside a page (it then goes on with the next operator, or falls back to its
 * JavaScript inflater), so the refusal is sticky: once over the limit, every later check fails at once
 * and the worker fails the document with TOO_LARGE ({@link decodeLimitExceeded}).
 */
import * as v8 from 'v8';
import * as vm from 'vm';

/** Name of the global function the patched pdf.js calls with the size of a buffer it is about to allocate. */
export const DECODE_BUDGET_HOOK = '__extractionWorkbenchCheckDecode';

export interface DecodeLimitExceeded {
  /** The limit, in bytes. */
  limitBytes: number;
  /** Bytes in use (above the document's start) plus the allocation that was refused, as far as known. */
  neededBytes: number;
}

/** Thrown into pdf.js when an allocation is refused (pdf.js may swallow it: see {@link decodeLimitExceeded}). */
export class DecodeLimitError extends Error {
  override readonly name = 'DecodeLimitError';
  constructor(readonly info: DecodeLimitExceeded) {
    super(`decoded PDF data over the ${mb(info.limitBytes)} MB limit`);
  }
}

let limitBytes = Infinity;
let baseline = 0;
let exceeded: DecodeLimitExceeded | undefined;
let collectGarbage: (() => void) | undefined | null;

function arrayBuffers(): number {
  return v8.getHeapStatistics().external_memory;
}

function mb(bytes: number): string {
  return String(Math.round((bytes / 1048576) * 10) / 10);
}

/** `gc()` of this thread, made available once (V8 exposes it to contexts created after the flag is set). */
function gc(): void {
  if (collectGarbage === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collectGarbage = vm.runInNewContext('gc') as () => void;
    } catch {
      collectGarbage = null;
    }
  }
  collectGarbage?.();
}

/** Sets the limit (bytes; Infinity: none) and installs the hook the patched pdf.js calls. */
export function installDecodeBudget(bytes: number): void {
  limitBytes = bytes > 0 ? bytes : Infinity;
  (globalThis as Record<string, unknown>)[DECODE_BUDGET_HOOK] = checkDecodeAllocation;
}

/**
 * Starts counting for a new document: what is in use now (its bytes, cached fonts) is not counted. When
 * that is a lot, garbage of the previous document is collected first — it would otherwise be counted as
 * the baseline and then freed, leaving room above the limit.
 */
export function startDecodeBudget(): void {
  exceeded = undefined;
  baseline = arrayBuffers();
  if (baseline > limitBytes / 4) {
    gc();
    baseline = arrayBuffers();
  }
}

/** Throws {@link DecodeLimitError} (and remembers it) when allocating `bytes` more would pass the limit. */
export function checkDecodeAllocation(bytes: number): void {
  if (exceeded) throw new DecodeLimitError(exceeded);
  if (limitBytes === Infinity) return;
  let needed = arrayBuffers() - baseline + bytes;
  if (needed > limitBytes && bytes <= limitBytes) {
    gc();
    needed = arrayBuffers() - baseline + bytes;
  }
  if (needed > limitBytes) {
    exceeded = { limitBytes, neededBytes: Math.max(needed, bytes) };
    throw new DecodeLimitError(exceeded);
  }
}

/**
 * Bytes one inflate may produce now: half of what is left under the limit (pdf.js copies the output
 * once more). 0 once the limit was passed; Infinity without a limit. `collect`: run a garbage collection
 * first (for a second try after the first one was cut off).
 */
export function inflateAllowance(collect = false): number {
  if (exceeded) return 0;
  if (limitBytes === Infinity) return Infinity;
  if (collect) gc();
  return Math.max(0, Math.floor((limitBytes - (arrayBuffers() - baseline)) / 2));
}

/** Records that an inflate would produce more than `allowance` bytes; the error to throw. */
export function inflateRefused(allowance: number): DecodeLimitError {
  exceeded ??= { limitBytes, neededBytes: arrayBuffers() - baseline + allowance * 2 };
  return new DecodeLimitError(exceeded);
}

/** Set when an allocation of the current document was refused. */
export function decodeLimitExceeded(): DecodeLimitExceeded | undefined {
  return exceeded;
}
