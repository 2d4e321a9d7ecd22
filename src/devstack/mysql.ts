import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertDataDirOwned, hasOwnershipMarker, writeOwnershipMarker } from './data-dir';
import { tail, waitForSql } from './mariadb';
import { type MysqlTools, mysqldLauncher } from './mysql-root';
import {
  assertPortFree,
  isRecordedAlive,
  launchRecorded,
  type PidRecord,
  readPidRecord,
  removePidRecord,
  stopProcess,
} from './processes';

/** One private MySQL 9 server of the local stack ("source" or "target"). */
export interface MysqlInstanceSpec {
  name: string;
  host: string;
  port: number;
  serverId: number;
  /** Folder of this instance: data/, socket, logs and the ownership marker. */
  dir: string;
  runDir: string;
}

export function mysqlDataDir(spec: MysqlInstanceSpec): string {
  return path.join(spec.dir, 'data');
}

/** The pid-file name of the instance, also its component name in `dev status`. */
export function mysqlProcessName(spec: MysqlInstanceSpec): string {
  return `mysql-${spec.name}`;
}

const asRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Options every invocation needs: where the server's own files are inside the MySQL folder. */
function baseArgs(spec: MysqlInstanceSpec, tools: MysqlTools): string[] {
  const share = path.join(tools.root, 'usr/share/mysql');
  const args = [
    '--no-defaults',
    `--basedir=${path.join(tools.root, 'usr')}`,
    `--lc-messages-dir=${share}`,
    `--character-sets-dir=${path.join(share, 'charsets')}`,
    `--plugin-dir=${path.join(tools.root, 'usr/lib/mysql/plugin')}`,
    `--datadir=${mysqlDataDir(spec)}`,
    `--log-error=${path.join(spec.dir, 'error.log')}`,
    `--tmpdir=${path.join(spec.dir, 'tmp')}`,
  ];
  if (asRoot()) args.push('--user=root');
  return args;
}

/**
 * Server options: binlog with GTIDs on both instances (the target needs it for bidirectional
 * channels and cascades), full row metadata, LOAD DATA LOCAL allowed (initial loads), no X plugin.
 */
export function mysqldArgs(spec: MysqlInstanceSpec, tools: MysqlTools): string[] {
  fs.mkdirSync(path.join(spec.dir, 'tmp'), { recursive: true });
  return [
    ...baseArgs(spec, tools),
    `--port=${spec.port}`,
    `--bind-address=${spec.host}`,
    `--socket=${path.join(spec.dir, 'mysql.sock')}`,
    `--pid-file=${path.join(spec.dir, 'mysql.pid')}`,
    `--server-id=${spec.serverId}`,
    '--mysqlx=OFF',
    '--secure-file-priv=',
    '--local-infile=ON',
    '--log-bin=binlog',
    '--gtid-mode=ON',
    '--enforce-gtid-consistency=ON',
    '--binlog-row-metadata=FULL',
    '--skip-name-resolve',
    '--max-allowed-packet=256M',
    '--max-connections=300',
    '--innodb-buffer-pool-size=256M',
    '--innodb-flush-log-at-trx-commit=2',
    '--binlog-cache-size=16M',
  ];
}

/** Throws when the data directory holds files that Otterflow did not create. */
export function assertMysqlDataDirIsOurs(spec: MysqlInstanceSpec): void {
  assertDataDirOwned(spec.dir, mysqlDataDir(spec));
}

/** Initialises the data directory once (root@localhost without a password, like the MariaDB ones). */
export function initMysqlDataDir(spec: MysqlInstanceSpec, tools: MysqlTools): void {
  assertMysqlDataDirIsOurs(spec);
  if (hasOwnershipMarker(spec.dir)) return;
  fs.mkdirSync(path.join(spec.dir, 'tmp'), { recursive: true });
  // The server creates the data directory itself and refuses an existing non-empty one.
  fs.rmSync(mysqlDataDir(spec), { recursive: true, force: true });
  // The servers run with --skip-name-resolve, where root@localhost does not match a TCP client on
  // 127.0.0.1: root gets that host too (no password, as on the MariaDB instances).
  const initFile = path.join(spec.dir, 'init.sql');
  fs.writeFileSync(
    initFile,
    "CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY '';\n" +
      "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n" +
      "GRANT SYSTEM_USER ON *.* TO 'root'@'127.0.0.1';\n",
  );
  const launcher = mysqldLauncher(tools.root);
  const r = spawnSync(
    launcher.command,
    [...launcher.args, ...baseArgs(spec, tools), '--initialize-insecure', `--init-file=${initFile}`],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    throw new Error(
      `mysqld --initialize-insecure failed for ${mysqlDataDir(spec)} (exit ${r.status}):\n` +
        tail(path.join(spec.dir, 'error.log')),
    );
  }
  writeOwnershipMarker(spec.dir, spec.name);
}

export function mysqlRecord(spec: MysqlInstanceSpec): PidRecord | undefined {
  return readPidRecord(spec.runDir, mysqlProcessName(spec));
}

export function isMysqlRunning(spec: MysqlInstanceSpec): boolean {
  return isRecordedAlive(spec.runDir, mysqlProcessName(spec));
}

/** Starts the instance unless it already runs; waits until it answers SQL. */
export async function startMysql(
  spec: MysqlInstanceSpec,
  tools: MysqlTools,
): Promise<'started' | 'already running'> {
  const what = `MySQL "${spec.name}"`;
  if (isMysqlRunning(spec)) {
    await waitForSql(spec, 30000, what);
    return 'already running';
  }
  await assertPortFree(spec.host, spec.port, what);
  initMysqlDataDir(spec, tools);
  const launcher = mysqldLauncher(tools.root);
  const rec = launchRecorded({
    runDir: spec.runDir,
    name: mysqlProcessName(spec),
    marker: mysqlDataDir(spec),
    command: launcher.command,
    args: [...launcher.args, ...mysqldArgs(spec, tools)],
    logFile: path.join(spec.dir, 'stdout.log'),
  });
  try {
    await waitForSql(spec, 90000, what, rec);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n--- ${spec.dir}/error.log (tail) ---\n${tail(path.join(spec.dir, 'error.log'))}`,
    );
  }
  return 'started';
}

/** Stops the instance gracefully (SIGTERM: the server flushes and closes its binlog). */
export async function stopMysql(spec: MysqlInstanceSpec): Promise<void> {
  const rec = mysqlRecord(spec);
  if (rec) await stopProcess(rec, 60000);
  removePidRecord(spec.runDir, mysqlProcessName(spec));
}
