import oracledb from 'oracledb';
import { idempotent } from '../backfill/progress-sql';
import { oracleName, quoteOracleIdentifier } from '../dialect';

/**
 * SQL of the verification report in an Oracle target (pure: the golden tests read it). Three tables
 * next to `OTTERFLOW_CHECKPOINTS` (same schema), with the columns of their MySQL/MariaDB twins:
 * - `OTTERFLOW_VERIFICATIONS`: one row per verification (state, request, error, repair outcome);
 * - `OTTERFLOW_VERIFY_CHUNKS`: the plan, one row per target key range, marked done with its counts;
 * - `OTTERFLOW_VERIFY_DIFFERENCES`: the differing keys with kind, target columns and repair outcome.
 *
 * Keys, requests and column lists travel as JSON text in CLOBs. Times are stored in UTC
 * (`SYS_EXTRACT_UTC(SYSTIMESTAMP)`) and read back as ISO text. Statements use positional binds.
 */

export const ORACLE_VERIFICATION_TABLES = {
  verifications: 'OTTERFLOW_VERIFICATIONS',
  chunks: 'OTTERFLOW_VERIFY_CHUNKS',
  differences: 'OTTERFLOW_VERIFY_DIFFERENCES',
} as const;

const NOW = 'SYS_EXTRACT_UTC(SYSTIMESTAMP)';
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"'`;

/** CLOB columns fetched as text (by the upper-case names Oracle reports). */
export const VERIFICATION_FETCH_INFO = {
  REQUEST_JSON: { type: oracledb.STRING },
  ERROR: { type: oracledb.STRING },
  REPAIR_JSON: { type: oracledb.STRING },
  SOURCES: { type: oracledb.STRING },
  KEY_COLUMNS: { type: oracledb.STRING },
  AFTER_KEY: { type: oracledb.STRING },
  UP_TO_KEY: { type: oracledb.STRING },
  KEY_JSON: { type: oracledb.STRING },
  COLUMNS_JSON: { type: oracledb.STRING },
} as const;

/** Bind types of one row of {@link OracleVerificationSql.insertChunk}. */
export const VERIFY_CHUNK_BIND_DEFS = [
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 191 },
  { type: oracledb.DB_TYPE_NUMBER },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 128 },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 128 },
  { type: oracledb.DB_TYPE_CLOB },
  { type: oracledb.DB_TYPE_CLOB },
  { type: oracledb.DB_TYPE_CLOB },
  { type: oracledb.DB_TYPE_CLOB },
];

/** Bind types of one row of {@link OracleVerificationSql.insertDifference}. */
export const VERIFY_DIFFERENCE_BIND_DEFS = [
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 191 },
  { type: oracledb.DB_TYPE_NUMBER },
  { type: oracledb.DB_TYPE_NUMBER },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 128 },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 128 },
  { type: oracledb.DB_TYPE_CLOB },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 9 },
  { type: oracledb.DB_TYPE_CLOB },
];

/** Bind types of one row of {@link OracleVerificationSql.markRepair}. */
export const VERIFY_REPAIR_BIND_DEFS = [
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 9 },
  { type: oracledb.DB_TYPE_VARCHAR, maxSize: 191 },
  { type: oracledb.DB_TYPE_NUMBER },
  { type: oracledb.DB_TYPE_NUMBER },
];

export class OracleVerificationSql {
  readonly verifications: string;
  readonly chunks: string;
  readonly differences: string;
  private readonly index: string;

  constructor(schema?: string, identifierCase: 'upper' | 'exact' = 'upper') {
    const owner = schema ? quoteOracleIdentifier(oracleName(schema, identifierCase)) : undefined;
    const q = (name: string) =>
      owner ? `${owner}.${quoteOracleIdentifier(name)}` : quoteOracleIdentifier(name);
    this.verifications = q(ORACLE_VERIFICATION_TABLES.verifications);
    this.chunks = q(ORACLE_VERIFICATION_TABLES.chunks);
    this.differences = q(ORACLE_VERIFICATION_TABLES.differences);
    this.index = q('OTTERFLOW_VERIFY_BY_PIPELINE');
  }

  /** The statements that create the tables (each one repeatable). DDL: run with no transaction open. */
  create(): string[] {
    return [
      idempotent(
        `CREATE TABLE ${this.verifications} (verification_id VARCHAR2(191) PRIMARY KEY, ` +
          'pipeline VARCHAR2(64) NOT NULL, state VARCHAR2(16) NOT NULL, request_json CLOB, error CLOB, ' +
          `repair_json CLOB, started_at TIMESTAMP(6) DEFAULT ${NOW} NOT NULL, ` +
          `updated_at TIMESTAMP(6) DEFAULT ${NOW} NOT NULL, finished_at TIMESTAMP(6))`,
      ),
      idempotent(`CREATE INDEX ${this.index} ON ${this.verifications} (pipeline, started_at)`),
      idempotent(
        `CREATE TABLE ${this.chunks} (verification_id VARCHAR2(191) NOT NULL, chunk_no NUMBER(10) NOT NULL, ` +
          'target_schema VARCHAR2(128) NOT NULL, target_table VARCHAR2(128) NOT NULL, sources CLOB NOT NULL, ' +
          'key_columns CLOB NOT NULL, after_key CLOB, up_to_key CLOB, ' +
          "status VARCHAR2(8) DEFAULT 'pending' NOT NULL CHECK (status IN ('pending', 'done')), " +
          'rows_source NUMBER(20) DEFAULT 0 NOT NULL, rows_target NUMBER(20) DEFAULT 0 NOT NULL, ' +
          'unsettled NUMBER(10) DEFAULT 0 NOT NULL, done_at TIMESTAMP(6), PRIMARY KEY (verification_id, chunk_no))',
      ),
      idempotent(
        `CREATE TABLE ${this.differences} (verification_id VARCHAR2(191) NOT NULL, chunk_no NUMBER(10) NOT NULL, ` +
          'seq NUMBER(10) NOT NULL, target_schema VARCHAR2(128) NOT NULL, target_table VARCHAR2(128) NOT NULL, ' +
          "key_json CLOB NOT NULL, kind VARCHAR2(9) NOT NULL CHECK (kind IN ('missing', 'extra', 'different')), " +
          "columns_json CLOB, repair VARCHAR2(9) CHECK (repair IN ('repaired', 'remaining')), " +
          'PRIMARY KEY (verification_id, chunk_no, seq))',
      ),
    ];
  }

  // ---- the verification row ----

  /** Binds: id, pipeline, request JSON. An id that exists fails with ORA-00001 (the caller ignores it). */
  insertVerification(): string {
    return `INSERT INTO ${this.verifications} (verification_id, pipeline, state, request_json) VALUES (:1, :2, 'planning', :3)`;
  }

  /** Binds: state, id. */
  setState(): string {
    return `UPDATE ${this.verifications} SET state = :1, updated_at = ${NOW} WHERE verification_id = :2`;
  }

  /** Binds: id. */
  resume(): string {
    return (
      `UPDATE ${this.verifications} SET state = 'comparing', error = NULL, finished_at = NULL, updated_at = ${NOW} ` +
      'WHERE verification_id = :1'
    );
  }

  /** Binds: state, error, id. */
  finish(): string {
    return (
      `UPDATE ${this.verifications} SET state = :1, error = :2, finished_at = ${NOW}, updated_at = ${NOW} ` +
      'WHERE verification_id = :3'
    );
  }

  /** Binds: repair JSON, id. */
  storeRepair(): string {
    return `UPDATE ${this.verifications} SET repair_json = :1, updated_at = ${NOW} WHERE verification_id = :2`;
  }

  /** Binds: id. */
  readRequest(): string {
    return `SELECT request_json FROM ${this.verifications} WHERE verification_id = :1`;
  }

  /** Binds: id. Pipeline, state, error, repair JSON, then started, updated and finished as ISO text. */
  readHead(): string {
    return (
      `SELECT pipeline, state, error, repair_json, TO_CHAR(started_at, ${ISO}), TO_CHAR(updated_at, ${ISO}), ` +
      `TO_CHAR(finished_at, ${ISO}) FROM ${this.verifications} WHERE verification_id = :1`
    );
  }

  // ---- chunks ----

  /** Binds: id. */
  hasPlan(): string {
    return `SELECT 1 FROM ${this.chunks} WHERE verification_id = :1 FETCH FIRST 1 ROWS ONLY`;
  }

  /** Binds ({@link VERIFY_CHUNK_BIND_DEFS}): id, chunk no, target schema, table, sources, key columns, after, up to. */
  insertChunk(): string {
    return (
      `INSERT INTO ${this.chunks} (verification_id, chunk_no, target_schema, target_table, sources, key_columns, ` +
      'after_key, up_to_key) VALUES (:1, :2, :3, :4, :5, :6, :7, :8)'
    );
  }

  /** Binds: id, chunk no. */
  readChunk(): string {
    return (
      'SELECT chunk_no, target_schema, target_table, sources, key_columns, after_key, up_to_key, status ' +
      `FROM ${this.chunks} WHERE verification_id = :1 AND chunk_no = :2`
    );
  }

  /** Binds: id. */
  chunkStatuses(): string {
    return `SELECT chunk_no, status FROM ${this.chunks} WHERE verification_id = :1 ORDER BY chunk_no`;
  }

  /** Binds: rows source, rows target, unsettled, id, chunk no. */
  markChunkDone(): string {
    return (
      `UPDATE ${this.chunks} SET status = 'done', rows_source = :1, rows_target = :2, unsettled = :3, ` +
      `done_at = ${NOW} WHERE verification_id = :4 AND chunk_no = :5`
    );
  }

  /** Binds: id. Per target table: chunks, done, rows source, rows target, unsettled, first chunk no. */
  tableTotals(): string {
    return (
      "SELECT target_schema, target_table, COUNT(*), SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END), " +
      `SUM(rows_source), SUM(rows_target), SUM(unsettled), MIN(chunk_no) FROM ${this.chunks} ` +
      'WHERE verification_id = :1 GROUP BY target_schema, target_table ORDER BY target_schema, target_table'
    );
  }

  // ---- differences ----

  /** Binds: id, chunk no. */
  deleteDifferences(): string {
    return `DELETE FROM ${this.differences} WHERE verification_id = :1 AND chunk_no = :2`;
  }

  /** Binds ({@link VERIFY_DIFFERENCE_BIND_DEFS}): id, chunk no, seq, target schema, table, key JSON, kind, columns JSON. */
  insertDifference(): string {
    return (
      `INSERT INTO ${this.differences} (verification_id, chunk_no, seq, target_schema, target_table, key_json, ` +
      'kind, columns_json) VALUES (:1, :2, :3, :4, :5, :6, :7, :8)'
    );
  }

  /** Binds ({@link VERIFY_REPAIR_BIND_DEFS}): repair outcome, id, chunk no, seq. */
  markRepair(): string {
    return `UPDATE ${this.differences} SET repair = :1 WHERE verification_id = :2 AND chunk_no = :3 AND seq = :4`;
  }

  /** Binds: id. */
  countDifferences(): string {
    return `SELECT COUNT(*) FROM ${this.differences} WHERE verification_id = :1`;
  }

  /** Binds: id, offset, limit. Chunk no, seq, schema, table, key JSON, kind, columns JSON, repair, key columns. */
  differencesPage(): string {
    return (
      'SELECT d.chunk_no, d.seq, d.target_schema, d.target_table, d.key_json, d.kind, d.columns_json, d.repair, ' +
      `c.key_columns FROM ${this.differences} d JOIN ${this.chunks} c ` +
      'ON c.verification_id = d.verification_id AND c.chunk_no = d.chunk_no WHERE d.verification_id = :1 ' +
      'ORDER BY d.chunk_no, d.seq OFFSET :2 ROWS FETCH NEXT :3 ROWS ONLY'
    );
  }

  /** Binds: id. Per target table and kind: how many differences. */
  kindCounts(): string {
    return (
      `SELECT target_schema, target_table, kind, COUNT(*) FROM ${this.differences} WHERE verification_id = :1 ` +
      'GROUP BY target_schema, target_table, kind'
    );
  }
}
