import { z } from 'zod';
import { type DatasourceRepository, StaleVersionError, type StoredDatasource } from '../catalog/types';
import {
  type Datasource,
  datasourceSchema,
  type ResolvedDatasource,
  resolvePassword,
} from '../config/datasources';
import { alreadyExists, catalogProblem } from './catalog-problems';
import {
  type ConnectionTestResult,
  checkDatasource,
  type SourceCheckResult,
  testConnection,
} from './connectivity';
import { parseName } from './names';
import { invalidInput, notFound, ServiceError } from './problems';
import type { SecretStore } from './secrets';

/**
 * What a client sends to register a datasource. `password` is stored by the API in a 0600 file
 * and never returned; `passwordEnv` names a variable set on the workers instead. A client cannot
 * point the server at an arbitrary file (`passwordFile`, `tlsCaFile`): that would let it read files on the host.
 */
export const datasourceInputSchema = datasourceSchema
  .omit({ passwordFile: true, passwordStored: true, tlsCaFile: true })
  .extend({
    password: z.string().max(1024).optional().meta({
      description:
        'stored in a 0600 file in the secrets folder of the API that received it (each worker reads its own); write-only, never returned',
    }),
  })
  .strict()
  .refine((d) => !(d.password !== undefined && d.passwordEnv !== undefined), {
    message: 'give either password or passwordEnv, not both',
    path: ['password'],
  })
  .meta({ id: 'DatasourceInput', not: { required: ['password', 'passwordEnv'] } });

export type DatasourceInput = z.infer<typeof datasourceInputSchema>;

/** An update replaces the definition; the name may be left out (it comes from the URL). */
export const datasourceUpdateSchema = datasourceSchema
  .omit({ passwordFile: true, passwordStored: true, tlsCaFile: true })
  .extend({
    name: datasourceSchema.shape.name.optional(),
    password: z.string().max(1024).optional().meta({
      description: 'replaces the stored password; leave out (with passwordEnv) to keep the current one',
    }),
  })
  .strict()
  .refine((d) => !(d.password !== undefined && d.passwordEnv !== undefined), {
    message: 'give either password or passwordEnv, not both',
    path: ['password'],
  })
  .meta({ id: 'DatasourceUpdate', not: { required: ['password', 'passwordEnv'] } });

/** A datasource as the API shows it: where the password comes from, never the password. */
export const datasourceViewSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['mysql', 'mariadb', 'oracle']),
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    serviceName: z.string().optional(),
    oracle: datasourceSchema.shape.oracle,
    compress: z.boolean().optional(),
    passwordSource: z.enum(['stored', 'env', 'file', 'none']).meta({
      description: 'stored: given to the API; env: passwordEnv on the worker; file: a file on the host',
    }),
    passwordEnv: z.string().optional(),
    version: z
      .number()
      .int()
      .meta({ description: 'increases with every change; send it as If-Match to update conditionally' }),
  })
  .meta({ id: 'Datasource' });

export type DatasourceView = z.infer<typeof datasourceViewSchema>;

/** Registry of datasources shared by the API and the CLI (through the API). */
export class DatasourceService {
  constructor(
    private readonly catalog: DatasourceRepository,
    private readonly secrets: SecretStore,
  ) {}

  async list(): Promise<DatasourceView[]> {
    return (await this.catalog.list()).map((d) => this.view(d)).sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(rawName: string): Promise<DatasourceView> {
    return this.view(await this.require(rawName));
  }

  async exists(name: string): Promise<boolean> {
    return (await this.catalog.get(name)) !== undefined;
  }

  async create(body: unknown): Promise<DatasourceView> {
    const parsed = datasourceInputSchema.safeParse(body);
    if (!parsed.success) throw invalidInput('datasource', parsed.error.issues);
    const { password, ...rest } = parsed.data;
    const record: Datasource = { ...rest };
    if (password !== undefined) record.passwordStored = true;
    if (await this.catalog.get(rest.name)) throw alreadyExists('datasource', rest.name);
    // The password first: a record that says "stored" must find its file in this process.
    if (password !== undefined) this.secrets.writePassword(rest.name, password);
    try {
      return this.view(await this.catalog.create(record));
    } catch (err) {
      throw catalogProblem(err);
    }
  }

  /** Replaces the definition; `expectedVersion` (If-Match) makes it conditional. */
  async update(rawName: string, body: unknown, expectedVersion?: number): Promise<DatasourceView> {
    const existing = await this.require(rawName);
    const parsed = datasourceUpdateSchema.safeParse(body);
    if (!parsed.success) throw invalidInput('datasource', parsed.error.issues);
    const { password, name, ...rest } = parsed.data;
    const current = existing.datasource;
    if (name !== undefined && name !== current.name)
      throw new ServiceError(
        'unprocessable',
        `a datasource cannot be renamed (URL says "${current.name}", body says "${name}")`,
        [{ path: 'name', message: `must be "${current.name}" or left out` }],
      );
    if (expectedVersion !== undefined && expectedVersion !== existing.version)
      throw catalogProblem(
        new StaleVersionError('datasource', current.name, expectedVersion, existing.version),
      );
    const record: Datasource = { ...rest, name: current.name };
    if (password !== undefined) {
      this.secrets.writePassword(current.name, password);
      record.passwordStored = true;
    } else if (rest.passwordEnv === undefined) {
      // Neither given on an update: keep where the password came from.
      if (current.passwordEnv !== undefined) record.passwordEnv = current.passwordEnv;
      if (current.passwordFile !== undefined) record.passwordFile = current.passwordFile;
      if (current.passwordStored) record.passwordStored = true;
    }
    let saved: StoredDatasource;
    try {
      saved = await this.catalog.update(record, expectedVersion);
    } catch (err) {
      throw catalogProblem(err);
    }
    if (current.passwordStored && !record.passwordStored) this.secrets.removePassword(current.name);
    return this.view(saved);
  }

  async remove(rawName: string, expectedVersion?: number): Promise<void> {
    const ds = (await this.require(rawName)).datasource;
    let removed: boolean;
    try {
      removed = await this.catalog.remove(ds.name, expectedVersion);
    } catch (err) {
      throw catalogProblem(err);
    }
    if (!removed) throw notFound('datasource', ds.name); // another process deleted it meanwhile
    if (ds.passwordStored) this.secrets.removePassword(ds.name);
  }

  /** Connects to the datasource (password resolved here, in memory only). */
  async test(rawName: string): Promise<ConnectionTestResult> {
    return testConnection(await this.resolve(rawName));
  }

  /** Checks the datasource's prerequisites (as a CDC source, or as a target with checks of its own): each failed check carries its fix. */
  async check(rawName: string): Promise<SourceCheckResult> {
    return checkDatasource(await this.resolve(rawName));
  }

  /** The datasource with its password, for connecting from this process. */
  async resolve(rawName: string): Promise<ResolvedDatasource> {
    const ds = (await this.require(rawName)).datasource;
    try {
      return { ...ds, password: resolvePassword(ds, { secretsDir: this.secrets.dir }) };
    } catch (err) {
      throw new ServiceError('unprocessable', (err as Error).message);
    }
  }

  private async require(rawName: string): Promise<StoredDatasource> {
    const name = parseName('datasource', rawName);
    const ds = await this.catalog.get(name);
    if (!ds) throw notFound('datasource', name);
    return ds;
  }

  private view({ datasource: d, version }: StoredDatasource): DatasourceView {
    const passwordSource = d.passwordEnv
      ? 'env'
      : d.passwordStored
        ? 'stored'
        : d.passwordFile
          ? 'file'
          : 'none';
    return {
      name: d.name,
      kind: d.kind,
      host: d.host,
      port: d.port,
      user: d.user,
      ...(d.serviceName !== undefined ? { serviceName: d.serviceName } : {}),
      ...(d.oracle !== undefined ? { oracle: d.oracle } : {}),
      ...(d.compress !== undefined ? { compress: d.compress } : {}),
      passwordSource,
      ...(d.passwordEnv !== undefined ? { passwordEnv: d.passwordEnv } : {}),
      version,
    };
  }
}
