import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { assertDataDirOwned, hasOwnershipMarker, writeOwnershipMarker } from './data-dir';
import {
  assertPortFree,
  isOurProcessAlive,
  isRecordedAlive,
  launchRecorded,
  type PidRecord,
  readPidRecord,
  sleep,
} from './processes';
import type { MariaDbTools } from './tools';

/** One private mariadbd of the local stack ("source" or "target"). */
export interface MariaDbInstanceSpec {
  name: 'source' | 'target' | string;
  host: string;
  port: number;
  serverId: number;
  /** Folder of this instance: data/, socket, logs and the ownership marker. */
  dir: string;
  runDir: string;
}

export function dataDir(spec: MariaDbInstanceSpec): string {
  return path.join(spec.dir, 'data');
}

function processName(spec: MariaDbInstanceSpec): string {
  return `mariadb-${spec.name}`;
}

/**
 * Server options. Binlog is on for both instances: the source must have it for CDC, the
 * target needs it for bidirectional channels and for cascades (A↔B→C).
 */
export function mariadbdArgs(spec: MariaDbInstanceSpec): string[] {
  // The server refuses to start without its tmpdir: every caller that spawns with these args gets it.
  fs.mkdirSync(path.join(spec.dir, 'tmp'), { recursive: true });
  const args = [
    '--no-defaults',
    `--datadir=${dataDir(spec)}`,
    `--port=${spec.port}`,
    `--bind-address=${spec.host}`,
    `--socket=${path.join(spec.dir, 'mariadb.sock')}`,
    `--pid-file=${path.join(spec.dir, 'mariadb.pid')}`,
    `--log-error=${path.join(spec.dir, 'error.log')}`,
    // Temporary tables in the instance's own folder: a cleaner of /tmp must not break queries.
    `--tmpdir=${path.join(spec.dir, 'tmp')}`,
    `--server-id=${spec.serverId}`,
    '--log-bin=mysql-bin',
    '--log-slave-updates=ON',
    '--binlog-format=ROW',
    '--binlog-row-image=FULL',
    '--binlog-row-metadata=FULL',
    '--skip-name-resolve',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
    '--max-allowed-packet=256M',
    '--max-connections=500',
    '--innodb-buffer-pool-size=512M',
    '--innodb-log-file-size=256M',
    '--innodb-flush-log-at-trx-commit=2',
    // A pipeline's batch is one target transaction of several MB of row events: with the default
    // 32 KB cache the server spills each to a temporary file and copies it into the binlog at commit
    // (docs/target-dialects.md, "Target server settings").
    '--binlog-cache-size=16M',
  ];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--user=root');
  return args;
}

/** Throws when the data directory holds files that Otterflow did not create. */
export function assertDataDirIsOurs(spec: MariaDbInstanceSpec): void {
  assertDataDirOwned(spec.dir, dataDir(spec));
}

/** Creates the data directory once; refuses a non-empty directory that Otterflow did not create. */
export function initDataDir(spec: MariaDbInstanceSpec, tools: MariaDbTools): void {
  const data = dataDir(spec);
  assertDataDirIsOurs(spec);
  if (hasOwnershipMarker(spec.dir)) return;
  fs.mkdirSync(data, { recursive: true });
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
  ];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--user=root');
  try {
    execFileSync(tools.installDb, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer };
    throw new Error(`mariadb-install-db failed for ${data}:\n${e.stderr?.toString() ?? ''}${e.stdout ?? ''}`);
  }
  writeOwnershipMarker(spec.dir, spec.name);
}

export function instanceRecord(spec: MariaDbInstanceSpec): PidRecord | undefined {
  return readPidRecord(spec.runDir, processName(spec));
}

export function isRunning(spec: MariaDbInstanceSpec): boolean {
  return isRecordedAlive(spec.runDir, processName(spec));
}

/** Starts the instance unless it already runs; waits until it answers SQL. */
export async function startMariaDb(
  spec: MariaDbInstanceSpec,
  tools: MariaDbTools,
): Promise<'started' | 'already running'> {
  if (isRunning(spec)) {
    await waitForSql(spec, 30000, `MariaDB "${spec.name}"`);
    return 'already running';
  }
  await assertPortFree(spec.host, spec.port, `MariaDB "${spec.name}"`);
  initDataDir(spec, tools);
  const rec = launchRecorded({
    runDir: spec.runDir,
    name: processName(spec),
    marker: dataDir(spec),
    command: tools.mariadbd,
    args: mariadbdArgs(spec),
    logFile: path.join(spec.dir, 'stdout.log'),
  });
  try {
    await waitForSql(spec, 60000, `MariaDB "${spec.name}"`, rec);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- ${spec.dir}/error.log (tail) ---\n${tail(path.join(spec.dir, 'error.log'))}`,
    );
  }
  return 'started';
}

/** Waits until root can run a query on the instance (MariaDB or MySQL: same protocol). */
export async function waitForSql(
  spec: { host: string; port: number },
  timeoutMs: number,
  what: string,
  rec?: PidRecord,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (rec && !isOurProcessAlive(rec)) throw new Error(`${what} exited during start-up`);
    try {
      const conn = await mysql.createConnection({
        host: spec.host,
        port: spec.port,
        user: 'root',
        connectTimeout: 1000,
      });
      await conn.query('SELECT 1');
      await conn.end();
      return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${what} on port ${spec.port} did not answer SQL in time: ${lastError}`);
}

export function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
