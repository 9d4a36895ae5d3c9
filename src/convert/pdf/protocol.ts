/** Messages between the PDF pool (main thread) and `pdfWorker.js`. */
import type { ConvertedDocument } from '../types';

export interface WorkerRequest {
  type: 'convert';
  id: number;
  bytes: Uint8Array;
  maxPages?: number;
}

export interface WorkerErrorPayload {
  code: string;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export type WorkerResponse =
  | { type: 'ready' }
  | { type: 'result'; id: number; doc: ConvertedDocument }
  | { type: 'error'; id: number; error: WorkerErrorPayload };

export interface WorkerInit {
  /** Directory with pdf.js `standard_fonts/` and `cmaps/`. */
  assetsDir: string;
}
