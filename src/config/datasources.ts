import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** Names appear in SQL identifiers, workflow ids and URLs: keep them to a safe alphabet. */
export const nameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must start with a letter and contain only letters, digits, _ and -');

/**
 * A named database connection. The password is never part of this record: it is resolved on the
 * worker from `passwordEnv` (an environment variable name) or `passwordFile`, so that nothing
 * secret reaches Temporal history, logs or API responses.
 */
export const datasourceSchema = z
  .object({
    name: nameSchema,
    kind: z.enum(['mysql', 'mariadb', 'oracle']),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
    user: z.string().min(1).max(128),
    passwordEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/)
      .optional(),
    passwordFile: z.string().min(1).optional(),
    /**
     * MySQL/MariaDB: TLS on the connections to this server. `off` (default): plain TCP (MySQL's
     * caching_sha2_password then exchanges the password with the server's RSA key); `required`:
     * encrypted, the server's certificate not checked; `verify`: encrypted, the certificate checked
     * against `tlsCaFile` (or the system's CAs) and the host name.
     */
    tls: z.enum(['off', 'required', 'verify']).optional(),
    /** PEM file of the CA that signed the server's certificate (with tls: verify); read on the worker. */
    tlsCaFile: z.string().min(1).optional(),
    /** Oracle service name; unused for MySQL. */
    serviceName: z.string().min(1).optional(),
  })
  .strict();

export type Datasource = z.infer<typeof datasourceSchema>;

/** A datasource with its secret resolved: lives only in worker/API memory. */
export interface ResolvedDatasource extends Datasource {
  password: string;
}

export function resolvePassword(ds: Datasource, env: NodeJS.ProcessEnv = process.env): string {
  if (ds.passwordEnv) {
    const v = env[ds.passwordEnv];
    if (v === undefined)
      throw new Error(`datasource "${ds.name}": environment variable ${ds.passwordEnv} is not set`);
    return v;
  }
  if (ds.passwordFile) {
    try {
      return fs.readFileSync(ds.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch {
      throw new Error(`datasource "${ds.name}": cannot read password file ${ds.passwordFile}`);
    }
  }
  return '';
}

/** File-backed catalog of datasources (JSON), shared by the API and the workers of one stack. */
export class DatasourceCatalog {
  constructor(private readonly file: string) {}

  list(): Datasource[] {
    if (!fs.existsSync(this.file)) return [];
    const raw = JSON.parse(fs.readFileSync(this.file, 'utf8')) as unknown;
    return z.array(datasourceSchema).parse(raw);
  }

  get(name: string): Datasource | undefined {
    return this.list().find((d) => d.name === name);
  }

  resolve(name: string): ResolvedDatasource {
    const ds = this.get(name);
    if (!ds) throw new Error(`unknown datasource "${name}"`);
    return { ...ds, password: resolvePassword(ds) };
  }

  put(ds: Datasource): void {
    const all = this.list().filter((d) => d.name !== ds.name);
    all.push(datasourceSchema.parse(ds));
    this.write(all);
  }

  remove(name: string): boolean {
    const all = this.list();
    const kept = all.filter((d) => d.name !== name);
    this.write(kept);
    return kept.length !== all.length;
  }

  private write(all: Datasource[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all, null, 2));
    fs.renameSync(tmp, this.file); // atomic: a reader never sees half a file
  }
}

export function catalogFile(home: string): string {
  return path.join(home, 'datasources.json');
}
