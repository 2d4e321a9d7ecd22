/**
 * Private MySQL 9 servers for benchmarks, started with the dev stack's own functions
 * (src/devstack/mysql.ts: same server options as `dev up --with-mysql`) on ports 24800–24899 with
 * data under `.otterflow/scratch/bench/`, fresh on every start, stopped by the benchmark that started
 * them (`stopBenchServer`). The MySQL folder is the project's (`dev install` builds it once, as root)
 * or the one OTTERFLOW_MYSQL_ROOT names.
 */
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { type MysqlInstanceSpec, mysqlRecord, startMysql, stopMysql } from '../../src/devstack/mysql';
import { ensureMysql, type MysqlTools } from '../../src/devstack/mysql-root';
import { isOurProcessAlive } from '../../src/devstack/processes';
import { BENCH_SCRATCH, type BenchServer } from './instances';

let tools: MysqlTools | undefined;

/** The MySQL folder, built once when missing (as root); without root, an error saying what to run. */
export function benchMysqlTools(log: (line: string) => void): MysqlTools {
  tools ??= ensureMysql(log);
  return tools;
}

export async function startBenchMysql(
  name: string,
  port: number,
  serverId: number,
  log: (line: string) => void,
): Promise<BenchServer> {
  if (port < 24800 || port > 24899) throw new Error(`bench servers use ports 24800–24899, not ${port}`);
  const t = benchMysqlTools(log);
  const dir = path.join(BENCH_SCRATCH, `mysql-${name}-${port}`);
  const spec: MysqlInstanceSpec = {
    name: `bench-${name}`,
    host: '127.0.0.1',
    port,
    serverId,
    dir,
    runDir: path.join(dir, 'run'),
  };
  // A server left behind by an interrupted run is ours (pid record + marker): stop it, then wipe.
  const stale = mysqlRecord(spec);
  if (stale && isOurProcessAlive(stale)) await stopMysql(spec);
  fs.rmSync(dir, { recursive: true, force: true });
  await startMysql(spec, t);
  const rec = mysqlRecord(spec);
  if (!rec) throw new Error(`${name}: no pid record after start`);
  return {
    flavour: 'mysql',
    spec,
    pid: rec.pid,
    connect: (database?: string) =>
      mysql.createConnection({
        host: spec.host,
        port: spec.port,
        user: 'root',
        database,
        multipleStatements: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
      }),
    stop: () => stopMysql(spec),
  };
}
