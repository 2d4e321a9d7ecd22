import fs from 'node:fs';
import os from 'node:os';
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
     * The password was given to the API: every process that connects reads it from its own secrets
     * folder (`datasource-<name>.password` under OTTERFLOW_SECRETS_DIR or $OTTERFLOW_HOME/secrets).
     */
    passwordStored: z.literal(true).optional(),
    /** Compress the binlog stream (the MySQL protocol's compression): for a source across a WAN. */
    compress: z.boolean().optional(),
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
    /** How an Oracle target stores values and names (docs/oracle.md); unused for MySQL. */
    oracle: z
      .object({
        identifierCase: z.enum(['upper', 'exact']).optional(),
        zeroDates: z.enum(['error', 'null']).optional(),
        emptyStrings: z.enum(['null', 'error']).optional(),
        checkpointSchema: z.string().min(1).max(128).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type Datasource = z.infer<typeof datasourceSchema>;

/** A datasource with its secret resolved: lives only in worker/API memory. */
export interface ResolvedDatasource extends Datasource {
  password: string;
}

/** Where a process looks for the passwords given to the API (`passwordStored`). */
export function storedPasswordFile(secretsDir: string, datasource: string): string {
  return path.join(secretsDir, `datasource-${datasource}.password`);
}

export interface SecretSources {
  env?: NodeJS.ProcessEnv;
  /** This process's secrets folder (for `passwordStored`). */
  secretsDir?: string;
}

/**
 * Reads a datasource's password in this process, from this process's environment or files. A
 * missing secret is an error naming the datasource and the variable or file, and where it was looked for.
 */
export function resolvePassword(ds: Datasource, sources: SecretSources = {}): string {
  const env = sources.env ?? process.env;
  const where = `on ${os.hostname()} (pid ${process.pid})`;
  if (ds.passwordEnv) {
    const v = env[ds.passwordEnv];
    if (v === undefined)
      throw new Error(`datasource "${ds.name}": environment variable ${ds.passwordEnv} is not set ${where}`);
    return v;
  }
  const file =
    ds.passwordFile ??
    (ds.passwordStored
      ? storedPasswordFile(sources.secretsDir ?? defaultSecretsDir(env), ds.name)
      : undefined);
  if (file) {
    try {
      return fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      throw new Error(`datasource "${ds.name}": cannot read password file ${file} ${where}`);
    }
  }
  return '';
}

/** OTTERFLOW_SECRETS_DIR, else $OTTERFLOW_HOME/secrets, else .otterflow/secrets in the working directory. */
export function defaultSecretsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OTTERFLOW_SECRETS_DIR) return path.resolve(env.OTTERFLOW_SECRETS_DIR);
  return path.join(path.resolve(env.OTTERFLOW_HOME ?? '.otterflow'), 'secrets');
}

const fileEntrySchema = datasourceSchema.extend({ version: z.number().int().min(1).optional() });

/**
 * File-backed datasources (JSON) for one host: what processes use without OTTERFLOW_CATALOG_URL
 * (tests, a single-machine embedding) and what the catalog database imports once.
 */
export class DatasourceCatalog {
  constructor(private readonly file: string) {}

  list(): Datasource[] {
    return this.listVersioned().map((e) => e.datasource);
  }

  /** Each entry with its version (1 for entries written before versions existed). */
  listVersioned(): Array<{ datasource: Datasource; version: number }> {
    if (!fs.existsSync(this.file)) return [];
    const raw = JSON.parse(fs.readFileSync(this.file, 'utf8')) as unknown;
    return z
      .array(fileEntrySchema)
      .parse(raw)
      .map(({ version, ...datasource }) => ({ datasource, version: version ?? 1 }));
  }

  get(name: string): Datasource | undefined {
    return this.list().find((d) => d.name === name);
  }

  resolve(name: string, secrets: SecretSources = {}): ResolvedDatasource {
    const ds = this.get(name);
    if (!ds) throw new Error(`unknown datasource "${name}"`);
    return { ...ds, password: resolvePassword(ds, secrets) };
  }

  /** Inserts or replaces; returns the new version. */
  put(ds: Datasource): number {
    const all = this.listVersioned();
    const version = (all.find((e) => e.datasource.name === ds.name)?.version ?? 0) + 1;
    const kept = all.filter((e) => e.datasource.name !== ds.name);
    kept.push({ datasource: datasourceSchema.parse(ds), version });
    this.write(kept.map((e) => ({ ...e.datasource, version: e.version })));
    return version;
  }

  remove(name: string): boolean {
    const all = this.listVersioned();
    const kept = all.filter((e) => e.datasource.name !== name);
    this.write(kept.map((e) => ({ ...e.datasource, version: e.version })));
    return kept.length !== all.length;
  }

  private write(all: Array<Datasource & { version: number }>): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(all, null, 2));
    fs.renameSync(tmp, this.file); // atomic: a reader never sees half a file
  }
}

export function catalogFile(home: string): string {
  return path.join(home, 'datasources.json');
}
