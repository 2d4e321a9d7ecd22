/**
 * The baseline: a native MariaDB replica of the benchmark source, replaying a binlog range with its
 * own IO and SQL threads (optionally with parallel apply threads).
 */
import type mysql from 'mysql2/promise';
import type { BinlogPosition } from '../../src/binlog/types';
import { pollUntil, secondsSince } from '../lib/measure';

export interface NativeRunOptions {
  replica: mysql.Connection;
  sourceHost: string;
  sourcePort: number;
  start: BinlogPosition;
  end: BinlogPosition;
  /** slave_parallel_threads (0 = the classic single SQL thread). */
  parallelThreads: number;
  timeoutMs: number;
}

/**
 * Points the replica at `start` (file/position, MASTER_USE_GTID=no), runs START SLAVE and times
 * until the SQL thread has executed up to `end` (Relay_Master_Log_File / Exec_Master_Log_Pos).
 * The replica is stopped and reset afterwards; its tables keep what it applied.
 */
export async function runNativeReplica(o: NativeRunOptions): Promise<{ seconds: number }> {
  const r = o.replica;
  await r.query('STOP SLAVE').catch(() => {});
  await r.query('RESET SLAVE ALL');
  await r.query(`SET GLOBAL slave_parallel_threads = ${o.parallelThreads}`);
  await r.query(`SET GLOBAL slave_parallel_mode = 'optimistic'`);
  await r.query(
    `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = 'root', MASTER_PASSWORD = '',
       MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no, MASTER_HEARTBEAT_PERIOD = 1`,
    [o.sourceHost, o.sourcePort, o.start.file, o.start.pos],
  );
  const t0 = process.hrtime.bigint();
  // UNTIL: the SQL thread stops at the end, before events written later (e.g. our pipelines'
  // heartbeat rows) that are no part of the workload.
  await r.query('START SLAVE UNTIL MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?', [o.end.file, o.end.pos]);
  let lastError = '';
  await pollUntil(
    `the native replica to execute up to ${o.end.file}:${o.end.pos}`,
    async () => {
      const [rows] = await r.query<mysql.RowDataPacket[]>('SHOW SLAVE STATUS');
      const s = rows[0];
      if (!s) return false;
      lastError = String(s.Last_SQL_Error || s.Last_IO_Error || '');
      if (s.Slave_SQL_Running === 'No' && lastError) throw new Error(`native replica stopped: ${lastError}`);
      const at: BinlogPosition = {
        file: String(s.Relay_Master_Log_File),
        pos: Number(s.Exec_Master_Log_Pos),
      };
      return at.file > o.end.file || (at.file === o.end.file && at.pos >= o.end.pos);
    },
    10,
    o.timeoutMs,
  );
  const seconds = secondsSince(t0);
  await r.query('STOP SLAVE');
  await r.query('RESET SLAVE ALL');
  return { seconds };
}

/**
 * Points the replica at the source from `at` (file/position, single SQL thread, heartbeat every
 * second) and starts it, to follow the source until STOP SLAVE: for lag under a steady load.
 */
export async function followSource(
  replica: mysql.Connection,
  sourceHost: string,
  sourcePort: number,
  at: BinlogPosition,
): Promise<void> {
  await replica.query('STOP SLAVE').catch(() => {});
  await replica.query('RESET SLAVE ALL');
  await replica.query('SET GLOBAL slave_parallel_threads = 0');
  await replica.query(
    `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = 'root', MASTER_PASSWORD = '',
       MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no, MASTER_HEARTBEAT_PERIOD = 1`,
    [sourceHost, sourcePort, at.file, at.pos],
  );
  await replica.query('START SLAVE');
}
