/**
 * Verification benchmark: the same identity-mapped table (1M rows by default, a few rows changed on
 * the target) compared (1) by an Otterflow verification workflow, (2) by `pt-table-sync --dry-run`,
 * (3) by `pt-table-sync --print` (which compares every chunk and prints the fixing statements) and
 * (4) by a dump-and-diff (`mariadb-dump --order-by-primary` of both sides through `diff`), in the same
 * run, on two private MariaDB servers (ports 24911/24912, data under .otterflow/scratch/verify/) and
 * the test stack's Temporal. Prints one JSON object: seconds, rows/s, ratios, CPU-seconds of the
 * source server, and the differences each tool found.
 *
 *   node --import tsx bench/verify/run.ts [--rows 1000000] [--parallelism 4] [--changed 10] [--keep]
 */
import { execSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { projectRoot, stackSettingsFromEnv, temporalAddress } from '../../src/config/stack';
import { claimCheckpoint } from '../../src/connectors/mysql/checkpoint';
import { instanceRecord } from '../../src/devstack/mariadb';
import { stopProcess } from '../../src/devstack/processes';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { type VerificationStatus, verificationWorkflowId } from '../../src/verification/contract';
import { readReport } from '../../src/verification/report-store';
import { createWorker } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';
import { type BenchServer, startBenchServer } from '../lib/instances';
import { cpuSecondsOf } from '../lib/measure';

const SCRATCH = path.join(projectRoot, '.otterflow', 'scratch', 'verify', 'bench');
const SRC_PORT = 24911;
const TGT_PORT = 24912;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Wall seconds, CPU-seconds of the source server, and the result of `run`. */
async function timed<T>(
  sourcePid: number,
  run: () => Promise<T> | T,
): Promise<{ seconds: number; sourceCpu: number; result: T }> {
  const cpu0 = cpuSecondsOf(sourcePid);
  const t0 = process.hrtime.bigint();
  const result = await run();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    seconds: Number(seconds.toFixed(2)),
    sourceCpu: Number((cpuSecondsOf(sourcePid) - cpu0).toFixed(2)),
    result,
  };
}

const dsn = (port: number) => `h=127.0.0.1,P=${port},u=root`;

async function main(): Promise<void> {
  const rows = arg('rows', 1_000_000);
  const parallelism = arg('parallelism', 4);
  const changed = arg('changed', 10);
  if (spawnSync('pt-table-sync', ['--version']).error)
    throw new Error('pt-table-sync not found: install percona-toolkit (scripts/bootstrap.sh does, as root)');
  const s = stackSettingsFromEnv({
    ...process.env,
    OTTERFLOW_TEMPORAL_PORT: process.env.OTTERFLOW_TEMPORAL_PORT ?? '27233',
  });
  const servers: BenchServer[] = [];
  try {
    const opts = { scratch: SCRATCH, ports: [24900, 24999] as [number, number], prefix: 'vf' };
    servers.push(
      ...(await Promise.all([
        startBenchServer('source', SRC_PORT, 911, opts),
        startBenchServer('target', TGT_PORT, 912, opts),
      ])),
    );
    const [source, target] = servers as [BenchServer, BenchServer];
    const ddl = `CREATE TABLE shop.orders (
      id BIGINT UNSIGNED NOT NULL PRIMARY KEY, customer INT NOT NULL, status VARCHAR(16) NOT NULL,
      amount DECIMAL(12,2) NOT NULL, created DATETIME(3) NOT NULL, note VARCHAR(200) NULL, KEY (customer))`;
    const fill = `INSERT INTO shop.orders SELECT seq, seq % 50000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'closed'),
         (seq % 100000) / 7, '2024-01-01 00:00:00' + INTERVAL seq SECOND, IF(seq % 3 = 0, NULL, REPEAT('n', seq % 60))
       FROM seq_1_to_${rows}`;
    const conns: mysql.Connection[] = [];
    for (const server of [source, target]) {
      const c = await server.connect();
      conns.push(c);
      await c.query('CREATE DATABASE shop');
      await c.query(ddl);
      await c.query('USE shop');
      await c.query(fill);
    }
    const [src, tgt] = conns as [mysql.Connection, mysql.Connection];
    // The target drifts: updates, deletes and an insert spread over the key space.
    const step = Math.floor(rows / (changed + 1));
    for (let i = 1; i <= changed; i++) {
      const id = i * step;
      if (i % 3 === 0) await tgt.query('DELETE FROM shop.orders WHERE id = ?', [id]);
      else await tgt.query("UPDATE shop.orders SET status = 'drifted' WHERE id = ?", [id]);
    }
    await tgt.query("INSERT INTO shop.orders VALUES (?, 1, 'extra', 1, '2024-01-01', NULL)", [rows + 10]);
    const expected = changed + 1;
    await src.query('ANALYZE TABLE shop.orders');
    await tgt.query('ANALYZE TABLE shop.orders');

    // A caught-up pipeline: its checkpoint on the target at the source's current position.
    const home = path.join(SCRATCH, 'home');
    fs.mkdirSync(home, { recursive: true });
    const catalog = new DatasourceCatalog(catalogFile(home));
    catalog.put({ name: 'vsrc', kind: 'mariadb', host: '127.0.0.1', port: SRC_PORT, user: 'root' });
    catalog.put({ name: 'vtgt', kind: 'mariadb', host: '127.0.0.1', port: TGT_PORT, user: 'root' });
    const config = parsePipelineConfig({
      name: 'bench_verify',
      source: 'vsrc',
      target: 'vtgt',
      mappings: [{ source: { schema: 'shop', table: 'orders' } }],
    });
    await claimCheckpoint(tgt, config.name, () => readServerBinlogState(src));

    // 1. Otterflow verification
    installRuntime();
    const native = await NativeConnection.connect({ address: temporalAddress(s) });
    const connection = await Connection.connect({ address: temporalAddress(s) });
    const client = new Client({ connection, namespace: s.namespace });
    const taskQueue = `bench-verify-${process.pid}`;
    const worker = await createWorker(native, { namespace: s.namespace, taskQueue, home });
    const id = `bench_verify.verify-${Date.now()}`;
    // The worker polls before the clock starts: a verification runs on a worker that is already up.
    const running = worker.run();
    await client.workflow
      .execute('stackCheckWorkflow', { taskQueue, workflowId: `warm-${id}`, args: [[]] })
      .catch(() => {});
    const cpuNode0 = process.cpuUsage();
    const ours = await timed(
      source.pid,
      () =>
        client.workflow.execute('verificationWorkflow', {
          taskQueue,
          workflowId: verificationWorkflowId(id),
          args: [{ id, config, parallelism }],
        }) as Promise<VerificationStatus>,
    );
    const nodeCpu = process.cpuUsage(cpuNode0);
    worker.shutdown();
    await running;
    const report = await readReport(tgt, id);
    const [phaseRows] = await tgt.query<mysql.RowDataPacket[]>(
      `SELECT UNIX_TIMESTAMP(v.started_at) AS started, UNIX_TIMESTAMP(MIN(c.done_at)) AS first,
              UNIX_TIMESTAMP(MAX(c.done_at)) AS last, UNIX_TIMESTAMP(v.finished_at) AS finished
         FROM otterflow.verifications v JOIN otterflow.verification_chunks c USING (verification_id)
        WHERE v.verification_id = ? GROUP BY v.verification_id`,
      [id],
    );
    const ph = (phaseRows[0] ?? {}) as Record<string, unknown>;
    const phases = {
      startToFirstChunkSeconds: Number((Number(ph.first) - Number(ph.started)).toFixed(2)),
      firstToLastChunkSeconds: Number((Number(ph.last) - Number(ph.first)).toFixed(2)),
      lastChunkToEndSeconds: Number((Number(ph.finished) - Number(ph.last)).toFixed(2)),
    };
    await connection.close();
    await native.close();

    // 2. pt-table-sync --dry-run, 3. --print
    const pt = (mode: string) =>
      timed(source.pid, () =>
        spawnSync('pt-table-sync', [mode, '--tables', 'shop.orders', dsn(SRC_PORT), dsn(TGT_PORT)], {
          encoding: 'utf8',
          maxBuffer: 1 << 28,
        }),
      );
    const dry = await pt('--dry-run');
    const print = await pt('--print');
    const ptStatements = print.result.stdout
      .split('\n')
      .filter((l) => /^(INSERT|UPDATE|DELETE|REPLACE)/.test(l)).length;

    // 4. dump both sides in key order and diff
    const dumpCmd = (port: number, file: string) =>
      `mariadb-dump -h127.0.0.1 -P${port} -uroot --single-transaction --quick --order-by-primary --skip-extended-insert --compact --no-create-info shop orders > ${file}`;
    const a = path.join(SCRATCH, 'a.sql');
    const b = path.join(SCRATCH, 'b.sql');
    const dumpDiff = await timed(source.pid, () => {
      execSync(`bash -c '${dumpCmd(SRC_PORT, a)} & ${dumpCmd(TGT_PORT, b)} & wait'`);
      return spawnSync('diff', [a, b], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
    });
    const dumpDiffLines = dumpDiff.result.split('\n').filter((l) => /^[<>]/.test(l)).length;
    fs.rmSync(a, { force: true });
    fs.rmSync(b, { force: true });
    for (const c of conns) await c.end();

    const rate = (sec: number) => Math.round(rows / sec);
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'verify',
          rows,
          changedOnTarget: expected,
          parallelism,
          otterflow: {
            seconds: ours.seconds,
            rowsPerSecond: rate(ours.seconds),
            sourceCpuSeconds: ours.sourceCpu,
            workerCpuSeconds: Number(((nodeCpu.user + nodeCpu.system) / 1e6).toFixed(2)),
            chunks: report?.chunksTotal,
            phases,
            differencesFound: report?.differences,
            state: ours.result.state,
          },
          ptTableSyncDryRun: {
            seconds: dry.seconds,
            rowsPerSecond: rate(dry.seconds),
            sourceCpuSeconds: dry.sourceCpu,
            exit: dry.result.status,
          },
          ptTableSyncPrint: {
            seconds: print.seconds,
            rowsPerSecond: rate(print.seconds),
            sourceCpuSeconds: print.sourceCpu,
            statementsPrinted: ptStatements,
          },
          dumpAndDiff: {
            seconds: dumpDiff.seconds,
            rowsPerSecond: rate(dumpDiff.seconds),
            sourceCpuSeconds: dumpDiff.sourceCpu,
            diffLines: dumpDiffLines,
          },
          speedup: {
            vsPtTableSyncDryRun: Number((dry.seconds / ours.seconds).toFixed(2)),
            vsPtTableSyncPrint: Number((print.seconds / ours.seconds).toFixed(2)),
            vsDumpAndDiff: Number((dumpDiff.seconds / ours.seconds).toFixed(2)),
          },
          cores: os.cpus().length,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    // --keep: leave the servers running (for looking into them); the next run wipes them.
    if (!process.argv.includes('--keep'))
      for (const server of servers) {
        const rec = instanceRecord(server.spec);
        if (rec) await stopProcess(rec);
      }
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
