import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { catalogFile, type Datasource, DatasourceCatalog } from '../../src/config/datasources';
import { instanceRecord, type MariaDbInstanceSpec, startMariaDb } from '../../src/devstack/mariadb';
import { isOurProcessAlive, type PidRecord, stopProcess } from '../../src/devstack/processes';
import { startTemporal, type TemporalDevSpec, temporalRecord } from '../../src/devstack/temporal';
import { findMariaDb, findTemporal } from '../../src/devstack/tools';
import { scratchDir, sleep } from './processes';
import { testStack, uniqueName } from './stack';

/**
 * Private servers that a test may kill and restart without disturbing anyone: a Temporal dev server
 * and a MariaDB, each on a port in base+700–799 (test/helpers/ports.ts) with its files under .otterflow/scratch/failover/.
 * The shared test stack is never touched.
 */

export interface PrivateServer {
  address: string;
  port: number;
  /** SIGKILL the server process; waits until it is gone. */
  kill9(): Promise<void>;
  /** Starts it again on the same data (after kill9). */
  restart(): Promise<void>;
  /** Graceful stop (test cleanup). */
  stop(): Promise<void>;
}

async function killAndWait(rec: PidRecord | undefined): Promise<void> {
  if (!rec || !isOurProcessAlive(rec)) return;
  process.kill(rec.pid, 'SIGKILL');
  for (let i = 0; i < 100 && isOurProcessAlive(rec); i++) await sleep(100);
}

/** A Temporal dev server of the test's own (fresh database file each time it is created). */
export async function startPrivateTemporal(port: number): Promise<PrivateServer & { spec: TemporalDevSpec }> {
  const binary = findTemporal();
  if (!binary) throw new Error('the temporal CLI is not installed (run scripts/bootstrap.sh)');
  const dir = scratchDir(`temporal-${port}`);
  const spec: TemporalDevSpec = {
    host: '127.0.0.1',
    port,
    uiPort: port + 1,
    dir,
    runDir: path.join(dir, 'run'),
    namespace: testStack().namespace,
  };
  await killAndWait(temporalRecord(spec)); // a leftover from an aborted run
  fs.rmSync(path.join(dir, 'temporal.db'), { force: true });
  await startTemporal(spec, binary);
  return {
    spec,
    port,
    address: `${spec.host}:${port}`,
    kill9: () => killAndWait(temporalRecord(spec)),
    restart: async () => {
      await startTemporal(spec, binary);
    },
    stop: async () => {
      const rec = temporalRecord(spec);
      if (rec && isOurProcessAlive(rec)) await stopProcess(rec, 10_000);
    },
  };
}

/** A MariaDB of the test's own (data directory kept between runs; databases are the test's job). */
export async function startPrivateMariaDb(
  port: number,
  name: string,
): Promise<
  PrivateServer & { spec: MariaDbInstanceSpec; connect(database?: string): Promise<mysql.Connection> }
> {
  const tools = findMariaDb();
  if (!tools) throw new Error('mariadbd is not installed (run scripts/bootstrap.sh)');
  const dir = scratchDir(`mariadb-${name}`);
  const spec: MariaDbInstanceSpec = {
    name,
    host: '127.0.0.1',
    port,
    serverId: port,
    dir,
    runDir: path.join(dir, 'run'),
  };
  await startMariaDb(spec, tools);
  return {
    spec,
    port,
    address: `${spec.host}:${port}`,
    kill9: () => killAndWait(instanceRecord(spec)),
    restart: async () => {
      await startMariaDb(spec, tools);
    },
    stop: async () => {
      const rec = instanceRecord(spec);
      if (rec && isOurProcessAlive(rec)) await stopProcess(rec, 60_000);
    },
    connect: (database?: string) =>
      mysql.createConnection({
        host: spec.host,
        port,
        user: 'root',
        database,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
        multipleStatements: true,
      }),
  };
}

/**
 * An OTTERFLOW_HOME of the test's own whose datasource catalog holds the test stack's "source"
 * plus `extra` (e.g. a private target): give it to a worker (env OTTERFLOW_HOME or createWorker's home).
 */
export function privateHome(extra: Datasource[]): string {
  const home = scratchDir('homes', uniqueName('home'));
  const catalog = new DatasourceCatalog(catalogFile(home));
  const s = testStack();
  catalog.put({ name: 'source', kind: 'mariadb', host: s.host, port: s.sourcePort, user: 'root' });
  for (const ds of extra) catalog.put(ds);
  return home;
}
