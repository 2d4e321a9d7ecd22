/**
 * Private MariaDB servers for benchmarks: started on ports 24800–24899 with data under
 * `.otterflow/scratch/bench/`, with the same options as the dev stack (src/devstack/mariadb.ts), and
 * stopped by the benchmark that started them. Use `startBenchServer` in a benchmark's setup and
 * `stopBenchServer` in its `finally`.
 */
import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { instanceRecord, type MariaDbInstanceSpec, startMariaDb } from '../../src/devstack/mariadb';
import { stopProcess } from '../../src/devstack/processes';
import { findMariaDb } from '../../src/devstack/tools';

/** Where every benchmark keeps its servers' data. */
export const BENCH_SCRATCH = path.join(projectRoot, '.otterflow', 'scratch', 'bench');

export interface BenchServer {
  /** Which server program runs (MariaDB unless started by bench/lib/mysql-instances.ts). */
  flavour?: 'mariadb' | 'mysql';
  spec: MariaDbInstanceSpec;
  /** mariadbd's pid (for CPU accounting through /proc). */
  pid: number;
  /** A new root connection (multipleStatements on; values as exact strings). */
  connect(database?: string): Promise<mysql.Connection>;
  /** Stops the server (set for servers that `stopBenchServer` cannot stop by itself). */
  stop?(): Promise<void>;
}

/**
 * Starts (after wiping its old data: each run starts from an empty server) one private mariadbd.
 * `port` must be in 24800–24899.
 */
export interface BenchServerOptions {
  /** Folder for this bench's servers (default BENCH_SCRATCH). */
  scratch?: string;
  /** Allowed port range, inclusive (default 24800–24899). */
  ports?: [number, number];
  /** Prefix of the pid-record name (default `bench`). */
  prefix?: string;
}

export async function startBenchServer(
  name: string,
  port: number,
  serverId: number,
  opts: BenchServerOptions = {},
): Promise<BenchServer> {
  const [lo, hi] = opts.ports ?? [24800, 24899];
  if (port < lo || port > hi) throw new Error(`bench servers use ports ${lo}–${hi}, not ${port}`);
  const tools = findMariaDb();
  if (!tools)
    throw new Error('mariadbd is not installed (see README.md: sudo apt-get install mariadb-server)');
  const dir = path.join(opts.scratch ?? BENCH_SCRATCH, `${name}-${port}`);
  const spec: MariaDbInstanceSpec = {
    name: `${opts.prefix ?? 'bench'}-${name}`,
    host: '127.0.0.1',
    port,
    serverId,
    dir,
    runDir: path.join(dir, 'run'),
  };
  // A server left behind by an interrupted run is ours (pid record + marker): stop it, then wipe.
  const stale = instanceRecord(spec);
  if (stale) await stopProcess(stale);
  fs.rmSync(dir, { recursive: true, force: true });
  // mariadb-install-db and mariadbd put temporary tables in $TMPDIR; a shared /tmp lets concurrent
  // installs by other programs collide on names ("Could not remove temporary table").
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    await startMariaDb(spec, tools);
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
  const rec = instanceRecord(spec);
  if (!rec) throw new Error(`${name}: no pid record after start`);
  return {
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
  };
}

/** Stops a server started by `startBenchServer` (its data stays until the next run wipes it). */
export async function stopBenchServer(server: BenchServer | undefined): Promise<void> {
  if (!server) return;
  if (server.stop) return server.stop();
  const rec = instanceRecord(server.spec);
  if (rec) await stopProcess(rec);
}
