import { catalogFile, type Datasource, DatasourceCatalog } from '../config/datasources';
import type { PipelineConfig } from '../pipeline/config';
import type { ApiToken } from '../service/api-tokens';
import { type PipelineDefinition, PipelineStore, pipelineStoreFile } from '../service/pipeline-store';
import {
  AlreadyExistsError,
  type Catalog,
  type DatasourceRepository,
  InUseError,
  MissingError,
  type PipelineRepository,
  StaleVersionError,
  type StoredDatasource,
} from './types';

/**
 * The catalog as JSON files under one OTTERFLOW_HOME: for a single process on one host (tests, an
 * embedding). Read-modify-write without a lock between processes: two processes sharing the files
 * can lose each other's changes, which is why a deployment names a catalog database instead.
 */
export function openFileCatalog(home: string, tokens: ApiToken[] = []): Catalog {
  const datasourceFile = new DatasourceCatalog(catalogFile(home));
  const pipelineFile = new PipelineStore(pipelineStoreFile(home));
  const usersOf = (name: string) =>
    pipelineFile
      .list()
      .filter((d) => d.config.source === name || d.config.target === name)
      .map((d) => d.config.name);

  const datasources: DatasourceRepository = {
    list: async () =>
      datasourceFile.listVersioned().sort((a, b) => a.datasource.name.localeCompare(b.datasource.name)),
    get: async (name) => datasourceFile.listVersioned().find((e) => e.datasource.name === name),
    create: async (ds: Datasource): Promise<StoredDatasource> => {
      if (datasourceFile.get(ds.name)) throw new AlreadyExistsError('datasource', ds.name);
      return { datasource: ds, version: datasourceFile.put(ds) };
    },
    update: async (ds, expected) => {
      const current = datasourceFile.listVersioned().find((e) => e.datasource.name === ds.name);
      if (!current) throw new MissingError('datasource', ds.name);
      if (expected !== undefined && expected !== current.version)
        throw new StaleVersionError('datasource', ds.name, expected, current.version);
      return { datasource: ds, version: datasourceFile.put(ds) };
    },
    remove: async (name, expected) => {
      const current = datasourceFile.listVersioned().find((e) => e.datasource.name === name);
      if (!current) return false;
      if (expected !== undefined && expected !== current.version)
        throw new StaleVersionError('datasource', name, expected, current.version);
      const users = usersOf(name);
      if (users.length) throw new InUseError(name, users);
      return datasourceFile.remove(name);
    },
  };

  const checkDatasources = (config: PipelineConfig) => {
    for (const name of [config.source, config.target])
      if (!datasourceFile.get(name)) throw new MissingError('datasource', name);
  };
  const pipelines: PipelineRepository = {
    list: async () => pipelineFile.list().sort((a, b) => a.config.name.localeCompare(b.config.name)),
    get: async (name) => pipelineFile.get(name),
    create: async (config): Promise<PipelineDefinition> => {
      if (pipelineFile.get(config.name)) throw new AlreadyExistsError('pipeline', config.name);
      checkDatasources(config);
      return pipelineFile.put(config);
    },
    update: async (config, expected) => {
      const current = pipelineFile.get(config.name);
      if (!current) throw new MissingError('pipeline', config.name);
      if (expected !== undefined && expected !== current.version)
        throw new StaleVersionError('pipeline', config.name, expected, current.version);
      checkDatasources(config);
      return pipelineFile.put(config);
    },
    remove: async (name, expected) => {
      const current = pipelineFile.get(name);
      if (!current) return false;
      if (expected !== undefined && expected !== current.version)
        throw new StaleVersionError('pipeline', name, expected, current.version);
      return pipelineFile.remove(name);
    },
  };

  const tokenList = [...tokens];
  return {
    datasources,
    pipelines,
    tokens: {
      list: async () => tokenList,
      put: async (t) => {
        const i = tokenList.findIndex((x) => x.name === t.name);
        if (i >= 0) tokenList.splice(i, 1, t);
        else tokenList.push(t);
      },
    },
    describe: () => `files under ${home}`,
    close: async () => undefined,
  };
}
