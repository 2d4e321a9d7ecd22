import type { DatasourceCatalog } from '../config/datasources';
import { makeInspectDatasource } from './inspect-datasource';

/** What activities need from the worker process; built once in src/worker/run.ts. */
export interface ActivityDeps {
  catalog: DatasourceCatalog;
}

/** All activities, keyed by the names workflows call them by. */
export function createActivities(deps: ActivityDeps) {
  return {
    inspectDatasource: makeInspectDatasource(deps.catalog),
  };
}

export type Activities = ReturnType<typeof createActivities>;
