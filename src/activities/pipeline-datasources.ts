import { ApplicationFailure } from '@temporalio/activity';
import { DatasourceResolutionError, type DatasourceResolver } from '../catalog/resolver';
import type { ResolvedDatasource } from '../config/datasources';
import type { PipelineConfig } from '../pipeline/config';

/**
 * Resolves a pipeline's source and target on the worker. A datasource the catalog does not know (or
 * whose secret this worker lacks) fails the activity for good, naming it; a catalog that does not
 * answer throws as it is, so Temporal retries.
 */
export function pipelineDatasources(catalog: DatasourceResolver) {
  return async (
    config: PipelineConfig,
  ): Promise<{ source: ResolvedDatasource; target: ResolvedDatasource }> => {
    try {
      return { source: await catalog.resolve(config.source), target: await catalog.resolve(config.target) };
    } catch (err) {
      if (!(err instanceof DatasourceResolutionError)) throw err;
      throw ApplicationFailure.nonRetryable(err.message, 'PipelineConfigError');
    }
  };
}
