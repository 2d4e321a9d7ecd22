import type mysql from 'mysql2/promise';
import { ensureCheckpointTable, SYSTEM_SCHEMA } from './checkpoint';

/**
 * Which source server a pipeline's checkpoint belongs to. A binlog position means nothing on another
 * server: a pipeline deleted and created again under the same name, now pointing at a different
 * server, must not resume from the old server's file and GTID set. The identity is kept beside the
 * checkpoint on the target (`otterflow.checkpoint_sources`), recorded when the checkpoint is created
 * (or, for a checkpoint older than this table, on its next run) and compared on every run.
 */

async function ensureTable(target: mysql.Connection): Promise<void> {
  await target.query(
    `CREATE TABLE IF NOT EXISTS \`${SYSTEM_SCHEMA}\`.checkpoint_sources (
      pipeline VARCHAR(64) NOT NULL PRIMARY KEY,
      source_identity VARCHAR(255) NOT NULL,
      recorded_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB`,
  );
}

/**
 * Records `identity` as the source server of `pipeline`'s checkpoint when nothing is recorded yet
 * (a checkpoint older than this table) or when `replace` (the checkpoint was just created), and
 * returns what is recorded afterwards.
 */
export async function recordCheckpointSource(
  target: mysql.Connection,
  pipeline: string,
  identity: string,
  replace: boolean,
): Promise<string> {
  await ensureTable(target);
  const [rows] = await target.query<mysql.RowDataPacket[]>(
    `SELECT source_identity FROM \`${SYSTEM_SCHEMA}\`.checkpoint_sources WHERE pipeline = ?`,
    [pipeline],
  );
  const recorded = rows[0] ? String(rows[0].source_identity) : undefined;
  if (recorded !== undefined && !replace) return recorded;
  await target.query(
    `REPLACE INTO \`${SYSTEM_SCHEMA}\`.checkpoint_sources (pipeline, source_identity) VALUES (?, ?)`,
    [pipeline, identity],
  );
  return identity;
}

/** Deletes a pipeline's checkpoint and its recorded source (pipeline delete --drop-checkpoint). */
export async function dropCheckpoint(target: mysql.Connection, pipeline: string): Promise<boolean> {
  await ensureCheckpointTable(target);
  const [res] = await target.query<mysql.ResultSetHeader>(
    `DELETE FROM \`${SYSTEM_SCHEMA}\`.checkpoints WHERE pipeline = ?`,
    [pipeline],
  );
  await ensureTable(target);
  await target.query(`DELETE FROM \`${SYSTEM_SCHEMA}\`.checkpoint_sources WHERE pipeline = ?`, [pipeline]);
  return Number(res.affectedRows) > 0;
}
