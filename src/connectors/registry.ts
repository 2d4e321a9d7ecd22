import type { Datasource, ResolvedDatasource } from '../config/datasources';
import { mysqlTargetConnector } from './mysql/target-session';
import { oracleTargetConnector } from './oracle/target-session';
import type { TargetConnector, TargetSession, TargetSessionOptions } from './target';
import type { VerificationConnector } from './verification-target';

/**
 * The registry of target connectors, by datasource kind: the only module outside a database's folder
 * that names concrete connectors. Adding a target database = one folder plus one line here. A connector
 * module loads its driver on first `open`, not when imported, so a MySQL pipeline never loads another
 * database's driver.
 */
const CONNECTORS: Record<Datasource['kind'], TargetConnector | undefined> = {
  mysql: mysqlTargetConnector,
  mariadb: mysqlTargetConnector,
  oracle: oracleTargetConnector,
};

/** The connector for a datasource's kind; a clear error when this build has none. */
export function targetConnectorFor(datasource: Pick<Datasource, 'kind' | 'name'>): TargetConnector {
  const connector = CONNECTORS[datasource.kind];
  if (!connector)
    throw new Error(
      `datasource "${datasource.name}": ${datasource.kind} targets are not supported by this build`,
    );
  return connector;
}

/** Opens a target session on `datasource` through the connector of its kind. */
export function openTargetSession(
  datasource: ResolvedDatasource,
  options: TargetSessionOptions,
): Promise<TargetSession> {
  return targetConnectorFor(datasource).open(datasource, options);
}

/**
 * The verification side of a datasource's connector (`connector` instead of the registry's when
 * given); a clear error when the connector has none.
 */
export function verificationConnectorFor(
  datasource: Pick<Datasource, 'kind' | 'name'>,
  connector: TargetConnector = targetConnectorFor(datasource),
): VerificationConnector {
  if (!connector.verification)
    throw new Error(
      `datasource "${datasource.name}": verification of ${connector.dialect} targets is not supported by this build`,
    );
  return connector.verification;
}
