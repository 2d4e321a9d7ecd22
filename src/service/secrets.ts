import fs from 'node:fs';
import path from 'node:path';
import { storedPasswordFile } from '../config/datasources';

/**
 * Datasource passwords given to the API, kept as one file per datasource readable only by the
 * owner (0600, in a 0700 folder). The datasource record says only `passwordStored`; each process
 * that connects (this API, a worker on this or another host) reads `datasource-<name>.password`
 * from its own secrets folder: the password never enters the catalog, Temporal or an API response.
 */
export class SecretStore {
  constructor(readonly dir: string) {}

  pathFor(datasource: string): string {
    return storedPasswordFile(this.dir, datasource);
  }

  /** Writes (or replaces) a datasource's password atomically and returns the file's path. */
  writePassword(datasource: string, password: string): string {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.dir, 0o700);
    const file = this.pathFor(datasource);
    const tmp = `${file}.${process.pid}.tmp`;
    // Created with 0600 from the first byte: there is no moment when another user could read it.
    fs.writeFileSync(tmp, password, { mode: 0o600 });
    fs.renameSync(tmp, file);
    return file;
  }

  removePassword(datasource: string): void {
    fs.rmSync(this.pathFor(datasource), { force: true });
  }
}

/** This process's secrets folder: OTTERFLOW_SECRETS_DIR, else $OTTERFLOW_HOME/secrets. */
export function secretsDir(home: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.OTTERFLOW_SECRETS_DIR ? path.resolve(env.OTTERFLOW_SECRETS_DIR) : path.join(home, 'secrets');
}
