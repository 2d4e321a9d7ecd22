import type { Datasource } from '../config/datasources';
import type { PipelineConfig } from '../pipeline/config';
import type { ApiToken } from '../service/api-tokens';
import type { PipelineDefinition } from '../service/pipeline-store';

/** A datasource definition with its optimistic-concurrency version (1 on create, +1 per update). */
export interface StoredDatasource {
  datasource: Datasource;
  version: number;
}

/**
 * Where definitions live. Every change is atomic; `expectedVersion` makes an update or delete
 * conditional (a stale one throws StaleVersionError naming the current version).
 */
export interface DatasourceRepository {
  list(): Promise<StoredDatasource[]>;
  get(name: string): Promise<StoredDatasource | undefined>;
  /** Throws AlreadyExistsError when the name is taken. */
  create(ds: Datasource): Promise<StoredDatasource>;
  /** Throws MissingError when absent. */
  update(ds: Datasource, expectedVersion?: number): Promise<StoredDatasource>;
  /** False when absent; throws InUseError when a pipeline definition names it. */
  remove(name: string, expectedVersion?: number): Promise<boolean>;
}

export interface PipelineRepository {
  list(): Promise<PipelineDefinition[]>;
  get(name: string): Promise<PipelineDefinition | undefined>;
  /** Throws AlreadyExistsError when the name is taken, MissingError when a datasource is unknown. */
  create(config: PipelineConfig): Promise<PipelineDefinition>;
  update(config: PipelineConfig, expectedVersion?: number): Promise<PipelineDefinition>;
  remove(name: string, expectedVersion?: number): Promise<boolean>;
}

/** API tokens, by hash only. */
export interface TokenRepository {
  list(): Promise<ApiToken[]>;
  /** Inserts or replaces the token of that name. */
  put(token: ApiToken): Promise<void>;
}

/** Everything that is configuration rather than Temporal state. */
export interface Catalog {
  datasources: DatasourceRepository;
  pipelines: PipelineRepository;
  tokens: TokenRepository;
  /** Where it is, for logs and `dev status` (never a password). */
  describe(): string;
  close(): Promise<void>;
}

/** A definition's name is taken. */
export class AlreadyExistsError extends Error {
  constructor(
    readonly what: 'datasource' | 'pipeline',
    readonly entity: string,
  ) {
    super(`${what} "${entity}" already exists`);
    this.name = 'AlreadyExistsError';
  }
}

/** A definition (or a datasource it names) is not there. */
export class MissingError extends Error {
  constructor(
    readonly what: 'datasource' | 'pipeline',
    readonly entity: string,
  ) {
    super(`${what} "${entity}" does not exist`);
    this.name = 'MissingError';
  }
}

/** A conditional change named a version that is no longer the current one. */
export class StaleVersionError extends Error {
  constructor(
    readonly what: 'datasource' | 'pipeline',
    readonly entity: string,
    readonly expected: number,
    readonly current: number,
  ) {
    super(
      `${what} "${entity}" is at version ${current}, not ${expected}: it changed since it was read; read it again and retry`,
    );
    this.name = 'StaleVersionError';
  }
}

/** A datasource still named by pipeline definitions. */
export class InUseError extends Error {
  constructor(
    readonly entity: string,
    readonly pipelines: string[],
  ) {
    super(
      `datasource "${entity}" is used by pipeline(s) ${pipelines.map((p) => `"${p}"`).join(', ')}; delete or change them first`,
    );
    this.name = 'InUseError';
  }
}
