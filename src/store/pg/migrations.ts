/**
 * Versioned schema of the PostgreSQL store. `ew_schema` holds the version; each migration runs in one
 * transaction under an advisory lock (workers starting together migrate once). A database written by a
 * newer version of Extraction Workbench is refused with a message saying so: an older worker must not
 * write into a layout it does not know.
 *
 * Tables:
 *   ew_changes  the change log: one row per store change (the same changes the sql.js store journals),
 *               applied in `seq` order they rebuild the state; `writer` names the worker that wrote it,
 *               `change_id` (writer + counter) makes a batch sent again after a lost reply a no-op.
 *   ew_claims   one row per document a worker claimed: owner, lease end, fencing token, and whether it
 *               was finished (done / dead-lettered) for which version of the file and configuration.
 *   ew_control  pause / resume / stop commands for every worker (v2).
 *   ew_workers  the workers that listen for them: status, last command carried out, last seen (v2).
 * A statement trigger NOTIFYs `ew_changes` after each insert into the change log (v3, see changeFeed.ts).
 *   ew_snapshots the state as of change `seq` (a sql.js database) with the writers of its documents; the
 *               changes it covers are deleted from ew_changes (v4, see snapshots.ts).
 *
 * v5 adds no table: from it on, the documents in `ew_changes` may carry `job` and `jobKey` (the job a mixed
 * folder chose). A worker of an older version would drop them when it writes a document back, so it is
 * refused like any worker that does not know the schema.
 *   ew_results  the result of each finished document: the object the JSON exporter writes to
 *               `<out>/<doc>.json`, as jsonb, with the fingerprint, content hash, run, attempt and the
 *               fencing token of the claim it was written under (v6, see results.ts). Export and review read
 *               it where the worker's result file is not (another machine).
 */
import type { PoolClient } from 'pg';
import { StoreSchemaError } from '../migrations';

export interface PgMigration {
  version: number;
  description: string;
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: 'change log and document claims',
    sql: `
      CREATE TABLE ew_changes (
        seq bigserial PRIMARY KEY,
        writer text NOT NULL,
        change_id text NOT NULL UNIQUE,
        op text NOT NULL,
        data text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ew_claims (
        path text PRIMARY KEY,
        version text NOT NULL,
        state text NOT NULL CHECK (state IN ('claimed', 'released', 'done', 'dead')),
        owner text,
        token bigint NOT NULL DEFAULT 1,
        lease_until timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX ew_claims_state_lease ON ew_claims (state, lease_until);
      CREATE INDEX ew_claims_owner ON ew_claims (owner) WHERE state = 'claimed';
    `,
  },
  {
    version: 2,
    description: 'pause, resume and stop for a fleet; the workers that listen',
    sql: `
      CREATE TABLE ew_control (
        seq bigserial PRIMARY KEY,
        command text NOT NULL CHECK (command IN ('pause', 'resume', 'stop')),
        sender text NOT NULL,
        sent_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ew_workers (
        worker text PRIMARY KEY,
        status text NOT NULL,
        control_seq bigint NOT NULL DEFAULT 0,
        seen_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 3,
    description: 'NOTIFY ew_changes on every batch of changes (windows follow a fleet without polling)',
    sql: `
      CREATE FUNCTION ew_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('ew_changes', '');
        RETURN NULL;
      END $$;
      CREATE TRIGGER ew_changes_notify AFTER INSERT ON ew_changes FOR EACH STATEMENT EXECUTE FUNCTION ew_notify_changes();
    `,
  },
  {
    version: 4,
    description: 'snapshots of the state: the change log is compacted (see snapshots.ts)',
    sql: `
      CREATE TABLE ew_snapshots (
        seq bigint PRIMARY KEY,
        data bytea NOT NULL,
        doc_writers text NOT NULL,
        changes bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 5,
    description: 'documents in the change log carry the job a mixed folder chose (job, jobKey)',
    sql: `COMMENT ON TABLE ew_changes IS 'Store changes in seq order; document changes may carry job and jobKey (schema v5).'`,
  },
  {
    version: 6,
    description: 'results in the database (jsonb), written under the document claim (see results.ts)',
    sql: `
      CREATE TABLE ew_results (
        path text PRIMARY KEY,
        result jsonb NOT NULL,
        fingerprint text NOT NULL,
        content_hash text NOT NULL,
        run_id text NOT NULL,
        attempt integer NOT NULL,
        token bigint NOT NULL,
        writer text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1].version;

/** The version that added `ew_snapshots`. */
export const SNAPSHOT_SCHEMA_VERSION = 4;

/** The version that added `ew_results`. */
export const RESULTS_SCHEMA_VERSION = 6;

/** Arbitrary constant: the advisory lock that serialises migrations of one database. */
const MIGRATION_LOCK = 0x45_57_4d_31; // "EWM1"

/** Brings the database to {@link PG_SCHEMA_VERSION}; refuses one written by a newer schema. Returns the versions. */
export async function migratePg(client: PoolClient, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<{ from: number; to: number }> {
  const latest = migrations[migrations.length - 1].version;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS ew_schema (version integer NOT NULL)');
    const r = await client.query<{ version: number }>('SELECT max(version) AS version FROM ew_schema');
    const from = r.rows[0]?.version ?? 0;
    if (from > latest) {
      throw new StoreSchemaError(
        `This database holds extraction state of schema version ${from}, written by a newer version of Extraction Workbench; this one knows up to version ${latest}. Upgrade Extraction Workbench on this machine (nothing was changed).`,
        from,
        latest,
      );
    }
    for (const m of migrations) {
      if (m.version <= from) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO ew_schema (version) VALUES ($1)', [m.version]);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, latest) };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
