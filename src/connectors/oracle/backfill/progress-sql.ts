import oracledb from 'oracledb';
import { oracleName, quoteOracleIdentifier } from '../dialect';

/**
 * SQL of the backfill bookkeeping in an Oracle target (pure: the golden tests read it). Three tables
 * next to `OTTERFLOW_CHECKPOINTS` (same schema), with the columns of their MySQL/MariaDB twins:
 * - `OTTERFLOW_BACKFILLS`: one row per initial load, written when its chunk plan is complete;
 * - `OTTERFLOW_BACKFILL_CHUNKS`: the plan, one row per chunk, with status and how often it was copied;
 * - `OTTERFLOW_RESYNC_REQUESTS`: online re-sync requests, read by the pipeline's replicator.
 *
 * Keys travel as JSON text in CLOBs. Statements use positional binds (`:1`, `:2`, …).
 */

export const ORACLE_BACKFILL_TABLES = {
  backfills: 'OTTERFLOW_BACKFILLS',
  chunks: 'OTTERFLOW_BACKFILL_CHUNKS',
  requests: 'OTTERFLOW_RESYNC_REQUESTS',
} as const;

/** ORA-00955 (name already used) and ORA-01408 (column list already indexed): the object is there. */
const ALREADY_THERE = [-955, -1408];

/** Wraps a DDL statement in a block that ignores "already there", so creation can be repeated. */
export function idempotent(ddl: string): string {
  const ignored = ALREADY_THERE.map((c) => `SQLCODE != ${c}`).join(' AND ');
  return (
    `BEGIN EXECUTE IMMEDIATE '${ddl.replace(/'/g, "''")}'; ` +
    `EXCEPTION WHEN OTHERS THEN IF ${ignored} THEN RAISE; END IF; END;`
  );
}

const CHUNK_COLUMNS =
  'chunk_no, source_schema, source_table, after_key, up_to_key, status, rows_copied, copies';
const REQUEST_COLUMNS =
  'request_id, backfill_id, source_schema, source_table, where_sql, keys_json, chunk_size, ' +
  'max_rows_per_second, status, last_key, keys_done, rows_copied, rows_skipped, chunks_done, estimated_rows, error';

/** CLOB columns are fetched as text (by the upper-case names Oracle reports). */
export const CHUNK_FETCH_INFO = {
  AFTER_KEY: { type: oracledb.STRING },
  UP_TO_KEY: { type: oracledb.STRING },
} as const;
export const REQUEST_FETCH_INFO = {
  WHERE_SQL: { type: oracledb.STRING },
  KEYS_JSON: { type: oracledb.STRING },
  LAST_KEY: { type: oracledb.STRING },
  ERROR: { type: oracledb.STRING },
} as const;

/** Bind types of one chunk row of {@link OracleBackfillSql.insertChunk}, shared by every row of an executeMany. */
export const CHUNK_BIND_DEFS = [
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 191 },
  { type: oracledb.DB_TYPE_NUMBER },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 64 },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 64 },
  { type: oracledb.DB_TYPE_CLOB },
  { type: oracledb.DB_TYPE_CLOB },
];

export class OracleBackfillSql {
  readonly backfills: string;
  readonly chunks: string;
  readonly requests: string;
  private readonly schema: string | undefined;

  constructor(schema?: string, identifierCase: 'upper' | 'exact' = 'upper') {
    this.schema = schema ? quoteOracleIdentifier(oracleName(schema, identifierCase)) : undefined;
    const q = (name: string) =>
      this.schema ? `${this.schema}.${quoteOracleIdentifier(name)}` : quoteOracleIdentifier(name);
    this.backfills = q(ORACLE_BACKFILL_TABLES.backfills);
    this.chunks = q(ORACLE_BACKFILL_TABLES.chunks);
    this.requests = q(ORACLE_BACKFILL_TABLES.requests);
  }

  /** The statements that create the tables (each one repeatable). DDL: run with no transaction open. */
  create(): string[] {
    const index = this.schema
      ? `${this.schema}."OTTERFLOW_RESYNC_BY_PIPELINE"`
      : '"OTTERFLOW_RESYNC_BY_PIPELINE"';
    return [
      idempotent(
        `CREATE TABLE ${this.backfills} (backfill_id VARCHAR2(191) PRIMARY KEY, pipeline VARCHAR2(64) NOT NULL, ` +
          'chunks NUMBER(10) NOT NULL, table_count NUMBER(10) NOT NULL, estimated_rows NUMBER(20) NOT NULL, ' +
          'binlog_file VARCHAR2(512), binlog_pos NUMBER(20) NOT NULL, gtid CLOB, ' +
          'planned_at TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL)',
      ),
      idempotent(
        `CREATE TABLE ${this.chunks} (backfill_id VARCHAR2(191) NOT NULL, chunk_no NUMBER(10) NOT NULL, ` +
          'source_schema VARCHAR2(64) NOT NULL, source_table VARCHAR2(64) NOT NULL, after_key CLOB, up_to_key CLOB, ' +
          "status VARCHAR2(8) DEFAULT 'pending' NOT NULL CHECK (status IN ('pending', 'done')), " +
          'rows_copied NUMBER(20) DEFAULT 0 NOT NULL, copies NUMBER(10) DEFAULT 0 NOT NULL, done_at TIMESTAMP(6), ' +
          'PRIMARY KEY (backfill_id, chunk_no))',
      ),
      idempotent(
        `CREATE TABLE ${this.requests} (request_id VARCHAR2(191) PRIMARY KEY, backfill_id VARCHAR2(191) NOT NULL, ` +
          'pipeline VARCHAR2(64) NOT NULL, seq NUMBER(10) NOT NULL, source_schema VARCHAR2(64) NOT NULL, ' +
          'source_table VARCHAR2(64) NOT NULL, where_sql CLOB, keys_json CLOB, chunk_size NUMBER(10) NOT NULL, ' +
          "max_rows_per_second NUMBER(10), status VARCHAR2(9) DEFAULT 'pending' NOT NULL " +
          "CHECK (status IN ('pending', 'running', 'done', 'cancelled', 'failed')), last_key CLOB, " +
          'keys_done NUMBER(10) DEFAULT 0 NOT NULL, rows_copied NUMBER(20) DEFAULT 0 NOT NULL, ' +
          'rows_skipped NUMBER(20) DEFAULT 0 NOT NULL, chunks_done NUMBER(10) DEFAULT 0 NOT NULL, ' +
          'estimated_rows NUMBER(20) DEFAULT 0 NOT NULL, error CLOB, ' +
          'created_at TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL, updated_at TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL)',
      ),
      idempotent(`CREATE INDEX ${index} ON ${this.requests} (pipeline, status, seq)`),
    ];
  }

  // ---- plan and chunks ----

  readPlan(): string {
    return `SELECT chunks, table_count, estimated_rows FROM ${this.backfills} WHERE backfill_id = :1`;
  }

  deleteChunks(): string {
    return `DELETE FROM ${this.chunks} WHERE backfill_id = :1`;
  }

  /** Binds: backfill id, chunk no, source schema, source table, after key, up-to key ({@link CHUNK_BIND_DEFS}). */
  insertChunk(): string {
    return (
      `INSERT INTO ${this.chunks} (backfill_id, chunk_no, source_schema, source_table, after_key, up_to_key) ` +
      'VALUES (:1, :2, :3, :4, :5, :6)'
    );
  }

  insertPlan(): string {
    return (
      `INSERT INTO ${this.backfills} (backfill_id, pipeline, chunks, table_count, estimated_rows, binlog_file, binlog_pos, gtid) ` +
      'VALUES (:1, :2, :3, :4, :5, :6, :7, :8)'
    );
  }

  /** One chunk; `lock` row-locks it (inside the copy transaction) so two copies of it serialize. */
  readChunk(lock: boolean): string {
    return (
      `SELECT ${CHUNK_COLUMNS} FROM ${this.chunks} WHERE backfill_id = :1 AND chunk_no = :2` +
      (lock ? ' FOR UPDATE' : '')
    );
  }

  /** Binds: rows copied, backfill id, chunk no. Only a pending chunk changes. */
  markChunkDone(): string {
    return (
      `UPDATE ${this.chunks} SET status = 'done', rows_copied = :1, copies = copies + 1, done_at = SYSTIMESTAMP ` +
      "WHERE backfill_id = :2 AND chunk_no = :3 AND status = 'pending'"
    );
  }

  pendingChunks(): string {
    return `SELECT chunk_no FROM ${this.chunks} WHERE backfill_id = :1 AND status = 'pending' ORDER BY chunk_no`;
  }

  chunkRanges(): string {
    return (
      `SELECT source_schema, source_table, MIN(chunk_no) AS first_no, MAX(chunk_no) AS last_no FROM ${this.chunks} ` +
      'WHERE backfill_id = :1 GROUP BY source_schema, source_table ORDER BY first_no'
    );
  }

  // ---- re-sync requests ----

  /**
   * Binds in {@link REQUEST_INSERT_COLUMNS} order. A request id that exists fails with ORA-00001, which
   * the caller ignores (Oracle undoes only the failed statement, not the transaction).
   */
  insertRequest(): string {
    const cols = REQUEST_INSERT_COLUMNS;
    return `INSERT INTO ${this.requests} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `:${i + 1}`).join(', ')})`;
  }

  /** The oldest unfinished request of a pipeline. */
  nextRequest(): string {
    return (
      `SELECT ${REQUEST_COLUMNS} FROM ${this.requests} WHERE pipeline = :1 AND status IN ('pending', 'running') ` +
      'ORDER BY created_at, seq FETCH FIRST 1 ROWS ONLY'
    );
  }

  requestsOf(): string {
    return `SELECT ${REQUEST_COLUMNS} FROM ${this.requests} WHERE backfill_id = :1 ORDER BY seq`;
  }

  /**
   * Binds: last key (NULL keeps the stored one), keys done, rows, skipped, new status, request id.
   * A request cancelled (or failed) meanwhile is left as it is.
   */
  recordChunk(): string {
    return (
      `UPDATE ${this.requests} SET last_key = NVL(:1, last_key), keys_done = :2, rows_copied = rows_copied + :3, ` +
      'rows_skipped = rows_skipped + :4, chunks_done = chunks_done + 1, status = :5, updated_at = SYSTIMESTAMP ' +
      "WHERE request_id = :6 AND status IN ('pending', 'running')"
    );
  }

  /** Binds: error, request id. */
  failRequest(): string {
    return (
      `UPDATE ${this.requests} SET status = 'failed', error = :1, updated_at = SYSTIMESTAMP ` +
      "WHERE request_id = :2 AND status IN ('pending', 'running')"
    );
  }

  cancelRequests(): string {
    return (
      `UPDATE ${this.requests} SET status = 'cancelled', updated_at = SYSTIMESTAMP ` +
      "WHERE backfill_id = :1 AND status IN ('pending', 'running')"
    );
  }
}

export const REQUEST_INSERT_COLUMNS = [
  'request_id',
  'backfill_id',
  'pipeline',
  'seq',
  'source_schema',
  'source_table',
  'where_sql',
  'keys_json',
  'chunk_size',
  'max_rows_per_second',
  'estimated_rows',
] as const;
