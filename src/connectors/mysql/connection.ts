import mysql from 'mysql2/promise';
import type { ResolvedDatasource } from '../../config/datasources';

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
    ...extra,
  });
}
