/** Checkpoint store: port (types) and the sql.js implementation. */
export type { CheckpointStore, DocumentQuery, WriteOptions } from './types';
export {
  SqlJsCheckpointStore,
  StoreLockedError,
  StoreReadOnlyError,
  stateSignature,
  lockHolder,
  StoreWasmError,
  StoreClosedError,
  StoreIoError,
  StoreSchemaError,
  SimulatedCrash,
  loadSqlJs,
  sqlWasmCandidates,
  compileSqlWasm,
  countsOf,
  validateDocument,
  SNAPSHOT_FILE,
  BACKUP_FILE,
  LOCK_FILE,
  DEFAULT_COMPACT_EVERY,
  DEFAULT_COMPACT_RATIO,
} from './sqlStore';
export type { SqlStoreOptions, CompactionStep, StoreLogger, OpenReport, StoreStats, AttemptStats } from './sqlStore';
export { MIGRATIONS, LATEST_SCHEMA_VERSION, applyMigrations, schemaVersion } from './migrations';
export type { Migration, MigrationResult } from './migrations';
export { crc32, crc32Portable, encodeRecord, decodeLine, parseJournal, listJournalFiles, journalFileName, JournalWriter } from './journal';
export type { JournalRecord, JournalFile, ParsedJournal, JournalLineIssue } from './journal';
export { openWhenReleased } from './lockWait';
export type { LockWaitOptions } from './lockWait';
