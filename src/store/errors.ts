/** Named errors of the checkpoint store: callers tell a held lock, a closed store or a failed write apart. */
import { StoreSchemaError } from './migrations';

/** Another process (or this one) has the store open; `ownerPid` names it when known. */
export class StoreLockedError extends Error {
  override readonly name = 'StoreLockedError';
  constructor(
    message: string,
    readonly lockFile: string,
    readonly ownerPid?: number,
  ) {
    super(message);
  }
}

/** A write on a store opened read-only. */
export class StoreReadOnlyError extends Error {
  override readonly name = 'StoreReadOnlyError';
}

/** sql.js (its WebAssembly module) could not be loaded; `tried` lists the candidates and why each failed. */
export class StoreWasmError extends Error {
  override readonly name = 'StoreWasmError';
  constructor(
    message: string,
    readonly tried: string[],
  ) {
    super(message);
  }
}

export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor(message = 'checkpoint store is closed') {
    super(message);
  }
}

/** A journal or snapshot write failed; the store refuses further changes until reopened. */
export class StoreIoError extends Error {
  override readonly name = 'StoreIoError';
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
  }
}

export { StoreSchemaError };

/** Throw this from `onCompactionStep` to simulate a crash (it is never caught by the store). */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}
