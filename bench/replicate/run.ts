/**
 * Replication benchmark (npm run bench:replicate): Otterflow's data plane against a native replica,
 * once with MariaDB servers (ports 24801–24803) and once with MySQL 9 servers (24811–24813), all
 * private (data under .otterflow/scratch/bench/, stopped at the end). Prints ONE JSON document with
 * a section per flavour.
 *
 *   (a) 900,000 row changes in 100-row transactions (60 inserts, 30 updates, 10 deletes each)
 *   (b) 100,000 single-row transactions (same 60/30/10 mix)
 *   (c) lag at a steady 5,000 rows/s: p50/p99 of (visible on the consumer − written on the source)
 *
 * Each workload is generated once on the source; every consumer then replays the same binlog range
 * from the same start to the same end: the native replica (MariaDB: START SLAVE until
 * Exec_Master_Log_Pos reaches the end, single-threaded and slave_parallel_threads=4; MySQL: GTID
 * auto-positioning from the start's GTID set, START REPLICA UNTIL SQL_AFTER_GTIDS of the end's,
 * replica_parallel_workers=1 and 4) and ours (replicate() called directly, source → target of the
 * same flavour, until the target's checkpoint reaches the end). Each consumer's table is checked
 * against the source with CHECKSUM TABLE.
 *
 * Environment: BENCH_SOURCES (default `mariadb,mysql`), BENCH_SCALE (default 1; e.g. 0.1 for a quick run), BENCH_BATCH_SIZE /
 * BENCH_MAX_BATCH_DELAY_MS (pipeline options for ours), BENCH_LAG_SECONDS (default 40),
 * BENCH_LAG_ROWS_PER_SECOND (5000), BENCH_CPU_PROFILE_DIR (write .cpuprofile files of our runs),
 * BENCH_HEAP_PROFILE_DIR (sampled allocation profiles, .heapprofile, of our runs),
 * BENCH_BREAKDOWN=1 (wall seconds inside decode, merge, apply and commit for our runs),
 * BENCH_ONLY (comma list of a,b,c,native-lag,temporal; temporal runs on MariaDB only),
 * BENCH_PARALLEL_NATIVE=0 to skip the 4-thread native runs, BENCH_DURABILITY (default `dev,durable`:
 * the consumers' (target and native replica) innodb_flush_log_at_trx_commit = 2 as in the dev stack,
 * then 1 as in the servers' default; on MySQL also sync_binlog = 0, then MySQL's default 1 (MariaDB
 * keeps its default 0); (a) and (b) are measured under each). Lag (c) runs with the dev setting. The MySQL servers need the MySQL folder (`dev install`, as root, or OTTERFLOW_MYSQL_ROOT).
 */
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { BinlogPosition } from '../../src/binlog/types';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { type BenchServer, startBenchServer, stopBenchServer } from '../lib/instances';
import { CpuMeter, percentile, round } from '../lib/measure';
import { startBenchMysql } from '../lib/mysql-instances';
import { type Figures, figures, goals } from './figures';
import { LAG_TABLE, lagTableDdl, measureLag } from './lag';
import { followSource, runNativeReplica } from './native';
import { followMysqlSource, runMysqlReplica, stopMysqlReplica } from './native-mysql';
import { runOurs, streamOnly } from './ours';
import { runThroughTemporal } from './temporal';
import {
  createAndPreload,
  type Flavour,
  generateBatched,
  generateSingleRow,
  masterPosition,
  SCHEMA,
  tableDigest,
} from './workloads';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const PRELOAD = Math.round(100_000 * SCALE);
const A_TRANSACTIONS = Math.round(9_000 * SCALE);
const B_TRANSACTIONS = Math.round(100_000 * SCALE);
const MIX = { inserts: 60, updates: 30, deletes: 10 };
const LAG_SECONDS = Number(process.env.BENCH_LAG_SECONDS ?? 40);
const LAG_RATE = Number(process.env.BENCH_LAG_ROWS_PER_SECOND ?? 5000);
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
const HEAP_PROFILE_DIR = process.env.BENCH_HEAP_PROFILE_DIR;
const ONLY = new Set((process.env.BENCH_ONLY ?? 'a,b,c,native-lag,temporal').split(','));
const PARALLEL_NATIVE = process.env.BENCH_PARALLEL_NATIVE !== '0';
/**
 * Consumer durability settings to measure: `dev` = the dev stack's innodb_flush_log_at_trx_commit=2
 * (no log flush per commit), `durable` = the servers' default 1 (a redo log flush per commit).
 */
const DURABILITY = (process.env.BENCH_DURABILITY ?? 'dev,durable').split(',');
const BREAKDOWN = process.env.BENCH_BREAKDOWN === '1';
const SOURCES = (process.env.BENCH_SOURCES ?? 'mariadb,mysql').split(',') as Flavour[];
for (const f of SOURCES)
  if (f !== 'mariadb' && f !== 'mysql')
    throw new Error(`BENCH_SOURCES: unknown flavour "${f}" (mariadb, mysql)`);
/** Ports and server ids of each flavour's source, target and native replica. */
const SERVERS: Record<Flavour, { ports: [number, number, number]; ids: [number, number, number] }> = {
  mariadb: { ports: [24801, 24802, 24803], ids: [2481, 2482, 2483] },
  mysql: { ports: [24811, 24812, 24813], ids: [2491, 2492, 2493] },
};
const TIMEOUT_MS = 600_000;

function pipelineOptions(): Record<string, number> {
  const o: Record<string, number> = {};
  if (process.env.BENCH_BATCH_SIZE) o.batchSize = Number(process.env.BENCH_BATCH_SIZE);
  if (process.env.BENCH_MAX_BATCH_DELAY_MS) o.maxBatchDelayMs = Number(process.env.BENCH_MAX_BATCH_DELAY_MS);
  return o;
}

function log(line: string): void {
  process.stderr.write(`[bench:replicate] ${line}\n`);
}

function datasource(name: string, server: BenchServer): ResolvedDatasource {
  return {
    name,
    kind: server.flavour ?? 'mariadb',
    host: server.spec.host,
    port: server.spec.port,
    user: 'root',
    password: '',
  };
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = {
    benchmark: 'replicate',
    at: new Date().toISOString(),
    machine: {
      cpus: (await import('node:os')).cpus().length,
      node: process.version,
      loadAverage: (await import('node:os')).loadavg().map((l) => round(l, 1)),
    },
    scale: SCALE,
    pipelineOptions: pipelineOptions(),
  };
  for (const flavour of SOURCES) {
    out[flavour] = await runFlavour(flavour);
    (out.machine as Record<string, unknown>).loadAverageAtEnd = (await import('node:os'))
      .loadavg()
      .map((l) => round(l, 1));
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

/**
 * Sets the consumers' durability: `durable` = the server's defaults (a redo-log flush per commit; on
 * MySQL also a binlog fsync per commit), `dev` = neither (MariaDB's sync_binlog is 0 in both).
 */
async function setDurability(
  consumers: mysql.Connection[],
  flavour: Flavour,
  durability: string,
): Promise<{ innodbFlushLogAtTrxCommit: number; syncBinlog: number }> {
  const flush = durability === 'durable' ? 1 : 2;
  const sync = flavour === 'mysql' && durability === 'durable' ? 1 : 0;
  for (const c of consumers) {
    await c.query(`SET GLOBAL innodb_flush_log_at_trx_commit = ${flush}`);
    if (flavour === 'mysql') await c.query(`SET GLOBAL sync_binlog = ${sync}`);
  }
  return { innodbFlushLogAtTrxCommit: flush, syncBinlog: sync };
}

/** Starts one of the bench's servers of `flavour`: 0 = source, 1 = Otterflow's target, 2 = native replica. */
function startServer(flavour: Flavour, role: 'source' | 'target' | 'replica', index: 0 | 1 | 2) {
  const { ports, ids } = SERVERS[flavour];
  return flavour === 'mysql'
    ? startBenchMysql(role, ports[index], ids[index], log)
    : startBenchServer(role, ports[index], ids[index]);
}

/** The whole benchmark on servers of one flavour; returns its section of the output. */
async function runFlavour(flavour: Flavour): Promise<Record<string, unknown>> {
  const started = Date.now();
  let source: BenchServer | undefined;
  let target: BenchServer | undefined;
  let replica: BenchServer | undefined;
  const conns: mysql.Connection[] = [];
  const out: Record<string, unknown> = {};
  try {
    const [p0, p1, p2] = SERVERS[flavour].ports;
    log(
      `${flavour}: starting private servers on ${p0} (source), ${p1} (Otterflow target), ${p2} (native replica)`,
    );
    // One after the other: concurrent mariadb-install-db runs collide on temporary files in /tmp.
    source = await startServer(flavour, 'source', 0);
    target = await startServer(flavour, 'target', 1);
    replica = await startServer(flavour, 'replica', 2);
    const src = await source.connect();
    const tgt = await target.connect();
    const rep = await replica.connect();
    const srcLoad = await source.connect();
    conns.push(src, tgt, rep, srcLoad);
    const [ver] = await src.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    out.serverVersion = ver[0]?.v;
    // No binlog fsync per commit on the source, as on the MariaDB one (its default): the source's
    // speed is not measured, only its binlog is.
    if (flavour === 'mysql') await src.query('SET GLOBAL sync_binlog = 0');
    const cpu = new CpuMeter({
      bench: process.pid,
      source: source.pid,
      target: target.pid,
      replica: replica.pid,
    });
    const srcDs = datasource('bench-source', source);
    const tgtDs = datasource('bench-target', target);

    for (const c of [src, tgt, rep]) {
      await c.query(`CREATE DATABASE IF NOT EXISTS \`${SCHEMA}\``);
      await c.query(lagTableDdl);
    }

    /** One workload: generate on the source, then native (1 and 4 threads) and ours over the same range. */
    const workload = async (
      key: string,
      table: string,
      generate: () => Promise<{ rowChanges: number; seconds: number }>,
      transactions: number,
    ) => {
      log(`${flavour} ${key}: preloading ${PRELOAD} rows into ${SCHEMA}.${table} on every server`);
      await Promise.all([src, tgt, rep].map((c) => createAndPreload(c, table, PRELOAD, flavour)));
      const start = await masterPosition(src, flavour);
      const gen = await generate();
      const end = await masterPosition(src, flavour);
      const digest = await tableDigest(src, table);
      log(
        `${flavour} ${key}: generated ${gen.rowChanges} row changes in ${gen.seconds} s (${start.file}:${start.pos} → ${end.pos})`,
      );
      const res: Record<string, unknown> = {
        rowChanges: gen.rowChanges,
        transactions,
        binlogBytes: end.pos - start.pos,
        generateSeconds: gen.seconds,
      };
      const decodeOnly = await streamOnly(srcDs, start, end);
      res.streamAndDecodeOnly = {
        ...figures(decodeOnly.seconds, decodeOnly.rowChanges, transactions),
        rowChanges: decodeOnly.rowChanges,
      };
      const native = async (threads: number) => {
        await createAndPreload(rep, table, PRELOAD, flavour);
        cpu.start();
        const r: { seconds: number; warnings?: string[] } =
          flavour === 'mysql'
            ? await runMysqlReplica({
                replica: rep,
                sourceHost: source!.spec.host,
                sourcePort: source!.spec.port,
                startGtids: start.gtid ?? '',
                endGtids: end.gtid ?? '',
                workers: threads,
                timeoutMs: TIMEOUT_MS,
              })
            : await runNativeReplica({
                replica: rep,
                sourceHost: source!.spec.host,
                sourcePort: source!.spec.port,
                start,
                end,
                parallelThreads: threads,
                timeoutMs: TIMEOUT_MS,
              });
        const f = figures(r.seconds, gen.rowChanges, transactions);
        f.cpuSeconds = cpu.stop();
        f.sameRowsAsSource = (await tableDigest(rep, table)) === digest;
        if (r.warnings?.length) f.warnings = r.warnings;
        log(
          `${flavour} ${key}: native replica (${threads} parallel threads): ${f.seconds} s, ${f.rowsPerSecond} rows/s`,
        );
        return f;
      };
      const ours = async (durability: string) => {
        await createAndPreload(tgt, table, PRELOAD, flavour);
        cpu.start();
        const run = await runOurs({
          name: `bench-${flavour}-${key}-${durability}-${process.pid}`,
          source: srcDs,
          target: tgtDs,
          poller: tgt,
          mappings: [{ source: { schema: SCHEMA, table } }],
          start,
          end,
          options: pipelineOptions(),
          timeoutMs: TIMEOUT_MS,
          breakdown: BREAKDOWN,
          cpuProfile: PROFILE_DIR
            ? path.resolve(PROFILE_DIR, `replicate-${flavour}-${key}-${durability}.cpuprofile`)
            : undefined,
          heapProfile: HEAP_PROFILE_DIR
            ? path.resolve(HEAP_PROFILE_DIR, `replicate-${flavour}-${key}-${durability}.heapprofile`)
            : undefined,
        });
        const f = figures(run.seconds, gen.rowChanges, transactions);
        f.cpuSeconds = cpu.stop();
        f.sameRowsAsSource = (await tableDigest(tgt, table)) === digest;
        f.batches = run.result.batches;
        f.applied = {
          inserted: run.result.inserted,
          updated: run.result.updated,
          deleted: run.result.deleted,
          missing: run.result.missingOnUpdate + run.result.missingOnDelete,
        };
        f.breakdownSeconds = run.breakdown;
        return f;
      };
      for (const durability of DURABILITY) {
        // Both consumers get the same setting; the source keeps the dev stack's.
        const r: Record<string, unknown> = await setDurability([tgt, rep], flavour, durability);
        // Single-threaded: MariaDB's classic SQL thread (0 parallel threads), MySQL's one worker.
        r.native = await native(flavour === 'mysql' ? 1 : 0);
        if (PARALLEL_NATIVE) r.nativeParallel4 = await native(4);
        const f = await ours(durability);
        r.ours = f;
        r.speedupVsNative = round((r.native as Figures).seconds / f.seconds, 2);
        if (r.nativeParallel4)
          r.speedupVsNativeParallel4 = round((r.nativeParallel4 as Figures).seconds / f.seconds, 2);
        log(
          `${flavour} ${key} (${durability}): ours: ${f.seconds} s, ${f.rowsPerSecond} rows/s, ${r.speedupVsNative}× native`,
        );
        res[durability] = r;
      }
      await setDurability([tgt, rep], flavour, 'dev');
      return { res, start, end, digest, rowChanges: gen.rowChanges };
    };

    let aRange:
      | { start: BinlogPosition; end: BinlogPosition; digest: string; rowChanges: number }
      | undefined;
    if (ONLY.has('a')) {
      const a = await workload(
        'a',
        'a',
        () => generateBatched(srcLoad, 'a', PRELOAD, A_TRANSACTIONS, MIX),
        A_TRANSACTIONS,
      );
      out.a_batched100 = a.res;
      aRange = a;
    }
    if (ONLY.has('b')) {
      const b = await workload(
        'b',
        'b',
        () => generateSingleRow(srcLoad, 'b', PRELOAD, B_TRANSACTIONS, MIX),
        B_TRANSACTIONS,
      );
      out.b_singleRow = b.res;
    }

    let nextId = 1;
    await setDurability([tgt, rep], flavour, 'dev');
    if (ONLY.has('native-lag')) {
      log(`${flavour} native lag: ${LAG_RATE} rows/s for ${LAG_SECONDS} s`);
      const at = await masterPosition(src, flavour);
      if (flavour === 'mysql') {
        await followMysqlSource({
          replica: rep,
          sourceHost: source.spec.host,
          sourcePort: source.spec.port,
          startGtids: at.gtid ?? '',
          workers: 1,
        });
      } else {
        await followSource(rep, source.spec.host, source.spec.port, at);
      }
      try {
        const r = await measureLag(srcLoad, rep, nextId, LAG_RATE, LAG_SECONDS);
        nextId = r.nextId;
        const { nextId: _, ...lag } = r;
        out.c_lag_native = lag;
      } finally {
        if (flavour === 'mysql') await stopMysqlReplica(rep);
        else await rep.query('STOP SLAVE');
      }
    }

    if (ONLY.has('c')) {
      log(`${flavour} ours lag: ${LAG_RATE} rows/s for ${LAG_SECONDS} s`);
      const start = await masterPosition(src, flavour);
      const stop = new AbortController();
      const heartbeatLags: number[] = [];
      const running = runOurs({
        name: `bench-${flavour}-lag-${process.pid}`,
        source: srcDs,
        target: tgtDs,
        poller: tgt,
        mappings: [{ source: { schema: SCHEMA, table: LAG_TABLE } }],
        start,
        options: pipelineOptions(),
        timeoutMs: TIMEOUT_MS,
        stopSignal: stop.signal,
        onProgress: (p) => {
          if (p.lagMs !== undefined) heartbeatLags.push(p.lagMs);
        },
      });
      let r: Awaited<ReturnType<typeof measureLag>>;
      try {
        r = await measureLag(srcLoad, tgt, nextId, LAG_RATE, LAG_SECONDS);
      } finally {
        stop.abort();
      }
      const ours = await running;
      const { nextId: _, ...lag } = r;
      out.c_lag = {
        ...lag,
        heartbeat: {
          samples: heartbeatLags.length,
          p50Ms: percentile(heartbeatLags, 0.5),
          p99Ms: percentile(heartbeatLags, 0.99),
        },
        batches: ours.result.batches,
      };
    }

    if (ONLY.has('temporal') && aRange && flavour === 'mariadb') {
      log('a through the pipeline workflow on a private Temporal dev server');
      await createAndPreload(tgt, 'a', PRELOAD, flavour);
      const t = await runThroughTemporal({
        source: srcDs,
        target: tgtDs,
        poller: tgt,
        mappings: [{ source: { schema: SCHEMA, table: 'a' } }],
        start: aRange.start,
        end: aRange.end,
        options: pipelineOptions(),
        timeoutMs: TIMEOUT_MS,
        serverPids: { source: source.pid, target: target.pid },
        log,
      });
      const f = figures(t.seconds, aRange.rowChanges, A_TRANSACTIONS);
      f.sameRowsAsSource = (await tableDigest(tgt, 'a')) === aRange.digest;
      f.startupSeconds = round(t.startupSeconds, 2);
      f.cpuSeconds = t.cpuSeconds;
      const direct = (out.a_batched100 as { dev?: { ours: Figures } } | undefined)?.dev?.ours;
      out.a_throughTemporal = {
        ...f,
        ...(direct ? { overheadVsDirect: round(t.seconds / direct.seconds, 2) } : {}),
      };
    }
    out.totalSeconds = round((Date.now() - started) / 1000, 1);
    out.goals = goals(out, DURABILITY);
  } finally {
    for (const c of conns) await c.end().catch(() => {});
    await Promise.all([stopBenchServer(source), stopBenchServer(target), stopBenchServer(replica)]);
  }
  return out;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
