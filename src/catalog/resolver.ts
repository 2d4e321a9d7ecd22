import { type ResolvedDatasource, resolvePassword } from '../config/datasources';
import type { DatasourceRepository } from './types';

/** What an activity needs: a datasource by name, with its password read in this process. */
export interface DatasourceResolver {
  resolve(name: string): Promise<ResolvedDatasource>;
}

/**
 * The definition is not usable here: unknown name, or its secret is missing on this worker. Not
 * worth retrying by itself (unlike a catalog that does not answer for a moment).
 */
export class DatasourceResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasourceResolutionError';
  }
}

/**
 * Definitions from the catalog, secrets from this worker's own environment and secrets folder:
 * the catalog and Temporal never hold a password, so a worker on any host resolves what it can.
 */
export function catalogResolver(repo: DatasourceRepository, secretsDir: string): DatasourceResolver {
  return {
    async resolve(name) {
      const stored = await repo.get(name);
      if (!stored) throw new DatasourceResolutionError(`unknown datasource "${name}"`);
      try {
        return { ...stored.datasource, password: resolvePassword(stored.datasource, { secretsDir }) };
      } catch (err) {
        throw new DatasourceResolutionError((err as Error).message);
      }
    },
  };
}
