import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DatasourceInspection } from '../activities/inspect-datasource';

const { inspectDatasource } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

/** Inspects several datasources through the worker: proves that workflows, activities and databases connect. */
export async function stackCheckWorkflow(datasources: string[]): Promise<DatasourceInspection[]> {
  return Promise.all(datasources.map((name) => inspectDatasource(name)));
}
