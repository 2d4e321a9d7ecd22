import oracledb from 'oracledb';
import type { ResolvedDatasource } from '../../config/datasources';

/**
 * The part of an `oracledb` Connection the Oracle target uses. A real connection satisfies it; so
 * does the recording connection the engine tests run on (no Oracle server runs there).
 */
export interface OracleConnectionLike {
  execute<T = unknown>(
    sql: string,
    binds?: unknown[],
    options?: oracledb.ExecuteOptions,
  ): Promise<{ rows?: T[]; rowsAffected?: number }>;
  executeMany(
    sql: string,
    binds: unknown[][],
    options?: oracledb.ExecuteManyOptions,
  ): Promise<{
    rowsAffected?: number;
    dmlRowCounts?: number[];
    batchErrors?: Array<{ offset?: number; message: string; code?: string; errorNum?: number }>;
  }>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): Promise<void>;
}

/** Opens a connection to an Oracle target. */
export type OracleConnector = () => Promise<OracleConnectionLike>;

/**
 * `host:port/service` (Easy Connect) for a datasource of kind oracle. The service name is required:
 * Oracle routes connections by service (e.g. `FREEPDB1` for the pluggable database of Oracle
 * Database Free), not by a database name in the login.
 */
export function oracleConnectString(
  ds: Pick<ResolvedDatasource, 'name' | 'host' | 'port' | 'serviceName'>,
): string {
  if (!ds.serviceName)
    throw new Error(`datasource "${ds.name}": serviceName is required for Oracle (e.g. FREEPDB1)`);
  return `${ds.host}:${ds.port}/${ds.serviceName}`;
}

/**
 * Opens one connection in thin mode (pure JavaScript: no Oracle Client libraries). Numbers, dates
 * and LOBs are only ever sent as binds the value mapping chose, so no fetch settings matter here.
 */
export async function openOracle(ds: ResolvedDatasource): Promise<OracleConnectionLike> {
  const conn = await oracledb.getConnection({
    user: ds.user,
    password: ds.password,
    connectString: oracleConnectString(ds),
    connectTimeout: 10,
  });
  return conn;
}
