import type { DatasourceCatalog } from '../config/datasources';
import { makeBackfillActivities } from './backfill';
import { makeInspectDatasource } from './inspect-datasource';
import { defaultTransformsDir, makeReplicate } from './replicate';
import { makeVerifyActivities } from './verify';

/** What activities need from the worker process; built once in src/worker/run.ts. */
export interface ActivityDeps {
  catalog: DatasourceCatalog;
  /** Folder that relative transform module paths resolve against (default: the working directory). */
  transformsDir?: string;
}

/** All activities, keyed by the names workflows call them by. */
export function createActivities(deps: ActivityDeps) {
  return {
    inspectDatasource: makeInspectDatasource(deps.catalog),
    replicate: makeReplicate(deps.catalog, deps.transformsDir ?? defaultTransformsDir),
    ...makeBackfillActivities(deps.catalog, deps.transformsDir ?? defaultTransformsDir),
    ...makeVerifyActivities(deps.catalog),
  };
}

export type Activities = ReturnType<typeof createActivities>;
