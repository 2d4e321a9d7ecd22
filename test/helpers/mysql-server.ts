/**
 * Private MySQL 9 servers for decoder tests and benchmarks, run from a MySQL root file system
 * (Debian's mysql-server-core under chroot; see docs/binlog-decoder.md). The server runs as root
 * inside the root, with its data directory and socket there too; each server is recorded like the
 * dev stack's processes, so a stale one from an interrupted run is stopped, never someone else's.
 */
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import {
  isOurProcessAlive,
  launchRecorded,
  type PidRecord,
  readPidRecord,
  stopProcess,
  waitForPort,
} from '../../src/devstack/processes';

/**
 * The MySQL root: $OTTERFLOW_MYSQL_ROOT, else the project's `.tools/mysql-root`. Undefined when
 * neither holds a mysqld. The one place that knows where the root lives.
 */
export function findMysqlRoot(): string | undefined {
  const candidates = [process.env.OTTERFLOW_MYSQL_ROOT, path.join(projectRoot, '.tools', 'mysql-root')];
  for (const dir of candidates) {
    if (dir && fs.existsSync(path.join(dir, 'usr', 'sbin', 'mysqld'))) return dir;
  }
  return undefined;
}

/** Why MySQL tests cannot run here, or undefined when they can (a root, and we are root for chroot). */
export function mysqlUnavailableReason(): string | undefined {
  if (!findMysqlRoot())
    return 'no MySQL root: set OTTERFLOW_MYSQL_ROOT to a root file system with mysql-server-core 9.x (or build .tools/mysql-root)';
  if (process.getuid?.() !== 0) return 'MySQL runs under chroot, which needs root';
  return undefined;
}

export interface MysqlServerOptions {
  /** Extra mysqld options, e.g. `--binlog-transaction-compression=ON`. */
  options?: string[];
  /** Wipe the data directory first (default false: initialised once, kept between runs). */
  fresh?: boolean;
}

export interface MysqlServer {
  name: string;
  port: number;
  root: string;
  /** The data directory as seen from outside the root (binlog files are here). */
  dataDir: string;
  pid: number;
  connect(database?: string): Promise<mysql.Connection>;
  /** `mysqlbinlog` of the root with `args`, run under chroot (paths must be inside the root). */
  mysqlbinlogCommand(args: string[]): { command: string; args: string[] };
  /** A path outside the root as mysqlbinlog/mysqld see it inside (it must lie inside the root). */
  insidePath(outside: string): string;
  stop(): Promise<void>;
}

function runDirOf(root: string): string {
  return path.join(root, 'var', 'lib', 'otterflow', 'run');
}

/**
 * Starts (or reuses, when already running with the same options) a MySQL server named `name` on
 * `port` with GTIDs and row binlogs on. Data lives in `<root>/var/lib/otterflow/<name>`.
 */
export async function startMysqlServer(
  name: string,
  port: number,
  serverId: number,
  opts: MysqlServerOptions = {},
): Promise<MysqlServer> {
  const reason = mysqlUnavailableReason();
  if (reason) throw new Error(reason);
  const root = findMysqlRoot()!;
  const inside = `/var/lib/otterflow/${name}`;
  const dataDir = path.join(root, inside);
  const runDir = runDirOf(root);
  const recordName = `mysql-${name}`;
  const options = opts.options ?? [];
  const marker = `--datadir=${inside}/data`;
  const args = [
    root,
    '/usr/sbin/mysqld',
    '--no-defaults',
    '--user=root',
    marker,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${inside}/mysqld.sock`,
    '--mysqlx=OFF',
    '--secure-file-priv=',
    `--server-id=${serverId}`,
    '--log-bin=binlog',
    '--gtid-mode=ON',
    '--enforce-gtid-consistency=ON',
    '--innodb-buffer-pool-size=128M',
    '--performance-schema=OFF',
    ...options,
  ];
  const stale = readPidRecord(runDir, recordName);
  if (stale && isOurProcessAlive(stale)) {
    const same = fs.readFileSync(`/proc/${stale.pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    // chroot execs mysqld in the same process: its command line is mysqld's.
    if (!opts.fresh && same === args.slice(1).join(' ')) return serverOf(stale);
    await stopProcess(stale, 60_000);
  }
  if (opts.fresh) fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const log = path.join(dataDir, 'mysqld.log');
  if (!fs.existsSync(path.join(dataDir, 'data', 'mysql'))) {
    fs.rmSync(path.join(dataDir, 'data'), { recursive: true, force: true });
    const { spawnSync } = await import('node:child_process');
    const init = spawnSync(
      'chroot',
      [
        root,
        '/usr/sbin/mysqld',
        '--no-defaults',
        '--initialize-insecure',
        '--user=root',
        `--datadir=${inside}/data`,
      ],
      { encoding: 'utf8' },
    );
    if (init.status !== 0) throw new Error(`mysqld --initialize-insecure failed: ${init.stderr}`);
  }
  const rec = launchRecorded({ runDir, name: recordName, marker, command: 'chroot', args, logFile: log });
  try {
    await waitForPort('127.0.0.1', port, 90_000, () => isOurProcessAlive(rec));
  } catch (err) {
    throw new Error(`MySQL ${name} did not start: ${(err as Error).message}; see ${log}`);
  }
  const server = serverOf(rec);
  // The port opens before the server accepts queries during its first start.
  for (let i = 0; ; i++) {
    try {
      const c = await server.connect();
      await c.end();
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return server;

  function serverOf(r: PidRecord): MysqlServer {
    return {
      name,
      port,
      root,
      dataDir: path.join(dataDir, 'data'),
      pid: r.pid,
      connect: (database?: string) =>
        mysql.createConnection({
          host: '127.0.0.1',
          port,
          user: 'root',
          database,
          multipleStatements: true,
          supportBigNumbers: true,
          bigNumberStrings: true,
          dateStrings: true,
          timezone: 'Z',
        }),
      mysqlbinlogCommand: (a: string[]) => ({
        command: 'chroot',
        args: [root, '/usr/bin/mysqlbinlog', ...a],
      }),
      insidePath: (outside: string) => {
        const rel = path.relative(root, outside);
        if (rel.startsWith('..')) throw new Error(`${outside} is not inside the MySQL root ${root}`);
        return `/${rel}`;
      },
      stop: () => stopProcess(r, 60_000),
    };
  }
}

/** A scratch folder inside the MySQL root (so that mysqlbinlog under chroot can read files there). */
export function mysqlScratchDir(name: string): string {
  const root = findMysqlRoot();
  if (!root) throw new Error(mysqlUnavailableReason());
  const dir = path.join(root, 'var', 'lib', 'otterflow', 'scratch', `${name}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Port of the `n`th private MySQL server of a test run: $OTTERFLOW_TEST_MYSQL_PORT + n, else 20 + n
 * above the test stack's source port (so that parallel stacks with their own ports do not collide).
 */
export function testMysqlPort(n = 0): number {
  const base = process.env.OTTERFLOW_TEST_MYSQL_PORT
    ? Number(process.env.OTTERFLOW_TEST_MYSQL_PORT)
    : Number(process.env.OTTERFLOW_TEST_SOURCE_PORT ?? 3306) + 20;
  return base + n;
}
