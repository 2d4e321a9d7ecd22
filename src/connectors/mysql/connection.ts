import fs from 'node:fs';
import type { SslOptions } from 'mysql2';
import mysql from 'mysql2/promise';
import type { Datasource, ResolvedDatasource } from '../../config/datasources';

/** The mysql2 TLS options for a datasource's `tls` setting; undefined for plain TCP. */
export function mysqlTlsOptions(ds: Datasource): SslOptions | undefined {
  if (!ds.tls || ds.tls === 'off') return undefined;
  if (ds.tls === 'required') return { rejectUnauthorized: false };
  if (!ds.tlsCaFile) return { rejectUnauthorized: true };
  try {
    return { ca: fs.readFileSync(ds.tlsCaFile, 'utf8'), rejectUnauthorized: true };
  } catch {
    throw new Error(`datasource "${ds.name}": cannot read tlsCaFile ${ds.tlsCaFile}`);
  }
}

/**
 * Opens one connection. Values come back exactly: DECIMAL and BIGINT as strings, dates as
 * strings (no time zone conversion), binary as Buffers.
 */
export async function openMysql(
  ds: ResolvedDatasource,
  database?: string,
  /** Extra driver options (e.g. a typeCast for a reader); the exactness settings above stay. */
  extra: Pick<mysql.ConnectionOptions, 'typeCast'> = {},
): Promise<mysql.Connection> {
  if (ds.kind === 'oracle')
    throw new Error(
      `datasource "${ds.name}" is an Oracle database, not MySQL/MariaDB: Oracle can only be a pipeline's target (sources, backfills and re-syncs need MySQL/MariaDB)`,
    );
  return mysql.createConnection({
    host: ds.host,
    port: ds.port,
    user: ds.user,
    password: ds.password,
    database,
    connectTimeout: 10000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    timezone: 'Z',
    charset: 'utf8mb4_general_ci',
    multipleStatements: false,
    // Our COM_STMT_EXECUTE writer and statement pipeline (stmt-execute.ts, statement-pipeline.ts) write
    // the packet without query attributes; with the capability on (MySQL 8.0.23+ offers it) the applier
    // falls back to mysql2's execute, one statement per round trip (3-4x slower on large batches).
    flags: ['-CLIENT_QUERY_ATTRIBUTES'],
    ...(ds.tls && ds.tls !== 'off' ? { ssl: mysqlTlsOptions(ds) } : {}),
    ...extra,
  });
}
