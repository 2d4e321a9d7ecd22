/**
 * Private MySQL 9 servers for decoder tests and benchmarks, one per test file (test files run in
 * parallel), started with the dev stack's MySQL support (src/devstack/mysql.ts: the MySQL folder
 * that `otterflow dev install` builds, or $OTTERFLOW_MYSQL_ROOT) with data under
 * .otterflow/scratch/mysql-decoder/<name>. `mysqlbinlog` of the same folder is the second oracle.
 */
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { type MysqlInstanceSpec, mysqlDataDir, startMysql, stopMysql } from '../../src/devstack/mysql';
import { findMysql, rootLauncher } from '../../src/devstack/mysql-root';
import { testStack } from './stack';

/** Why MySQL tests cannot run here, or undefined when they can. */
export function mysqlUnavailableReason(): string | undefined {
  return findMysql()
    ? undefined
    : 'MySQL 9 is not built: run `node bin/otterflow.js dev install` as root (or set OTTERFLOW_MYSQL_ROOT)';
}

export interface MysqlServerOptions {
  /** Wipe the data directory first (default false: kept between runs, reused while running). */
  fresh?: boolean;
}

export interface MysqlServer {
  name: string;
  port: number;
  /** The data directory (binlog files are here). */
  dataDir: string;
  connect(database?: string): Promise<mysql.Connection>;
  /** How to run `mysqlbinlog` of the MySQL folder with `args`. */
  mysqlbinlogCommand(args: string[]): { command: string; args: string[] };
  stop(): Promise<void>;
}

/** Starts (or reuses, when it already runs) the private MySQL server `name` on `port`. */
export async function startMysqlServer(
  name: string,
  port: number,
  serverId: number,
  opts: MysqlServerOptions = {},
): Promise<MysqlServer> {
  const tools = findMysql();
  if (!tools) throw new Error(mysqlUnavailableReason());
  const dir = path.join(projectRoot, '.otterflow', 'scratch', 'mysql-decoder', name);
  const spec: MysqlInstanceSpec = {
    name: `decoder-${name}`,
    host: '127.0.0.1',
    port,
    serverId,
    dir,
    runDir: path.join(dir, 'run'),
  };
  if (opts.fresh) {
    await stopMysql(spec);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await startMysql(spec, tools);
  return {
    name,
    port,
    dataDir: mysqlDataDir(spec),
    connect: (database?: string) =>
      mysql.createConnection({
        host: spec.host,
        port,
        user: 'root',
        database,
        multipleStatements: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
        timezone: 'Z',
      }),
    mysqlbinlogCommand: (args: string[]) => {
      const launcher = rootLauncher(tools.root, 'usr/bin/mysqlbinlog');
      return { command: launcher.command, args: [...launcher.args, ...args] };
    },
    stop: () => stopMysql(spec),
  };
}

/**
 * Port of the `n`th private MySQL server of the decoder tests: $OTTERFLOW_TEST_MYSQL_DECODER_PORT
 * + n, else 20 + n above the test stack's source port (23326 and up for the default test stack;
 * parallel stacks have their own ports).
 */
export function testMysqlPort(n = 0): number {
  const base = process.env.OTTERFLOW_TEST_MYSQL_DECODER_PORT
    ? Number(process.env.OTTERFLOW_TEST_MYSQL_DECODER_PORT)
    : testStack().sourcePort + 20;
  return base + n;
}
