/**
 * Initial-load benchmark: the same source tables copied to the target (1) with
 * `mariadb-dump | mariadb` and (2) with an Otterflow backfill workflow (plan + parallel chunk copy),
 * in the same run, on two private MariaDB servers (ports 24901/24902) and a private Temporal dev
 * server (24903, UI 24904), all started here with data under .otterflow/scratch/backfill/ and
 * stopped at the end. Prints one JSON object.
 *
 *   node --import tsx bench/backfill/run.ts [--rows 1000000] [--parallelism 4] [--chunk <rows>] [--raw-rows off]
 *     [--secondary-indexes keep]
 *
 * `--raw-rows off` turns the raw-row fast path off (OTTERFLOW_BACKFILL_RAW_ROWS=0: plain tables are
 * read as JS values and encoded), for A/B comparisons. `--secondary-indexes keep` loads with the
 * target's secondary index on (the default defers it and rebuilds it after the table's last chunk).
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import mysql from 'mysql2/promise';
import type { BackfillStatus } from '../../src/backfill/contract';
import { backfillWorkflowId } from '../../src/backfill/contract';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { projectRoot, stackSettingsFromEnv, temporalAddress } from '../../src/config/stack';
import { instanceRecord, type MariaDbInstanceSpec } from '../../src/devstack/mariadb';
import { stopProcess } from '../../src/devstack/processes';
import { startTemporal, type TemporalDevSpec, temporalRecord } from '../../src/devstack/temporal';
import { findTemporal } from '../../src/devstack/tools';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { createWorker } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';
import { startBenchServer } from '../lib/instances';
import { cpuSecondsOf } from '../lib/measure';

const SCRATCH = path.join(projectRoot, '.otterflow', 'scratch', 'backfill', 'bench');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A private server of this bench (ports 24900–24999), wiped at every run. */
async function startServer(name: string, port: number, serverId: number): Promise<MariaDbInstanceSpec> {
  const server = await startBenchServer(name, port, serverId, {
    scratch: SCRATCH,
    ports: [24900, 24999],
    prefix: 'bf',
  });
  return server.spec;
}

async function stopServer(spec: MariaDbInstanceSpec | undefined): Promise<void> {
  const rec = spec && instanceRecord(spec);
  if (rec) await stopProcess(rec);
}

/** CPU used by the two servers and by this process (the in-process worker) during `run`. */
async function measureCpu<T>(
  pids: { source: number; target: number },
  run: () => Promise<T>,
): Promise<{ result: T; cpu: { source: number; target: number; node: number } }> {
  const before = {
    source: cpuSecondsOf(pids.source),
    target: cpuSecondsOf(pids.target),
    node: process.cpuUsage(),
  };
  const result = await run();
  const node = process.cpuUsage(before.node);
  return {
    result,
    cpu: {
      source: Number((cpuSecondsOf(pids.source) - before.source).toFixed(2)),
      target: Number((cpuSecondsOf(pids.target) - before.target).toFixed(2)),
      node: Number(((node.user + node.system) / 1e6).toFixed(2)),
    },
  };
}

const connect = (port: number, database?: string) =>
  mysql.createConnection({ host: '127.0.0.1', port, user: 'root', database, multipleStatements: true });

async function checksum(conn: mysql.Connection, db: string, table: string, cols: string): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS('|', ${cols}))) AS s FROM \`${db}\`.\`${table}\``,
  );
  return `${rows[0]?.n}:${rows[0]?.s}`;
}

async function showCreate(conn: mysql.Connection, db: string, table: string): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SHOW CREATE TABLE \`${db}\`.\`${table}\``);
  return String(rows[0]?.['Create Table']);
}

async function main(): Promise<void> {
  const rows = arg('rows', 1_000_000);
  const parallelism = arg('parallelism', 4);
  // 0: the backfill chooses (rowsPerChunk in src/backfill/chunk-plan.ts).
  const chunkSize = arg('chunk', 0) || undefined;
  const rawRowsAt = process.argv.indexOf('--raw-rows');
  const rawRows = rawRowsAt < 0 || process.argv[rawRowsAt + 1] !== 'off';
  if (!rawRows) process.env.OTTERFLOW_BACKFILL_RAW_ROWS = '0';
  const indexesAt = process.argv.indexOf('--secondary-indexes');
  const secondaryIndexes = indexesAt >= 0 && process.argv[indexesAt + 1] === 'keep' ? 'keep' : 'defer';
  const temporalDir = path.join(SCRATCH, 'temporal-24903');
  const temporalSpec: TemporalDevSpec = {
    host: '127.0.0.1',
    port: 24903,
    uiPort: 24904,
    dir: temporalDir,
    runDir: path.join(temporalDir, 'run'),
    namespace: 'default',
  };
  const s = stackSettingsFromEnv({
    ...process.env,
    OTTERFLOW_TEMPORAL_PORT: String(temporalSpec.port),
    OTTERFLOW_NAMESPACE: temporalSpec.namespace,
  });
  let source: MariaDbInstanceSpec | undefined;
  let target: MariaDbInstanceSpec | undefined;
  try {
    const temporalBinary = findTemporal();
    if (!temporalBinary) throw new Error('the temporal CLI is not installed (npm start installs it)');
    const stale = temporalRecord(temporalSpec);
    if (stale) await stopProcess(stale);
    fs.rmSync(temporalDir, { recursive: true, force: true });
    fs.mkdirSync(temporalDir, { recursive: true });
    [source, target] = await Promise.all([
      startServer('source', 24901, 901),
      startServer('target', 24902, 902),
      startTemporal(temporalSpec, temporalBinary),
    ]);
    const src = await connect(24901);
    await src.query('CREATE DATABASE shop');
    await src.query('USE shop');
    await src.query(`CREATE TABLE shop.orders (
      id BIGINT UNSIGNED NOT NULL PRIMARY KEY, customer INT NOT NULL, status VARCHAR(16) NOT NULL,
      amount DECIMAL(12,2) NOT NULL, created DATETIME(3) NOT NULL, note VARCHAR(200) NULL, KEY (customer))`);
    await src.query(`CREATE TABLE shop.customers (
      id INT NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(120) NOT NULL, score DOUBLE, since DATE)`);
    await src.query(
      `INSERT INTO shop.orders SELECT seq, seq % 50000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'closed'),
         (seq % 100000) / 7, '2024-01-01 00:00:00' + INTERVAL seq SECOND, IF(seq % 3 = 0, NULL, REPEAT('n', seq % 60))
       FROM seq_1_to_${rows}`,
    );
    await src.query(
      `INSERT INTO shop.customers SELECT seq, CONCAT('customer ', seq), CONCAT('c', seq, '@example.com'), seq / 3, '2020-01-01' + INTERVAL (seq % 1000) DAY
       FROM seq_1_to_${Math.ceil(rows / 10)}`,
    );
    src.end();
    const tgt = await connect(24902);
    await tgt.query('CREATE DATABASE dumped');
    // Otterflow needs the target tables (a pipeline never creates tables from data): schema only, untimed.
    await tgt.query('CREATE DATABASE shop');
    execSync(
      `mariadb-dump -h127.0.0.1 -P24901 -uroot --no-data shop | mariadb -h127.0.0.1 -P24902 -uroot shop`,
    );

    const pids = {
      source: instanceRecord(source)?.pid as number,
      target: instanceRecord(target)?.pid as number,
    };
    // 1. dump | restore (its client processes are children: their CPU is not in `node`)
    const dumpStart = process.hrtime.bigint();
    const dumped = await measureCpu(pids, async () =>
      // bash's `times` prints the CPU of its children (the two clients): its second line.
      execSync(
        `bash -c 'mariadb-dump -h127.0.0.1 -P24901 -uroot --single-transaction --quick shop | mariadb -h127.0.0.1 -P24902 -uroot dumped; times'`,
        { stdio: ['ignore', 'pipe', 'inherit'] },
      ).toString(),
    );
    const dumpSeconds = Number(process.hrtime.bigint() - dumpStart) / 1e9;
    const clientTimes = [...(dumped.result.trim().split('\n')[1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)];
    const dumpCpu = {
      ...dumped.cpu,
      clients: Number(clientTimes.reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0).toFixed(2)),
    };

    // 2. Otterflow backfill (a private catalog names the two servers for the in-process worker)
    const home = path.join(SCRATCH, 'home');
    fs.mkdirSync(home, { recursive: true });
    const catalog = new DatasourceCatalog(catalogFile(home));
    catalog.put({ name: 'bsrc', kind: 'mariadb', host: '127.0.0.1', port: 24901, user: 'root' });
    catalog.put({ name: 'btgt', kind: 'mariadb', host: '127.0.0.1', port: 24902, user: 'root' });
    const config = parsePipelineConfig({
      name: 'bench_backfill',
      source: 'bsrc',
      target: 'btgt',
      mappings: [{ source: { schema: 'shop', table: '/.*/' } }],
    });
    installRuntime();
    const native = await NativeConnection.connect({ address: temporalAddress(s) });
    const connection = await Connection.connect({ address: temporalAddress(s) });
    const client = new Client({ connection, namespace: s.namespace });
    const taskQueue = `bench-backfill-${process.pid}`;
    const worker = await createWorker(native, { namespace: s.namespace, taskQueue, home });
    const id = `bench-${Date.now()}`;
    const bfStart = process.hrtime.bigint();
    const measured = await measureCpu(
      pids,
      async () =>
        (await worker.runUntil(
          client.workflow.execute('backfillWorkflow', {
            taskQueue,
            workflowId: backfillWorkflowId(id),
            args: [
              {
                id,
                kind: 'initial',
                config,
                ...(chunkSize ? { chunkSize } : {}),
                parallelism,
                secondaryIndexes,
              },
            ],
          }),
        )) as BackfillStatus,
    );
    const result = measured.result;
    const backfillSeconds = Number(process.hrtime.bigint() - bfStart) / 1e9;
    const bfEndMs = Date.now();
    // Where the wall time went: planning (start → plan stored), copying (→ last chunk done), the rest.
    const [times] = await tgt.query<mysql.RowDataPacket[]>(
      `SELECT UNIX_TIMESTAMP(b.planned_at) AS planned, UNIX_TIMESTAMP(MIN(c.done_at)) AS first,
              UNIX_TIMESTAMP(MAX(c.done_at)) AS last
         FROM otterflow.backfills b JOIN otterflow.backfill_chunks c USING (backfill_id)
        WHERE b.backfill_id = ? GROUP BY b.backfill_id`,
      [id],
    );
    const t0 = bfEndMs / 1000 - backfillSeconds;
    const phase = (times[0] ?? {}) as Record<string, unknown>;
    const phases = {
      planSeconds: Number((Number(phase.planned) - t0).toFixed(2)),
      firstChunkDoneSeconds: Number((Number(phase.first) - Number(phase.planned)).toFixed(2)),
      copySeconds: Number((Number(phase.last) - Number(phase.planned)).toFixed(2)),
      afterLastChunkSeconds: Number((bfEndMs / 1000 - Number(phase.last)).toFixed(2)),
    };
    await connection.close();
    await native.close();

    const orderCols = 'id, customer, status, amount, created, IFNULL(note, "\\\\N")';
    const customerCols = 'id, name, email, score, since';
    const same =
      (await checksum(tgt, 'shop', 'orders', orderCols)) ===
        (await checksum(tgt, 'dumped', 'orders', orderCols)) &&
      (await checksum(tgt, 'shop', 'customers', customerCols)) ===
        (await checksum(tgt, 'dumped', 'customers', customerCols));
    // Deferred indexes must come back exactly as the dump created them.
    const schemasIdentical =
      (await showCreate(tgt, 'shop', 'orders')) === (await showCreate(tgt, 'dumped', 'orders')) &&
      (await showCreate(tgt, 'shop', 'customers')) === (await showCreate(tgt, 'dumped', 'customers'));
    tgt.end();
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'backfill-initial-load',
          tables: { 'shop.orders': rows, 'shop.customers': Math.ceil(rows / 10) },
          rowsCopied: result.rowsCopied,
          chunks: result.chunksTotal,
          parallelism,
          chunkSize: chunkSize ?? 'auto',
          rawRows,
          secondaryIndexes: { policy: secondaryIndexes, ...result.secondaryIndexes },
          dumpRestoreSeconds: Number(dumpSeconds.toFixed(2)),
          backfillSeconds: Number(backfillSeconds.toFixed(2)),
          speedup: Number((dumpSeconds / backfillSeconds).toFixed(2)),
          backfillRowsPerSecond: Math.round(result.rowsCopied / backfillSeconds),
          phases,
          cpuSeconds: { dumpRestore: dumpCpu, backfill: measured.cpu },
          targetsIdentical: same,
          schemasIdentical,
          cores: (await import('node:os')).cpus().length,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    const temporal = temporalRecord(temporalSpec);
    await Promise.all([stopServer(source), stopServer(target), temporal && stopProcess(temporal)]);
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
