/** A wrong command line: main.ts prints its message and the usage, and exits 2. */
export class UsageError extends Error {}
