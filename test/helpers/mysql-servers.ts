import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import {
  isMysqlRunning,
  type MysqlInstanceSpec,
  mysqlRecord,
  startMysql,
  stopMysql,
} from '../../src/devstack/mysql';
import { findMysql } from '../../src/devstack/mysql-root';
import { isOurProcessAlive } from '../../src/devstack/processes';

/**
 * MySQL 9 servers of a test's own, which it may stop, restart and reconfigure (global settings)
 * without disturbing the shared test stack. Ports: OTTERFLOW_TEST_MYSQL_PRIVATE_PORT (default 23318)
 * plus the offset the test asks for; files under .otterflow/scratch/mysql/<name>, fresh on each start.
 */
export interface PrivateMysql {
  spec: MysqlInstanceSpec;
  port: number;
  connect(options?: Partial<mysql.ConnectionOptions>): Promise<mysql.Connection>;
  /** Graceful stop (SIGTERM: the server closes its binlog file) and start on the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function privateMysqlPort(offset: number): number {
  return Number(process.env.OTTERFLOW_TEST_MYSQL_PRIVATE_PORT ?? 23318) + offset;
}

export async function startPrivateMysql(
  name: string,
  offset: number,
  serverId = 300 + offset,
): Promise<PrivateMysql> {
  const tools = findMysql();
  if (!tools) throw new Error('MySQL 9 is not built (run `node bin/otterflow.js dev install` as root)');
  const dir = path.join(projectRoot, '.otterflow', 'scratch', 'mysql', name);
  const port = privateMysqlPort(offset);
  const spec: MysqlInstanceSpec = {
    name,
    host: '127.0.0.1',
    port,
    serverId,
    dir,
    runDir: path.join(dir, 'run'),
  };
  // A leftover of an aborted run: stop it, then start from an empty data directory.
  const old = mysqlRecord(spec);
  if (old && isOurProcessAlive(old)) await stopMysql(spec);
  fs.rmSync(dir, { recursive: true, force: true });
  await startMysql(spec, tools);
  return {
    spec,
    port,
    connect: async (options = {}) => {
      const conn = await mysql.createConnection({
        host: spec.host,
        port,
        user: 'root',
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
        multipleStatements: true,
        ...options,
      });
      // Row dumps of tables holding MBs per row sort them with their values (see connectTo).
      await conn.query('SET SESSION sort_buffer_size = 67108864');
      return conn;
    },
    restart: async () => {
      await stopMysql(spec);
      await startMysql(spec, tools);
    },
    stop: async () => {
      if (isMysqlRunning(spec)) await stopMysql(spec);
    },
  };
}
