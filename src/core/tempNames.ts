/**
 * Names for this process's temporary files (a result, a cache entry or a snapshot written beside its target,
 * then renamed over it). One tag per process — its pid and random bytes, drawn once — plus a counter: unique
 * across processes sharing a folder (CLI workers, the window) and across runs that reuse a pid, without
 * drawing random bytes for every file.
 */
import { randomBytes } from 'node:crypto';

/** This process's tag: `<pid in base 36>-<6 hex digits>`. */
const processTag = `${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;

let count = 0;

/** A new unique part for a temporary file's name: `<process tag>-<counter in base 36>` (`[0-9a-z-]+`). */
export function tempId(): string {
  return `${processTag}-${(count++).toString(36)}`;
}
