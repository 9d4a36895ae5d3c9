/** Errors of the PostgreSQL store (their names match Store*Error: the CLI prints their message, exit 2). */

/** The database cannot be reached, or refused us; the message names the URL (without its password) and the reason. */
export class StoreDatabaseError extends Error {
  override readonly name = 'StoreDatabaseError';
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
  }
}
