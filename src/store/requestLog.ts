/**
 * Opt-in request log (`logRequests` setting, `--log-requests`): every model request of a run, with its
 * prompt messages and the raw reply or the error, one JSON line per request in
 * `<state folder>/requests/<runId>.ndjson`. For finding out why a model answers the way it does; off by
 * default because it holds the documents' text.
 *
 * Secrets never reach the file: every line goes through {@link redactSecrets} (the API key, anything that
 * looks like an OpenAI key or a bearer token, passwords in URLs). Lines are written with one `writeSync` on a
 * file descriptor opened once per run (a crash loses at most the line being written; a torn last line is
 * skipped by {@link readRequestLog}). A failing write never fails the request it describes: the log turns
 * itself off and says so once.
 *
 * Request logs are pruned with the rest of the history (see retention.ts): a run's log goes when its run
 * falls out of the retention limits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { redactSecrets } from '../extract/redact';

/** One model request, as the extractor saw it. */
export interface RequestLogEntry {
  /** When the request was sent (ms since the epoch); the file has it as an ISO time (`time`). */
  at: number;
  /** The run the request belongs to: the entry goes to `requests/<runId>.ndjson`. */
  runId: string;
  /** The document, relative to the run's folder (`/` separators). */
  path: string;
  /** The document's attempt (1-based), when known. */
  attempt?: number;
  /** 1-based chunk of a long document (absent when the document went whole). */
  part?: number;
  /** The model asked. */
  model?: string;
  /** How the answer's shape was requested (`json_schema`, `json_object`, `text`, `tools`). */
  mode?: string;
  /** The request's messages, in order (system, user, re-asks). */
  messages: ReadonlyArray<{ role: string; content: unknown }>;
  /** Other request fields worth seeing (output budget, temperature, …). */
  params?: Record<string, unknown>;
  /** The reply as received (message text or tool-call arguments). */
  reply?: string;
  /** Why the provider's reply ended (`stop`, `length`, …). */
  finishReason?: string;
  /** The request failed: the error code and message (no reply). */
  error?: { code: string; message: string };
  /** HTTP status, when known. */
  status?: number;
  tokensIn?: number;
  tokensOut?: number;
  durationMs?: number;
}

/** Where the extractor writes its requests (a no-op sink when the log is off). */
export interface RequestLogSink {
  write(entry: RequestLogEntry): void;
  /** Closes the files; later writes are dropped. */
  close(): void;
}

/** The sink of a run without a request log. */
export const NO_REQUEST_LOG: RequestLogSink = Object.freeze({ write: () => undefined, close: () => undefined });

/** Folder of the request logs of a state folder. */
export function requestLogDir(stateDir: string): string {
  return path.join(stateDir, 'requests');
}

/** A run id as a file name (run ids are already safe; anything else is replaced). */
function fileNameOf(runId: string): string {
  return `${runId.replace(/[^A-Za-z0-9._-]/g, '_') || 'run'}.ndjson`;
}

/** The request log of one run. */
export function requestLogFile(stateDir: string, runId: string): string {
  return path.join(requestLogDir(stateDir), fileNameOf(runId));
}

export interface RequestLogOptions {
  /** The state folder: files go to `<stateDir>/requests/`. */
  stateDir: string;
  /** Redacted from every line (keys that look like OpenAI keys and bearer tokens are redacted anyway). */
  apiKey?: string;
  /** Told once when a write fails (the log is off from then on). */
  onError?: (err: Error) => void;
}

/** Writes request log lines; one open file per run (the previous run's file is closed when another starts). */
export class RequestLog implements RequestLogSink {
  readonly #o: RequestLogOptions;
  #file: { runId: string; fd: number } | undefined;
  #off = false;

  constructor(options: RequestLogOptions) {
    this.#o = options;
  }

  write(entry: RequestLogEntry): void {
    if (this.#off) return;
    try {
      const fd = this.#fdFor(entry.runId);
      const { at, ...rest } = entry;
      const line = redactSecrets(JSON.stringify({ time: new Date(at).toISOString(), ...rest }), this.#o.apiKey);
      fs.writeSync(fd, line + '\n');
    } catch (err) {
      this.#off = true;
      this.#closeFile();
      this.#o.onError?.(err as Error);
    }
  }

  close(): void {
    this.#off = true;
    this.#closeFile();
  }

  #fdFor(runId: string): number {
    if (this.#file?.runId === runId) return this.#file.fd;
    this.#closeFile();
    fs.mkdirSync(requestLogDir(this.#o.stateDir), { recursive: true });
    const fd = fs.openSync(requestLogFile(this.#o.stateDir, runId), 'a');
    this.#file = { runId, fd };
    return fd;
  }

  #closeFile(): void {
    const f = this.#file;
    this.#file = undefined;
    if (!f) return;
    try {
      fs.closeSync(f.fd);
    } catch {
      // already closed
    }
  }
}

/** The request log of a run's settings: a {@link RequestLog} when `logRequests` is on, else {@link NO_REQUEST_LOG}. */
export function createRequestLog(settings: { stateDir: string; logRequests?: boolean }, options: Omit<RequestLogOptions, 'stateDir'> = {}): RequestLogSink {
  return settings.logRequests ? new RequestLog({ stateDir: settings.stateDir, ...options }) : NO_REQUEST_LOG;
}

/** A logged line: the entry with `time` (ISO) in place of `at`. */
export type RequestLogLine = Omit<RequestLogEntry, 'at'> & { time: string };

/** The lines of a run's request log, oldest first (a torn last line is left out); [] when there is none. */
export function readRequestLog(stateDir: string, runId: string): RequestLogLine[] {
  let text: string;
  try {
    text = fs.readFileSync(requestLogFile(stateDir, runId), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: RequestLogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as RequestLogLine);
    } catch {
      // torn by a crash
    }
  }
  return out;
}

/** The run ids that have a request log. */
export function listRequestLogs(stateDir: string): string[] {
  try {
    return fs
      .readdirSync(requestLogDir(stateDir))
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => f.slice(0, -'.ndjson'.length))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Deletes the request logs that fall out of the retention limits: runs not in `keepRunIds` (when given) and
 * logs last written before `olderThan` (when given); `currentRunId`'s log always stays. Returns how many
 * were deleted.
 */
export function pruneRequestLogs(stateDir: string, limits: { keepRunIds?: readonly string[]; olderThan?: number; currentRunId?: string }): number {
  const dir = requestLogDir(stateDir);
  const keep = limits.keepRunIds ? new Set(limits.keepRunIds.map(fileNameOf)) : undefined;
  const current = limits.currentRunId !== undefined ? fileNameOf(limits.currentRunId) : undefined;
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((f) => f.endsWith('.ndjson'));
  } catch {
    return 0;
  }
  let deleted = 0;
  for (const name of names) {
    if (name === current) continue;
    const file = path.join(dir, name);
    let outside = keep !== undefined && !keep.has(name);
    if (!outside && limits.olderThan !== undefined) {
      try {
        outside = fs.statSync(file).mtimeMs < limits.olderThan;
      } catch {
        continue; // deleted meanwhile
      }
    }
    if (!outside) continue;
    try {
      fs.unlinkSync(file);
      deleted++;
    } catch {
      // in use or deleted meanwhile: the next run tries again
    }
  }
  return deleted;
}
