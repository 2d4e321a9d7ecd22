/**
 * Replication benchmark (npm run bench:replicate): Otterflow's data plane against a native MariaDB
 * replica, on private servers (ports 24801–24803, data under .otterflow/scratch/bench/, stopped at
 * the end). Prints ONE JSON document.
 *
 *   (a) 900,000 row changes in 100-row transactions (60 inserts, 30 updates, 10 deletes each)
 *   (b) 100,000 single-row transactions (same 60/30/10 mix)
 *   (c) lag at a steady 5,000 rows/s: p50/p99 of (visible on the consumer − written on the source)
 *
 * Each workload is generated once on the source; every consumer then replays the same binlog range
 * from the same start to the same end: the native replica (START SLAVE until Exec_Master_Log_Pos
 * reaches the end; once single-threaded, once with slave_parallel_threads=4) and ours (replicate()
 * called directly, until the target's checkpoint reaches the end). Each consumer's table is checked
 * against the source with CHECKSUM TABLE.
 *
 * Environment: BENCH_SCALE (default 1; e.g. 0.1 for a quick run), BENCH_BATCH_SIZE /
 * BENCH_MAX_BATCH_DELAY_MS (pipeline options for ours), BENCH_LAG_SECONDS (default 40),
 * BENCH_LAG_ROWS_PER_SECOND (5000), BENCH_CPU_PROFILE_DIR (write .cpuprofile files of our runs),
 * BENCH_HEAP_PROFILE_DIR (sampled allocation profiles, .heapprofile, of our runs),
 * BENCH_BREAKDOWN=1 (wall seconds inside decode, merge, apply and commit for our runs),
 * BENCH_ONLY (comma list of a,b,c,native-lag,temporal), BENCH_PARALLEL_NATIVE=0 to skip the
 * 4-thread native runs, BENCH_DURABILITY (default `dev,durable`: the consumers' (target and native
 * replica) innodb_flush_log_at_trx_commit = 2 as in the dev stack, then 1 as in MariaDB's default;
 * (a) and (b) are measured under each). Lag (c) runs with the dev setting.
 */
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { BinlogPosition } from '../../src/binlog/types';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { type BenchServer, startBenchServer, stopBenchServer } from '../lib/instances';
import { CpuMeter, percentile, round } from '../lib/measure';
import { LAG_TABLE, lagTableDdl, measureLag } from './lag';
import { followSource, runNativeReplica } from './native';
import { runOurs, streamOnly } from './ours';
import { runThroughTemporal } from './temporal';
import {
  createAndPreload,
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
 * (no log flush per commit), `durable` = MariaDB's default 1 (a redo log flush per commit).
 */
const DURABILITY = (process.env.BENCH_DURABILITY ?? 'dev,durable').split(',');
const BREAKDOWN = process.env.BENCH_BREAKDOWN === '1';
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
    kind: 'mariadb',
    host: server.spec.host,
    port: server.spec.port,
    user: 'root',
    password: '',
  };
}

interface Figures {
  seconds: number;
  rowsPerSecond: number;
  transactionsPerSecond: number;
  cpuSeconds?: Record<string, number>;
  [k: string]: unknown;
}

function figures(seconds: number, rowChanges: number, transactions: number): Figures {
  return {
    seconds: round(seconds, 2),
    rowsPerSecond: Math.round(rowChanges / seconds),
    transactionsPerSecond: Math.round(transactions / seconds),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  let source: BenchServer | undefined;
  let target: BenchServer | undefined;
  let replica: BenchServer | undefined;
  const conns: mysql.Connection[] = [];
  const out: Record<string, unknown> = {
    benchmark: 'replicate',
    at: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    scale: SCALE,
    pipelineOptions: pipelineOptions(),
  };
  try {
    log('starting private servers on 24801 (source), 24802 (Otterflow target), 24803 (native replica)');
    // One after the other: concurrent mariadb-install-db runs collide on temporary files in /tmp.
    source = await startBenchServer('source', 24801, 2481);
    target = await startBenchServer('target', 24802, 2482);
    replica = await startBenchServer('replica', 24803, 2483);
    const src = await source.connect();
    const tgt = await target.connect();
    const rep = await replica.connect();
    const srcLoad = await source.connect();
    conns.push(src, tgt, rep, srcLoad);
    const [ver] = await src.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    (out.machine as Record<string, unknown>).mariadb = ver[0]?.v;
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
      log(`${key}: preloading ${PRELOAD} rows into ${SCHEMA}.${table} on every server`);
      await Promise.all([src, tgt, rep].map((c) => createAndPreload(c, table, PRELOAD)));
      const start = await masterPosition(src);
      const gen = await generate();
      const end = await masterPosition(src);
      const digest = await tableDigest(src, table);
      log(
        `${key}: generated ${gen.rowChanges} row changes in ${gen.seconds} s (${start.file}:${start.pos} → ${end.pos})`,
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
        await createAndPreload(rep, table, PRELOAD);
        cpu.start();
        const r = await runNativeReplica({
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
        log(
          `${key}: native replica (${threads} parallel threads): ${f.seconds} s, ${f.rowsPerSecond} rows/s`,
        );
        return f;
      };
      const ours = async (durability: string) => {
        await createAndPreload(tgt, table, PRELOAD);
        cpu.start();
        const run = await runOurs({
          name: `bench-${key}-${durability}-${process.pid}`,
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
            ? path.resolve(PROFILE_DIR, `replicate-${key}-${durability}.cpuprofile`)
            : undefined,
          heapProfile: HEAP_PROFILE_DIR
            ? path.resolve(HEAP_PROFILE_DIR, `replicate-${key}-${durability}.heapprofile`)
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
        const flush = durability === 'durable' ? 1 : 2;
        for (const c of [tgt, rep]) await c.query(`SET GLOBAL innodb_flush_log_at_trx_commit = ${flush}`);
        const r: Record<string, unknown> = { innodbFlushLogAtTrxCommit: flush };
        r.native = await native(0);
        if (PARALLEL_NATIVE) r.nativeParallel4 = await native(4);
        const f = await ours(durability);
        r.ours = f;
        r.speedupVsNative = round((r.native as Figures).seconds / f.seconds, 2);
        if (r.nativeParallel4)
          r.speedupVsNativeParallel4 = round((r.nativeParallel4 as Figures).seconds / f.seconds, 2);
        log(
          `${key} (${durability}): ours: ${f.seconds} s, ${f.rowsPerSecond} rows/s, ${r.speedupVsNative}× native`,
        );
        res[durability] = r;
      }
      for (const c of [tgt, rep]) await c.query('SET GLOBAL innodb_flush_log_at_trx_commit = 2');
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
    if (ONLY.has('native-lag')) {
      log(`native lag: ${LAG_RATE} rows/s for ${LAG_SECONDS} s`);
      const at = await masterPosition(src);
      await followSource(rep, source.spec.host, source.spec.port, at);
      try {
        const r = await measureLag(srcLoad, rep, nextId, LAG_RATE, LAG_SECONDS);
        nextId = r.nextId;
        const { nextId: _, ...lag } = r;
        out.c_lag_native = lag;
      } finally {
        await rep.query('STOP SLAVE');
      }
    }

    if (ONLY.has('c')) {
      log(`ours lag: ${LAG_RATE} rows/s for ${LAG_SECONDS} s`);
      const start = await masterPosition(src);
      const stop = new AbortController();
      const heartbeatLags: number[] = [];
      const running = runOurs({
        name: `bench-lag-${process.pid}`,
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

    if (ONLY.has('temporal') && aRange) {
      log('a through the pipeline workflow on a private Temporal dev server');
      await createAndPreload(tgt, 'a', PRELOAD);
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
    out.goals = goals(out);
  } finally {
    for (const c of conns) await c.end().catch(() => {});
    await Promise.all([stopBenchServer(source), stopBenchServer(target), stopBenchServer(replica)]);
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

/** The goals, evaluated on this run's figures. */
function goals(out: Record<string, unknown>): Record<string, unknown> {
  const speedup = (workload: string, durability: string) =>
    (
      (out[workload] as Record<string, unknown> | undefined)?.[durability] as
        | { speedupVsNative?: number }
        | undefined
    )?.speedupVsNative;
  const g: Record<string, unknown> = {};
  for (const d of DURABILITY) {
    const a = speedup('a_batched100', d);
    const b = speedup('b_singleRow', d);
    g[`a_atLeastNative_${d}`] = a === undefined ? null : a >= 1;
    g[`b_atLeast5xNative_${d}`] = b === undefined ? null : b >= 5;
  }
  const c = out.c_lag as { p99Ms?: number } | undefined;
  g.c_p99Below1s = c?.p99Ms === undefined ? null : c.p99Ms < 1000;
  return g;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
