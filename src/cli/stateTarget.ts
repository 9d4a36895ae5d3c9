/**
 * Where a command finds the state: `--state <dir>` (a state folder), `--state postgres://…` or
 * EXTRACTION_STATE_URL (a PostgreSQL database shared by a fleet of workers; the local state folder then
 * holds only this machine's caches and saved settings).
 */
import * as path from 'node:path';
import { defaultStateDir } from '../app/session';
import { checkStateUrl, isStateUrl } from '../store/pg/url';

export const STATE_URL_ENV = 'EXTRACTION_STATE_URL';

export interface StateTarget {
  stateDir: string;
  /** The database URL as given (may carry a password: never print or save it; see redactUrl). */
  url?: string;
}

/** `--state` (else EXTRACTION_STATE_URL) for the folder `root`; a bad URL throws with the reason (a usage error). */
export function stateTargetOf(state: string | undefined, root: string, usage: (m: string) => Error): StateTarget {
  const value = state ?? (process.env[STATE_URL_ENV] || undefined);
  if (isStateUrl(value)) {
    try {
      checkStateUrl(value);
    } catch (e) {
      throw usage(`--state: ${(e as Error).message}`);
    }
    return { stateDir: defaultStateDir(root), url: value.trim() };
  }
  return { stateDir: state ? path.resolve(state) : defaultStateDir(root) };
}
