import type mysql from 'mysql2/promise';
import { ensureCheckpointTable, SYSTEM_SCHEMA } from './checkpoint';

/**
 * Which source server a pipeline's checkpoint belongs to. A binlog position means nothing on another
 * server: a pipeline deleted and created again under the same name, now pointing at a different
 * server, must not resume from the old server's file and GTID set. The identity is kept beside the
 * checkpoint on the target (`otterflow.checkpoint_sources`), recorded when the checkpoint is created
 * (or, for a checkpoint older than this table, on its next run) and compared on every run.
 */

/** MySQL: the server's `server_uuid`; MariaDB (no server uuid): its server id and GTID domain. */
export async function readSourceIdentity(source: mysql.Connection): Promise<string> {
  const [rows] = await source.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v, @@GLOBAL.server_id AS id');
  const version = String(rows[0]?.v ?? '');
  if (/mariadb/i.test(version)) {
    const [d] = await source.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.gtid_domain_id AS d');
    return `mariadb server_id=${rows[0]?.id} gtid_domain_id=${d[0]?.d}`;
  }
  const [u] = await source.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.server_uuid AS u');
  return `mysql server_uuid=${u[0]?.u}`;
}

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
 * Records or checks the source identity of `pipeline`'s checkpoint. `created`: the checkpoint was
 * created by this run (a new pipeline, or one whose checkpoint was deleted), so whatever was recorded
 * before is replaced. Returns an explanation when the checkpoint belongs to another server.
 */
export async function checkCheckpointSource(
  target: mysql.Connection,
  pipeline: string,
  identity: string,
  created: boolean,
  sourceName: string,
): Promise<string | undefined> {
  await ensureTable(target);
  const [rows] = await target.query<mysql.RowDataPacket[]>(
    `SELECT source_identity FROM \`${SYSTEM_SCHEMA}\`.checkpoint_sources WHERE pipeline = ?`,
    [pipeline],
  );
  const recorded = rows[0] ? String(rows[0].source_identity) : undefined;
  if (recorded === undefined || created) {
    await target.query(
      `REPLACE INTO \`${SYSTEM_SCHEMA}\`.checkpoint_sources (pipeline, source_identity) VALUES (?, ?)`,
      [pipeline, identity],
    );
    return undefined;
  }
  if (recorded === identity) return undefined;
  return (
    `pipeline "${pipeline}": its checkpoint on the target was written while reading another source server ` +
    `(${recorded}); datasource "${sourceName}" is now ${identity}, where that binlog position means nothing. ` +
    `To start over on this server, delete the pipeline with its checkpoint (otterflow pipeline delete ${pipeline} ` +
    `--drop-checkpoint) and create it again; to keep the old position, point "${sourceName}" back at the old server.`
  );
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
