/**
 * Numbered schema migrations of the checkpoint database, applied in order when a store opens.
 *
 * Rules: never edit a released migration, only append a new one. Every migration runs inside the
 * caller's transaction and records itself in `schema_version`. A database whose version is newer than
 * the newest migration known to this build is refused (see {@link StoreSchemaError}), never modified.
 *
 * Result payloads are never stored here: they live in files; the DB holds state and bookkeeping.
 * Numeric columns that are usually whole numbers (times, sizes, tokens) have INTEGER affinity: SQLite stores
 * them as compact varints, and a fractional value is still kept exactly (as REAL).
 */
import type { Database } from 'sql.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export class StoreSchemaError extends Error {
  override readonly name = 'StoreSchemaError';
  constructor(
    message: string,
    readonly found?: number,
    readonly supported?: number,
  ) {
    super(message);
  }
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, documents, attempts, dead letters, meta',
    sql: `
      CREATE TABLE IF NOT EXISTS schema_version (
        version     INTEGER PRIMARY KEY,
        applied_at  INTEGER NOT NULL,
        description TEXT NOT NULL
      );
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT
      ) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('journal_seq', '0');
      CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        trigger     TEXT NOT NULL,
        root        TEXT NOT NULL,
        status      TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        model       TEXT,
        totals      TEXT
      ) WITHOUT ROWID;
      CREATE INDEX runs_started ON runs (started_at);
      CREATE TABLE documents (
        path            TEXT PRIMARY KEY,
        size            INTEGER NOT NULL,
        mtime_ms        INTEGER NOT NULL,
        content_hash    TEXT,
        fingerprint     TEXT,
        readiness       TEXT NOT NULL,
        reject_reason   TEXT,
        stage           TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        error_code      TEXT,
        error_message   TEXT,
        error_stage     TEXT,
        error_retryable INTEGER,
        result_path     TEXT,
        tokens_in       INTEGER NOT NULL,
        tokens_out      INTEGER NOT NULL,
        cost            REAL NOT NULL,
        duration_ms     INTEGER,
        updated_at      INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX documents_stage ON documents (stage, path);
      CREATE INDEX documents_unready ON documents (readiness, stage) WHERE readiness <> 'ready';
      CREATE TABLE attempts (
        id             INTEGER PRIMARY KEY,
        run_id         TEXT NOT NULL,
        path           TEXT NOT NULL,
        attempt        INTEGER NOT NULL,
        stage_reached  TEXT NOT NULL,
        started_at     INTEGER NOT NULL,
        ended_at       INTEGER NOT NULL,
        duration_ms    INTEGER NOT NULL,
        outcome        TEXT NOT NULL,
        error_code     TEXT,
        error_message  TEXT,
        tokens_in      INTEGER NOT NULL,
        tokens_out     INTEGER NOT NULL,
        cost           REAL NOT NULL
      );
      CREATE INDEX attempts_path ON attempts (path);
      CREATE INDEX attempts_run ON attempts (run_id);
      CREATE TABLE dead_letters (
        path      TEXT PRIMARY KEY,
        run_id    TEXT NOT NULL,
        stage     TEXT NOT NULL,
        code      TEXT NOT NULL,
        message   TEXT NOT NULL,
        attempts  INTEGER NOT NULL,
        at        INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX dead_letters_at ON dead_letters (at);
    `,
  },
  {
    version: 2,
    description: 'per-stage timings on attempts; dead-letter reprocessing with history',
    sql: `
      ALTER TABLE attempts ADD COLUMN ms_pending INTEGER;
      ALTER TABLE attempts ADD COLUMN ms_reading INTEGER;
      ALTER TABLE attempts ADD COLUMN ms_converting INTEGER;
      ALTER TABLE attempts ADD COLUMN ms_extracting INTEGER;
      ALTER TABLE attempts ADD COLUMN ms_validating INTEGER;
      ALTER TABLE attempts ADD COLUMN ms_exporting INTEGER;
      CREATE TABLE dead_letter_history (
        id             INTEGER PRIMARY KEY,
        path           TEXT NOT NULL,
        run_id         TEXT NOT NULL,
        stage          TEXT NOT NULL,
        code           TEXT NOT NULL,
        message        TEXT NOT NULL,
        attempts       INTEGER NOT NULL,
        at             INTEGER NOT NULL,
        reprocessed_at INTEGER NOT NULL,
        note           TEXT
      );
      CREATE INDEX dead_letter_history_path ON dead_letter_history (path);
    `,
  },
  {
    version: 3,
    description: 'attempts keep requests, model and the raw reply of a failed answer',
    sql: `
      ALTER TABLE attempts ADD COLUMN requests INTEGER;
      ALTER TABLE attempts ADD COLUMN model TEXT;
      ALTER TABLE attempts ADD COLUMN raw_reply_truncated INTEGER;
      ALTER TABLE attempts ADD COLUMN raw_reply TEXT;
    `,
  },
  {
    version: 4,
    description: 'documents keep the job a mixed folder chose for them (by globs or classification)',
    sql: `
      ALTER TABLE documents ADD COLUMN job TEXT;
      ALTER TABLE documents ADD COLUMN job_key TEXT;
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

function tableExists(db: Database, name: string): boolean {
  const res = db.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]);
  return res.length > 0 && res[0].values.length > 0;
}

/** Schema version of a database: 0 for an empty database. Throws when the file is not a checkpoint DB. */
export function schemaVersion(db: Database): number {
  if (!tableExists(db, 'schema_version')) {
    const any = db.exec("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    const tables = Number(any[0]?.values[0]?.[0] ?? 0);
    if (tables > 0) throw new StoreSchemaError('not a checkpoint database (no schema_version table)');
    return 0;
  }
  const res = db.exec('SELECT max(version) FROM schema_version');
  return Number(res[0]?.values[0]?.[0] ?? 0);
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: number[];
}

/**
 * Applies pending migrations in order, inside one transaction (all or nothing).
 * `target` stops at a given version (used by tests to build old snapshots).
 */
export function applyMigrations(db: Database, options: { target?: number; now?: number } = {}): MigrationResult {
  const target = options.target ?? LATEST_SCHEMA_VERSION;
  const from = schemaVersion(db);
  if (from > LATEST_SCHEMA_VERSION) {
    throw new StoreSchemaError(
      `checkpoint database has schema version ${from}, newer than this build supports (${LATEST_SCHEMA_VERSION}); ` +
        'update the extension or use a different state folder',
      from,
      LATEST_SCHEMA_VERSION,
    );
  }
  const pending = MIGRATIONS.filter((m) => m.version > from && m.version <= target);
  if (pending.length === 0) return { from, to: from, applied: [] };
  const now = options.now ?? Date.now();
  db.exec('BEGIN');
  try {
    for (const m of pending) {
      db.exec(m.sql); // migration 1 creates schema_version itself
      db.run('INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)', [m.version, now, m.description]);
    }
    db.exec('COMMIT');
  } catch (e) {
    try {
      db.exec('ROLLBACK');
    } catch {
      // already rolled back
    }
    throw e;
  }
  return { from, to: pending[pending.length - 1].version, applied: pending.map((m) => m.version) };
}
