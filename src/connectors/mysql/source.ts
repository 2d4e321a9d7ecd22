import type mysql from 'mysql2/promise';
import type { ResolvedDatasource } from '../../config/datasources';
import { openMysql } from './connection';

/**
 * The MySQL/MariaDB SOURCE side, as the rest of Otterflow reads it: sources are always MySQL or
 * MariaDB (the binlog is theirs), so code that reads a source may use these directly. Target code goes
 * through connectors/target.ts and the registry instead.
 */

// The TLS options of the binlog dump connection, and the check of source column types against a target.
export { mysqlTlsOptions } from './connection';
export { quoteMysqlIdentifier, quoteMysqlTable } from './dialect';
export {
  checkSourcePrerequisites,
  type PrerequisiteCheck,
  readSourceSettings,
  type SourceSettings,
} from './prerequisites';
export { type RawRowSink, rawTextQuery } from './raw-text-query';
export { ensureSourceMarksTable, readPeerSite } from './source-channel';
export { findUnsupportedColumns, type SourceTypeVerdict } from './type-support';

/** Why a datasource cannot be a replication source, or undefined when it can. */
export function notASourceReason(ds: Pick<ResolvedDatasource, 'kind' | 'name'>): string | undefined {
  return ds.kind === 'mysql' || ds.kind === 'mariadb'
    ? undefined
    : `datasource "${ds.name}" is a ${ds.kind} database: sources must be MySQL or MariaDB`;
}

/** Opens a connection to a source (exact values, see openMysql). */
export async function openMysqlSource(
  ds: ResolvedDatasource,
  extra: Pick<mysql.ConnectionOptions, 'typeCast'> = {},
): Promise<mysql.Connection> {
  const reason = notASourceReason(ds);
  if (reason) throw new Error(reason);
  return openMysql(ds, undefined, extra);
}

/**
 * Which server this is, for the checkpoint's record of where its position was read (a binlog position
 * means nothing on another server).
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
