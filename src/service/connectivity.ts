import type { ResolvedDatasource } from '../config/datasources';
import {
  checkSourcePrerequisites,
  notASourceReason,
  openMysqlSource,
  type PrerequisiteCheck,
  readSourceSettings,
} from '../connectors/mysql/source';
import { targetConnectorFor } from '../connectors/registry';
import type { TargetConnector } from '../connectors/target';
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

/** A datasource that could not be reached: a 422 naming it and what the connection said. */
export function unreachable(ds: ResolvedDatasource, err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  return new ServiceError('unprocessable', describeConnectError(ds, err), [], {
    datasource: ds.name,
    code: (err as { code?: string }).code,
  });
}

/** The connector of the datasource's kind (it can connect to any kind this build supports). */
function connectorOf(ds: ResolvedDatasource): TargetConnector {
  try {
    return targetConnectorFor(ds);
  } catch (err) {
    throw new ServiceError(
      'unprocessable',
      `the connection test is not available: ${(err as Error).message}`,
    );
  }
}

/** Runs a connector's own checks (see {@link TargetConnector.check}); 422 when it cannot connect. */
async function connectorCheck(
  ds: ResolvedDatasource,
  check: NonNullable<TargetConnector['check']>,
): Promise<SourceCheckResult> {
  try {
    const r = await check(ds);
    return {
      datasource: ds.name,
      ready: r.checks.every((c) => c.ok),
      serverVersion: r.serverVersion,
      checks: r.checks,
    };
  } catch (err) {
    throw unreachable(ds, err);
  }
}

/**
 * Prerequisites of a datasource: its target connector's own checks where it has them (Oracle:
 * privileges, quota), else its readiness as a binlog source (settings and grants).
 */
export async function checkDatasource(ds: ResolvedDatasource): Promise<SourceCheckResult> {
  const connector = connectorOf(ds);
  return connector.check ? connectorCheck(ds, connector.check.bind(connector)) : checkSource(ds);
}

/**
 * Whether a pipeline can write into `ds`: the connector's checks when it has them (a 422 lists each
 * failed check with its fix), else a connection test.
 */
export async function checkTarget(ds: ResolvedDatasource): Promise<void> {
  const connector = connectorOf(ds);
  if (!connector.check) {
    await testConnection(ds);
    return;
  }
  const r = await connectorCheck(ds, connector.check.bind(connector));
  const failed = r.checks.filter((c) => !c.ok);
  if (failed.length)
    throw new ServiceError(
      'unprocessable',
      `target "${ds.name}" is not ready: ${failed.map((c) => `${c.name} is ${c.actual} (fix: ${c.fix})`).join('; ')}`,
      failed.map((c) => ({ path: `target.${c.name}`, message: `${c.actual}; fix: ${c.fix}` })),
      { checks: r.checks },
    );
}

/** Connects, asks the server its version, disconnects. Throws a 422 ServiceError when it cannot. */
export async function testConnection(ds: ResolvedDatasource): Promise<ConnectionTestResult> {
  const connector = connectorOf(ds);
  const started = Date.now();
  try {
    const version = await connector.serverVersion(ds);
    return { datasource: ds.name, ok: true, serverVersion: version, elapsedMs: Date.now() - started };
  } catch (err) {
    throw unreachable(ds, err);
  }
}

/** Reads the server's binlog settings and the user's grants and evaluates them as a CDC source. */
export async function checkSource(ds: ResolvedDatasource): Promise<SourceCheckResult> {
  const notASource = notASourceReason(ds);
  if (notASource) throw new ServiceError('unprocessable', `${notASource}; no source prerequisite check`);
  try {
    const conn = await openMysqlSource(ds);
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
