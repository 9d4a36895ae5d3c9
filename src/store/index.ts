/** Checkpoint store: the port (types.ts) and its sql.js implementation, one concept per file. */
export type { CheckpointStore, DocumentQuery, WriteOptions, AttemptTotals } from './types';
export { SqlJsCheckpointStore } from './sqlStore';
export { StoreLockedError, StoreReadOnlyError, StoreWasmError, StoreClosedError, StoreIoError, StoreSchemaError, SimulatedCrash } from './errors';
export { stateSignature, lockHolder, LOCK_FILE } from './lock';
export { loadSqlJs, sqlWasmCandidates, compileSqlWasm } from './wasm';
export { countsOf } from './counts';
export { validateDocument } from './rows';
export { SNAPSHOT_FILE, BACKUP_FILE } from './snapshot';
export { DEFAULT_COMPACT_EVERY, DEFAULT_COMPACT_RATIO } from './options';
export type { SqlStoreOptions, CompactionStep, StoreLogger, OpenReport, StoreStats, AttemptStats } from './options';
export { MIGRATIONS, LATEST_SCHEMA_VERSION, applyMigrations, schemaVersion } from './migrations';
export type { Migration, MigrationResult } from './migrations';
export { crc32, crc32Portable, encodeRecord, decodeLine, parseJournal, listJournalFiles, journalFileName, JournalWriter } from './journal';
export type { JournalRecord, JournalFile, ParsedJournal, JournalLineIssue } from './journal';
export { openWhenReleased } from './lockWait';
export type { LockWaitOptions } from './lockWait';
