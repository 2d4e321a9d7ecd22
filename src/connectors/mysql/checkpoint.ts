import type mysql from 'mysql2/promise';
import type { BinlogPosition } from '../../binlog/types';
import { type CheckpointClaim, StaleEpochError, SYSTEM_SCHEMA, type TargetCheckpoint } from '../target';
import { dropCheckpoint, recordCheckpointSource } from './checkpoint-source';

export { StaleEpochError };

/**
 * The pipeline checkpoint lives in the TARGET, in the `otterflow` schema, and is written in the same
 * transaction as the rows it covers: a batch and its position commit together or not at all.
 *
 * Fencing: every replicate attempt claims a new epoch. A batch transaction first bumps the
 * checkpoint row *only if its epoch is still current*; that statement also row-locks the checkpoint,
 * so a newer attempt's claim waits for an older in-flight batch to finish and then reads the position
 * that batch committed. A stale attempt (a worker presumed dead that wakes up) finds its epoch
 * superseded and rolls back before it writes anything.
 */

export { SYSTEM_SCHEMA };

export type Claim = CheckpointClaim;

export async function ensureCheckpointTable(conn: mysql.Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${SYSTEM_SCHEMA}\``);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS \`${SYSTEM_SCHEMA}\`.checkpoints (
      pipeline VARCHAR(64) NOT NULL PRIMARY KEY,
      epoch BIGINT UNSIGNED NOT NULL,
      binlog_file VARCHAR(512) NOT NULL,
      binlog_pos BIGINT UNSIGNED NOT NULL,
      gtid TEXT NULL,
      batch_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB`,
  );
}

/**
 * Claims a new epoch for `pipeline` and returns the position to resume from. On the first run the
 * checkpoint is created at `initial()` (e.g. the source's current position or a configured start).
 */
export async function claimCheckpoint(
  conn: mysql.Connection,
  pipeline: string,
  initial: () => Promise<BinlogPosition>,
): Promise<Claim> {
  await ensureCheckpointTable(conn);
  // Computed outside the transaction: it may talk to the source.
  let firstPosition: BinlogPosition | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    await conn.query('START TRANSACTION');
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>(
        `SELECT epoch, binlog_file, binlog_pos, gtid FROM \`${SYSTEM_SCHEMA}\`.checkpoints WHERE pipeline = ? FOR UPDATE`,
        [pipeline],
      );
      const row = rows[0];
      if (row) {
        const epoch = Number(row.epoch) + 1;
        await conn.query(`UPDATE \`${SYSTEM_SCHEMA}\`.checkpoints SET epoch = ? WHERE pipeline = ?`, [
          epoch,
          pipeline,
        ]);
        await conn.query('COMMIT');
        return { epoch, position: positionOf(row), created: false };
      }
      if (!firstPosition) {
        await conn.query('ROLLBACK');
        firstPosition = await initial();
        continue;
      }
      await conn.query(
        `INSERT INTO \`${SYSTEM_SCHEMA}\`.checkpoints (pipeline, epoch, binlog_file, binlog_pos, gtid) VALUES (?, 1, ?, ?, ?)`,
        [pipeline, firstPosition.file, firstPosition.pos, firstPosition.gtid ?? null],
      );
      await conn.query('COMMIT');
      return { epoch: 1, position: firstPosition, created: true };
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
  throw new Error(`pipeline "${pipeline}": could not create its checkpoint`);
}

/**
 * First statement of every batch transaction: proves the epoch is current and locks the checkpoint
 * row until COMMIT; given the batch's end `position`, it also writes the checkpoint. Throws
 * StaleEpochError when superseded.
 */
export async function fenceBatch(
  conn: mysql.Connection,
  pipeline: string,
  epoch: number,
  position?: BinlogPosition,
): Promise<void> {
  // With the batch's position known up front, the fence writes the checkpoint too (one round trip
  // less per batch): it commits with the rows whatever the statement order inside the transaction.
  const setPosition = position ? ', binlog_file = ?, binlog_pos = ?, gtid = ?' : '';
  const [res] = await conn.query<mysql.ResultSetHeader>(
    `UPDATE \`${SYSTEM_SCHEMA}\`.checkpoints SET batch_seq = batch_seq + 1${setPosition} WHERE pipeline = ? AND epoch = ?`,
    position ? [position.file, position.pos, position.gtid ?? null, pipeline, epoch] : [pipeline, epoch],
  );
  if (res.affectedRows !== 1) throw new StaleEpochError(pipeline, epoch);
}

/**
 * Last statement of a batch transaction whose fence did not write the checkpoint (slices of a source
 * transaction still being read when the target transaction opened): the position after the batch's last
 * source transaction.
 */
export async function writeCheckpoint(
  conn: mysql.Connection,
  pipeline: string,
  epoch: number,
  position: BinlogPosition,
): Promise<void> {
  const [res] = await conn.query<mysql.ResultSetHeader>(
    `UPDATE \`${SYSTEM_SCHEMA}\`.checkpoints SET binlog_file = ?, binlog_pos = ?, gtid = ? WHERE pipeline = ? AND epoch = ?`,
    [position.file, position.pos, position.gtid ?? null, pipeline, epoch],
  );
  if (res.affectedRows !== 1) throw new StaleEpochError(pipeline, epoch);
}

/**
 * The committed position; creates nothing (a verification polls it while it waits, and a CREATE ...
 * IF NOT EXISTS per poll would fill the target's binlog): no system table means no checkpoint.
 */
export async function readCheckpoint(
  conn: mysql.Connection,
  pipeline: string,
): Promise<BinlogPosition | undefined> {
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT binlog_file, binlog_pos, gtid FROM \`${SYSTEM_SCHEMA}\`.checkpoints WHERE pipeline = ?`,
      [pipeline],
    );
    return rows[0] ? positionOf(rows[0]) : undefined;
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === 1146 || errno === 1049) return undefined; // no table or no schema: never ran here
    throw err;
  }
}

function positionOf(row: mysql.RowDataPacket): BinlogPosition {
  const p: BinlogPosition = { file: String(row.binlog_file), pos: Number(row.binlog_pos) };
  if (row.gtid) p.gtid = String(row.gtid);
  return p;
}

/** The checkpoint of one pipeline on one MySQL/MariaDB target connection. */
export class MysqlCheckpoint implements TargetCheckpoint {
  constructor(
    private readonly conn: mysql.Connection,
    private readonly pipeline: string,
  ) {}

  claim(initial: () => Promise<BinlogPosition>): Promise<CheckpointClaim> {
    return claimCheckpoint(this.conn, this.pipeline, initial);
  }

  read(): Promise<BinlogPosition | undefined> {
    return readCheckpoint(this.conn, this.pipeline);
  }

  fence(epoch: number, position?: BinlogPosition): Promise<void> {
    return fenceBatch(this.conn, this.pipeline, epoch, position);
  }

  write(epoch: number, position: BinlogPosition): Promise<void> {
    return writeCheckpoint(this.conn, this.pipeline, epoch, position);
  }

  remove(): Promise<boolean> {
    return dropCheckpoint(this.conn, this.pipeline);
  }

  recordSource(identity: string, replace: boolean): Promise<string> {
    return recordCheckpointSource(this.conn, this.pipeline, identity, replace);
  }
}
