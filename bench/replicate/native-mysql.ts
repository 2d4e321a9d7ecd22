/**
 * The MySQL baseline: a native MySQL replica of the benchmark source with GTID auto-positioning
 * (CHANGE REPLICATION SOURCE TO … SOURCE_AUTO_POSITION=1), replaying exactly the GTIDs a workload
 * wrote: the replica's gtid_executed is set to the source's set at the start, and START REPLICA UNTIL
 * SQL_AFTER_GTIDS stops it after the source's set at the end.
 */
import type mysql from 'mysql2/promise';
import { pollUntil, secondsSince } from '../lib/measure';

export interface MysqlReplicaOptions {
  replica: mysql.Connection;
  sourceHost: string;
  sourcePort: number;
  /** The source's gtid_executed when the range starts (the replica claims to have these). */
  startGtids: string;
  /** replica_parallel_workers (1 = a single applier thread). */
  workers: number;
}

/**
 * Points the replica at the source with auto-positioning from `startGtids`. The replica forgets its
 * own binlog and GTIDs (RESET BINARY LOGS AND GTIDS); its tables keep their rows.
 */
export async function pointMysqlReplica(o: MysqlReplicaOptions): Promise<void> {
  const r = o.replica;
  await r.query('STOP REPLICA').catch(() => {});
  await r.query('RESET REPLICA ALL');
  await r.query('RESET BINARY LOGS AND GTIDS');
  await r.query('SET GLOBAL gtid_purged = ?', [o.startGtids]);
  await r.query(`SET GLOBAL replica_parallel_workers = ${Math.max(1, o.workers)}`);
  await r.query(
    `CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = 'root', SOURCE_PASSWORD = '',
       SOURCE_AUTO_POSITION = 1, SOURCE_HEARTBEAT_PERIOD = 1, GET_SOURCE_PUBLIC_KEY = 1`,
    [o.sourceHost, o.sourcePort],
  );
}

async function replicaError(r: mysql.Connection): Promise<string | undefined> {
  const [rows] = await r.query<mysql.RowDataPacket[]>('SHOW REPLICA STATUS');
  const s = rows[0];
  if (!s) return 'SHOW REPLICA STATUS is empty';
  const error = String(s.Last_SQL_Error || s.Last_IO_Error || '');
  return error && (s.Replica_SQL_Running === 'No' || s.Replica_IO_Running === 'No') ? error : undefined;
}

/**
 * Times the replica from START REPLICA until its gtid_executed holds `endGtids` (the source's set
 * at the end of the workload). Stops and resets the replication channel afterwards.
 */
export async function runMysqlReplica(
  o: MysqlReplicaOptions & { endGtids: string; timeoutMs: number },
): Promise<{ seconds: number; warnings: string[] }> {
  const r = o.replica;
  await pointMysqlReplica(o);
  const t0 = process.hrtime.bigint();
  // UNTIL: the applier stops at the end, before events written later (e.g. our pipelines' heartbeat
  // rows) that are no part of the workload.
  await r.query('START REPLICA UNTIL SQL_AFTER_GTIDS = ?', [o.endGtids]);
  const [warnRows] = await r.query<mysql.RowDataPacket[]>('SHOW WARNINGS');
  let polls = 0;
  await pollUntil(
    `the native MySQL replica to execute ${o.endGtids}`,
    async () => {
      const [rows] = await r.query<mysql.RowDataPacket[]>(
        'SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS done',
        [o.endGtids],
      );
      if (Number(rows[0]?.done) === 1) return true;
      // Errors checked every 50th poll (~0.5 s): SHOW REPLICA STATUS is heavier than the GTID check.
      if (++polls % 50 === 0) {
        const error = await replicaError(r);
        if (error) throw new Error(`native MySQL replica stopped: ${error}`);
      }
      return false;
    },
    10,
    o.timeoutMs,
  );
  const seconds = secondsSince(t0);
  await r.query('STOP REPLICA');
  await r.query('RESET REPLICA ALL');
  return { seconds, warnings: warnRows.map((w) => String(w.Message)) };
}

/** Starts following the source from `startGtids` (no end), for the lag measurement. */
export async function followMysqlSource(o: MysqlReplicaOptions): Promise<void> {
  await pointMysqlReplica(o);
  await o.replica.query('START REPLICA');
}

export async function stopMysqlReplica(r: mysql.Connection): Promise<void> {
  const error = await replicaError(r).catch(() => undefined);
  await r.query('STOP REPLICA');
  await r.query('RESET REPLICA ALL');
  if (error) throw new Error(`native MySQL replica stopped: ${error}`);
}
