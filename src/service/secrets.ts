import fs from 'node:fs';
import path from 'node:path';

/**
 * Datasource passwords given to the API, kept as one file per datasource readable only by the
 * owner (0600, in a 0700 folder). The datasource record stores the file's path (`passwordFile`),
 * and the worker reads it when it connects: the password itself never enters the catalog,
 * Temporal or an API response.
 */
export class SecretStore {
  constructor(private readonly dir: string) {}

  pathFor(datasource: string): string {
    return path.join(this.dir, `datasource-${datasource}.password`);
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

  /** True when `file` is a password file this store manages (so removing it is ours to do). */
  owns(file: string | undefined): boolean {
    return file !== undefined && path.dirname(path.resolve(file)) === path.resolve(this.dir);
  }

  removePassword(datasource: string): void {
    fs.rmSync(this.pathFor(datasource), { force: true });
  }
}

export function secretsDir(home: string): string {
  return path.join(home, 'secrets');
}
