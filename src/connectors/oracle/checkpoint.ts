import oracledb from 'oracledb';
import type { BinlogPosition } from '../../binlog/types';
import { type CheckpointClaim, StaleEpochError, type TargetCheckpoint } from '../target';
import type { OracleConnectionLike } from './connection';
import { oracleName, quoteOracleIdentifier } from './dialect';

/**
 * The pipeline checkpoint in an Oracle target: one row per pipeline in `OTTERFLOW_CHECKPOINTS`
 * (in the connecting user's schema unless a schema is configured), written in the same
 * transaction as the rows it covers, exactly as on MySQL targets:
 * - claim: a new epoch per replicate attempt (`SELECT … FOR UPDATE`, `UPDATE epoch`, COMMIT);
 * - fence: the first statement of every batch transaction updates the row only if the epoch is still
 *   current, which also row-locks it until COMMIT, so a newer claim waits for an older batch in flight;
 * - write: the batch's end position, before COMMIT.
 *
 * Oracle stores '' as NULL: a GTID-only position (no file name) reads back with `file: ''`.
 */

export const ORACLE_CHECKPOINT_TABLE = 'OTTERFLOW_CHECKPOINTS';

/** The part of an oracledb connection the checkpoint uses. */
export type CheckpointConnection = Pick<OracleConnectionLike, 'execute' | 'commit' | 'rollback'>;

/** ORA-00955: name is already used by an existing object. ORA-00001: unique constraint violated. */
const NAME_IN_USE = -955;
const UNIQUE_VIOLATED = 'ORA-00001';

/** SQL of the checkpoint statements (pure: the golden tests read them). */
export class OracleCheckpointSql {
  readonly table: string;

  constructor(schema?: string, identifierCase: 'upper' | 'exact' = 'upper') {
    const t = quoteOracleIdentifier(ORACLE_CHECKPOINT_TABLE);
    this.table = schema ? `${quoteOracleIdentifier(oracleName(schema, identifierCase))}.${t}` : t;
  }

  /** Idempotent creation: an anonymous block that ignores "name already used". */
  create(): string {
    const ddl =
      `CREATE TABLE ${this.table} (pipeline VARCHAR2(64) PRIMARY KEY, epoch NUMBER(20) NOT NULL, ` +
      'binlog_file VARCHAR2(512), binlog_pos NUMBER(20) NOT NULL, gtid CLOB, ' +
      'batch_seq NUMBER(20) DEFAULT 0 NOT NULL, updated_at TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL)';
    return (
      `BEGIN EXECUTE IMMEDIATE '${ddl.replace(/'/g, "''")}'; ` +
      `EXCEPTION WHEN OTHERS THEN IF SQLCODE != ${NAME_IN_USE} THEN RAISE; END IF; END;`
    );
  }

  selectForUpdate(): string {
    return `SELECT epoch, binlog_file, binlog_pos, gtid FROM ${this.table} WHERE pipeline = :1 FOR UPDATE`;
  }

  select(): string {
    return `SELECT epoch, binlog_file, binlog_pos, gtid FROM ${this.table} WHERE pipeline = :1`;
  }

  bumpEpoch(): string {
    return `UPDATE ${this.table} SET epoch = :1, updated_at = SYSTIMESTAMP WHERE pipeline = :2`;
  }

  insert(): string {
    return `INSERT INTO ${this.table} (pipeline, epoch, binlog_file, binlog_pos, gtid) VALUES (:1, 1, :2, :3, :4)`;
  }

  /** The fence; with a position it writes the checkpoint too (binds: position first, then pipeline, epoch). */
  fence(withPosition: boolean): string {
    const set = withPosition ? ', binlog_file = :1, binlog_pos = :2, gtid = :3' : '';
    const n = withPosition ? 4 : 1;
    return (
      `UPDATE ${this.table} SET batch_seq = batch_seq + 1${set}, updated_at = SYSTIMESTAMP ` +
      `WHERE pipeline = :${n} AND epoch = :${n + 1}`
    );
  }

  write(): string {
    return (
      `UPDATE ${this.table} SET binlog_file = :1, binlog_pos = :2, gtid = :3, updated_at = SYSTIMESTAMP ` +
      'WHERE pipeline = :4 AND epoch = :5'
    );
  }

  delete(): string {
    return `DELETE FROM ${this.table} WHERE pipeline = :1`;
  }
}

export type CheckpointRow = [number | string, string | null, number | string, string | null];
type Row = CheckpointRow;
export const CHECKPOINT_READ_OPTIONS = {
  outFormat: oracledb.OUT_FORMAT_ARRAY,
  // The GTID set is a CLOB: fetched as text.
  fetchInfo: { GTID: { type: oracledb.STRING } },
} as const;

/** Checkpoint operations for one pipeline on one Oracle connection. */
export class OracleCheckpoint implements TargetCheckpoint {
  private ensured = false;

  constructor(
    private readonly conn: CheckpointConnection,
    readonly pipeline: string,
    readonly sql: OracleCheckpointSql = new OracleCheckpointSql(),
  ) {}

  /** Creates the table when it is not there (DDL: Oracle commits around it, so call it outside a batch). */
  async ensureTable(): Promise<void> {
    if (this.ensured) return;
    await this.conn.execute(this.sql.create());
    this.ensured = true;
  }

  /**
   * Claims a new epoch and returns the position to resume from; on the first run the checkpoint is
   * created at `initial()`. Commits its own short transaction.
   */
  async claim(initial: () => Promise<BinlogPosition>): Promise<CheckpointClaim> {
    await this.ensureTable();
    let first: BinlogPosition | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const res = await this.conn.execute<Row>(
          this.sql.selectForUpdate(),
          [this.pipeline],
          CHECKPOINT_READ_OPTIONS,
        );
        const row = res.rows?.[0];
        if (row) {
          const epoch = Number(row[0]) + 1;
          await this.conn.execute(this.sql.bumpEpoch(), [epoch, this.pipeline]);
          await this.conn.commit();
          return { epoch, position: positionOf(row), created: false };
        }
        await this.conn.rollback();
        if (!first) first = await initial(); // may talk to the source: outside the transaction
        await this.conn.execute(this.sql.insert(), [this.pipeline, ...positionBinds(first)]);
        await this.conn.commit();
        return { epoch: 1, position: first, created: true };
      } catch (err) {
        await this.conn.rollback().catch(() => {});
        // Another attempt created the row between our SELECT and INSERT: read it again.
        if ((err as { code?: string }).code === UNIQUE_VIOLATED) continue;
        throw err;
      }
    }
    throw new Error(`pipeline "${this.pipeline}": could not create its checkpoint`);
  }

  /** First statement of a batch transaction (see the module comment). Throws when superseded. */
  async fence(epoch: number, position?: BinlogPosition): Promise<void> {
    const binds = position ? [...positionBinds(position), this.pipeline, epoch] : [this.pipeline, epoch];
    const res = await this.conn.execute(this.sql.fence(position !== undefined), binds);
    if (res.rowsAffected !== 1) throw new StaleEpochError(this.pipeline, epoch);
  }

  /** Last statement of a batch whose fence did not write the position. */
  async write(epoch: number, position: BinlogPosition): Promise<void> {
    const res = await this.conn.execute(this.sql.write(), [...positionBinds(position), this.pipeline, epoch]);
    if (res.rowsAffected !== 1) throw new StaleEpochError(this.pipeline, epoch);
  }

  async read(): Promise<BinlogPosition | undefined> {
    await this.ensureTable();
    const res = await this.conn.execute<Row>(this.sql.select(), [this.pipeline], CHECKPOINT_READ_OPTIONS);
    const row = res.rows?.[0];
    return row ? positionOf(row) : undefined;
  }

  /** Forgets the pipeline's position (a reset); commits. True when there was one. */
  async remove(): Promise<boolean> {
    await this.ensureTable();
    const res = await this.conn.execute(this.sql.delete(), [this.pipeline]);
    await this.conn.commit();
    return (res.rowsAffected ?? 0) > 0;
  }
}

/** file (NULL for a GTID-only position), pos, gtid. */
function positionBinds(p: BinlogPosition): unknown[] {
  return [p.file || null, p.pos, p.gtid ? { type: oracledb.DB_TYPE_CLOB, val: p.gtid } : null];
}

export function positionOf(row: Row): BinlogPosition {
  const p: BinlogPosition = { file: row[1] ?? '', pos: Number(row[2]) };
  if (row[3]) p.gtid = row[3];
  return p;
}
