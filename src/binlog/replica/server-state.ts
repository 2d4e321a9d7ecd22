/**
 * What a replica needs to know about a source before and around a dump: flavor and version, server
 * id, checksum setting, the current binlog position (for "start from now") and the binlog files
 * still on the server (to explain purged positions). Uses an ordinary SQL connection.
 */
import type { BinlogPosition } from '../types';
import type { ServerFlavor } from './position-tracker';

/** The part of a mysql2/promise connection these functions use. */
export interface SqlRunner {
  query(sql: string, values?: unknown[]): Promise<[unknown, unknown]>;
}

type Row = Record<string, unknown>;

async function rows(conn: SqlRunner, sql: string, values?: unknown[]): Promise<Row[]> {
  const [r] = await conn.query(sql, values);
  return r as Row[];
}

export interface ServerInfo {
  flavor: ServerFlavor;
  /** `VERSION()` as reported, e.g. `10.11.6-MariaDB-log` or `8.0.36`. */
  version: string;
  /** [major, minor, patch] of the server version. */
  versionNumbers: [number, number, number];
  serverId: number;
  /** `@@global.binlog_checksum`: 'CRC32' or 'NONE'. */
  binlogChecksum: string;
  /** MySQL only: whether GTIDs are on (gtid_mode=ON). MariaDB always has GTIDs. */
  gtidMode: boolean;
}

/** Flavor, version, server id and binlog settings of the server behind `conn`. */
export async function readServerInfo(conn: SqlRunner): Promise<ServerInfo> {
  const [r] = await rows(
    conn,
    'SELECT VERSION() AS version, @@server_id AS serverId, @@global.binlog_checksum AS checksum',
  );
  if (!r) throw new Error('SELECT VERSION() returned no row');
  const version = String(r.version);
  const flavor: ServerFlavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  const versionNumbers: [number, number, number] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  let gtidMode = flavor === 'mariadb';
  if (flavor === 'mysql') {
    const [g] = await rows(conn, 'SELECT @@global.gtid_mode AS mode').catch(() => [] as Row[]);
    gtidMode = String(g?.mode ?? 'OFF').toUpperCase() === 'ON';
  }
  return {
    flavor,
    version,
    versionNumbers,
    serverId: Number(r.serverId),
    binlogChecksum: String(r.checksum ?? 'NONE').toUpperCase(),
    gtidMode,
  };
}

/** True when the MySQL version is at least `min` (for the 8.0.26 source/replica renames). */
export function versionAtLeast(v: [number, number, number], min: [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) {
    if (v[i]! !== min[i]!) return v[i]! > min[i]!;
  }
  return true;
}

/**
 * The server's current binlog end as a position to start streaming from "now": file and position
 * from SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4+), and the GTID state at exactly that
 * point (MariaDB: `BINLOG_GTID_POS(file, pos)`; MySQL: the Executed_Gtid_Set of the same row), so
 * file/pos and GTID agree even while the server is being written to.
 */
export async function readServerBinlogState(conn: SqlRunner): Promise<BinlogPosition> {
  let status: Row[];
  try {
    status = await rows(conn, 'SHOW MASTER STATUS');
  } catch {
    status = await rows(conn, 'SHOW BINARY LOG STATUS');
  }
  const s = status[0];
  if (!s?.File) {
    throw new Error(
      'the server has binary logging off (SHOW MASTER STATUS is empty): enable log_bin to replicate from it',
    );
  }
  const pos: BinlogPosition = { file: String(s.File), pos: Number(s.Position) };
  if ('Executed_Gtid_Set' in s) {
    const set = String(s.Executed_Gtid_Set ?? '').replace(/\s+/g, '');
    if (set !== '') pos.gtid = set;
  } else {
    const [g] = await rows(conn, 'SELECT BINLOG_GTID_POS(?, ?) AS gtid', [pos.file, pos.pos]);
    if (g?.gtid !== null && g?.gtid !== undefined) pos.gtid = String(g.gtid);
  }
  return pos;
}

export interface BinaryLogFile {
  name: string;
  size: number;
}

/** The binlog files still on the server, oldest first (SHOW BINARY LOGS). */
export async function listBinaryLogs(conn: SqlRunner): Promise<BinaryLogFile[]> {
  const r = await rows(conn, 'SHOW BINARY LOGS');
  return r.map((x) => ({ name: String(x.Log_name), size: Number(x.File_size) }));
}

/** MariaDB: the GTID state at a file/position, or undefined when the server cannot tell. */
export async function mariaDbGtidAt(conn: SqlRunner, file: string, pos: number): Promise<string | undefined> {
  const [g] = await rows(conn, 'SELECT BINLOG_GTID_POS(?, ?) AS gtid', [file, pos]);
  return g?.gtid === null || g?.gtid === undefined ? undefined : String(g.gtid);
}
