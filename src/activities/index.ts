import type { DatasourceResolver } from '../catalog/resolver';
import type { TargetConnector } from '../connectors/target';
import { makeBackfillActivities } from './backfill';
import { makeInspectDatasource } from './inspect-datasource';
import { defaultTransformsDir, makeReplicate } from './replicate';
import { makeVerifyActivities } from './verify';

/** What activities need from the worker process; built once in src/worker/run.ts. */
export interface ActivityDeps {
  catalog: DatasourceResolver;
  /** Folder that relative transform module paths resolve against (default: the working directory). */
  transformsDir?: string;
  /** Opens every pipeline's target sessions instead of the registry's connector (tests without a real target). */
  targetConnector?: TargetConnector;
}

/** All activities, keyed by the names workflows call them by. */
export function createActivities(deps: ActivityDeps) {
  return {
    inspectDatasource: makeInspectDatasource(deps.catalog),
    replicate: makeReplicate(deps.catalog, deps.transformsDir ?? defaultTransformsDir, deps.targetConnector),
    ...makeBackfillActivities(deps.catalog, deps.transformsDir ?? defaultTransformsDir, deps.targetConnector),
    ...makeVerifyActivities(deps.catalog, deps.transformsDir ?? defaultTransformsDir, deps.targetConnector),
  };
}

export type Activities = ReturnType<typeof createActivities>;
