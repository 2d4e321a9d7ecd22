import { z } from 'zod';
import {
  type Datasource,
  type DatasourceCatalog,
  datasourceSchema,
  resolvePassword,
} from '../config/datasources';
import {
  type ConnectionTestResult,
  checkSource,
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
  .omit({ passwordFile: true, tlsCaFile: true })
  .extend({
    password: z
      .string()
      .max(1024)
      .optional()
      .meta({ description: 'stored in a 0600 file under OTTERFLOW_HOME; write-only, never returned' }),
  })
  .strict()
  .refine((d) => !(d.password !== undefined && d.passwordEnv !== undefined), {
    message: 'give either password or passwordEnv, not both',
    path: ['password'],
  })
  .meta({ id: 'DatasourceInput' });

export type DatasourceInput = z.infer<typeof datasourceInputSchema>;

/** An update replaces the definition; the name may be left out (it comes from the URL). */
export const datasourceUpdateSchema = datasourceSchema
  .omit({ passwordFile: true, tlsCaFile: true })
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
  .meta({ id: 'DatasourceUpdate' });

/** A datasource as the API shows it: where the password comes from, never the password. */
export const datasourceViewSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['mysql', 'mariadb', 'oracle']),
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    serviceName: z.string().optional(),
    passwordSource: z.enum(['stored', 'env', 'file', 'none']).meta({
      description: 'stored: given to the API; env: passwordEnv on the worker; file: a file on the host',
    }),
    passwordEnv: z.string().optional(),
  })
  .meta({ id: 'Datasource' });

export type DatasourceView = z.infer<typeof datasourceViewSchema>;

/** Registry of datasources shared by the API and the CLI (through the API). */
export class DatasourceService {
  constructor(
    private readonly catalog: DatasourceCatalog,
    private readonly secrets: SecretStore,
    /** Names of pipeline definitions that use a datasource (a used one cannot be removed). */
    private readonly usedBy: (datasource: string) => string[],
  ) {}

  list(): DatasourceView[] {
    return this.catalog
      .list()
      .map((d) => this.view(d))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(rawName: string): DatasourceView {
    return this.view(this.require(rawName));
  }

  exists(name: string): boolean {
    return this.catalog.get(name) !== undefined;
  }

  create(body: unknown): DatasourceView {
    const parsed = datasourceInputSchema.safeParse(body);
    if (!parsed.success) throw invalidInput('datasource', parsed.error.issues);
    const { password, ...rest } = parsed.data;
    if (this.catalog.get(rest.name))
      throw new ServiceError('conflict', `datasource "${rest.name}" already exists`);
    return this.save(rest, password, undefined);
  }

  update(rawName: string, body: unknown): DatasourceView {
    const existing = this.require(rawName);
    const parsed = datasourceUpdateSchema.safeParse(body);
    if (!parsed.success) throw invalidInput('datasource', parsed.error.issues);
    const { password, name, ...rest } = parsed.data;
    if (name !== undefined && name !== existing.name)
      throw new ServiceError(
        'invalid-request',
        `a datasource cannot be renamed (URL says "${existing.name}", body says "${name}")`,
        [{ path: 'name', message: `must be "${existing.name}" or left out` }],
      );
    return this.save({ ...rest, name: existing.name }, password, existing);
  }

  remove(rawName: string): void {
    const ds = this.require(rawName);
    const users = this.usedBy(ds.name);
    if (users.length)
      throw new ServiceError(
        'conflict',
        `datasource "${ds.name}" is used by pipeline(s) ${users.map((u) => `"${u}"`).join(', ')}; delete or change them first`,
        [],
        { pipelines: users },
      );
    this.catalog.remove(ds.name);
    if (this.secrets.owns(ds.passwordFile)) this.secrets.removePassword(ds.name);
  }

  /** Connects to the datasource (password resolved here, in memory only). */
  async test(rawName: string): Promise<ConnectionTestResult> {
    return testConnection(this.resolve(rawName));
  }

  /** Checks the datasource as a CDC source: each failed check carries its fix. */
  async check(rawName: string): Promise<SourceCheckResult> {
    return checkSource(this.resolve(rawName));
  }

  /** The datasource with its password, for connecting from this process. */
  resolve(rawName: string) {
    const ds = this.require(rawName);
    try {
      return { ...ds, password: resolvePassword(ds) };
    } catch (err) {
      throw new ServiceError('unprocessable', (err as Error).message);
    }
  }

  private require(rawName: string): Datasource {
    const name = parseName('datasource', rawName);
    const ds = this.catalog.get(name);
    if (!ds) throw notFound('datasource', name);
    return ds;
  }

  private save(
    def: Omit<Datasource, 'passwordFile'>,
    password: string | undefined,
    existing: Datasource | undefined,
  ): DatasourceView {
    const record: Datasource = { ...def };
    if (password !== undefined) {
      record.passwordFile = this.secrets.writePassword(def.name, password);
    } else if (def.passwordEnv === undefined && existing) {
      // Neither given on an update: keep where the password came from.
      if (existing.passwordEnv !== undefined) record.passwordEnv = existing.passwordEnv;
      if (existing.passwordFile !== undefined) record.passwordFile = existing.passwordFile;
    }
    this.catalog.put(record);
    if (existing && this.secrets.owns(existing.passwordFile) && record.passwordFile === undefined)
      this.secrets.removePassword(def.name);
    return this.view(record);
  }

  private view(d: Datasource): DatasourceView {
    const passwordSource = d.passwordEnv
      ? 'env'
      : d.passwordFile
        ? this.secrets.owns(d.passwordFile)
          ? 'stored'
          : 'file'
        : 'none';
    return {
      name: d.name,
      kind: d.kind,
      host: d.host,
      port: d.port,
      user: d.user,
      ...(d.serviceName !== undefined ? { serviceName: d.serviceName } : {}),
      passwordSource,
      ...(d.passwordEnv !== undefined ? { passwordEnv: d.passwordEnv } : {}),
    };
  }
}
