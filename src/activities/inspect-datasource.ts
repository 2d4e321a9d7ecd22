import type { DatasourceResolver } from '../catalog/resolver';
import {
  checkSourcePrerequisites,
  openMysqlSource,
  type PrerequisiteCheck,
  readSourceSettings,
  type SourceSettings,
} from '../connectors/mysql/source';

export interface DatasourceInspection {
  datasource: string;
  settings: SourceSettings;
  /** Checks for use as a CDC source; all ok means the server can be replicated from. */
  sourceChecks: PrerequisiteCheck[];
  sourceReady: boolean;
}

/** Connects to a MySQL/MariaDB datasource and reports its version, binlog settings and grants. */
export function makeInspectDatasource(catalog: DatasourceResolver) {
  return async function inspectDatasource(name: string): Promise<DatasourceInspection> {
    const ds = await catalog.resolve(name);
    const conn = await openMysqlSource(ds);
    try {
      const settings = await readSourceSettings(conn);
      const sourceChecks = checkSourcePrerequisites(settings);
      return { datasource: name, settings, sourceChecks, sourceReady: sourceChecks.every((c) => c.ok) };
    } finally {
      await conn.end();
    }
  };
}
