import type { ResolvedDatasource } from '../config/datasources';
import { openMysql } from '../connectors/mysql/connection';
import {
  checkSourcePrerequisites,
  type PrerequisiteCheck,
  readSourceSettings,
} from '../connectors/mysql/prerequisites';
import { ServiceError } from './problems';

/** Outcome of a successful connection test. */
export interface ConnectionTestResult {
  datasource: string;
  ok: true;
  serverVersion: string;
  elapsedMs: number;
}

/** Outcome of a source prerequisite check: `ready` only when every check passed. */
export interface SourceCheckResult {
  datasource: string;
  ready: boolean;
  serverVersion: string;
  checks: PrerequisiteCheck[];
}

/**
 * Says in words why a connection failed, without echoing anything the driver may have put in its
 * message beyond the error code and the server's own text (mysql2 never includes the password).
 */
export function describeConnectError(
  ds: { name: string; host: string; port: number; user: string },
  err: unknown,
): string {
  const e = err as { code?: string; message?: string };
  const where = `${ds.host}:${ds.port}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `datasource "${ds.name}" does not answer: connection to ${where} refused (is the server running on that port?)`;
    case 'ETIMEDOUT':
    case 'ECONNRESET':
      return `datasource "${ds.name}" does not answer: connection to ${where} timed out`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `datasource "${ds.name}": host "${ds.host}" cannot be resolved`;
    case 'ER_ACCESS_DENIED_ERROR':
      return `datasource "${ds.name}": access denied for user "${ds.user}" at ${where} (wrong password or missing grant)`;
    default:
      return `datasource "${ds.name}" at ${where}: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`;
  }
}

function unreachable(ds: ResolvedDatasource, err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  return new ServiceError('unprocessable', describeConnectError(ds, err), [], {
    datasource: ds.name,
    code: (err as { code?: string }).code,
  });
}

function assertMysqlFamily(ds: ResolvedDatasource, action: string): void {
  if (ds.kind === 'oracle')
    throw new ServiceError(
      'unprocessable',
      `datasource "${ds.name}" is an Oracle database: ${action} is not available for Oracle yet`,
    );
}

/** Connects, asks the server its version, disconnects. Throws a 422 ServiceError when it cannot. */
export async function testConnection(ds: ResolvedDatasource): Promise<ConnectionTestResult> {
  assertMysqlFamily(ds, 'the connection test');
  const started = Date.now();
  try {
    const conn = await openMysql(ds);
    try {
      const [rows] = await conn.query('SELECT VERSION() AS v');
      const version = String((rows as Array<{ v: unknown }>)[0]?.v ?? '');
      return { datasource: ds.name, ok: true, serverVersion: version, elapsedMs: Date.now() - started };
    } finally {
      await conn.end().catch(() => {});
    }
  } catch (err) {
    throw unreachable(ds, err);
  }
}

/** Reads the server's binlog settings and the user's grants and evaluates them as a CDC source. */
export async function checkSource(ds: ResolvedDatasource): Promise<SourceCheckResult> {
  assertMysqlFamily(ds, 'the source prerequisite check');
  try {
    const conn = await openMysql(ds);
    try {
      const settings = await readSourceSettings(conn);
      const checks = checkSourcePrerequisites(settings);
      return {
        datasource: ds.name,
        ready: checks.every((c) => c.ok),
        serverVersion: settings.version,
        checks,
      };
    } finally {
      await conn.end().catch(() => {});
    }
  } catch (err) {
    throw unreachable(ds, err);
  }
}
