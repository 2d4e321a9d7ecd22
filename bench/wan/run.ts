/**
 * WAN lag benchmark (`node --import tsx bench/wan/run.ts`): the source is reached through a TCP proxy
 * on loopback that adds a round-trip time and caps the bandwidth (bench/wan/proxy.ts), as a source
 * in another data centre would be; the consumer sits next to the target. At each steady write rate,
 * lag p50/p99 (visible on the consumer − written on the source, bench/replicate/lag.ts) is measured
 * for a native MariaDB replica and for Otterflow's pipeline (the data plane, replicate(), as in
 * bench/replicate (c)), both behind the same proxy, in one run. Prints ONE JSON document.
 *
 * Private servers on ports 24851 (source), 24852 (Otterflow target), 24853 (native replica), the
 * proxy on 24854; all started here and stopped at the end.
 *
 * Environment: BENCH_WAN_RTT_MS (default 100), BENCH_WAN_MBITS (bandwidth per direction, default 20),
 * BENCH_WAN_RATES (rows/s, default `2000,5000`), BENCH_LAG_SECONDS (per measurement, default 30),
 * BENCH_BATCH_SIZE / BENCH_MAX_BATCH_DELAY_MS (pipeline options), BENCH_CPU_PROFILE_DIR (a
 * .cpuprofile of each of our runs).
 */
import { type ChildProcess, fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { type BenchServer, startBenchServer, stopBenchServer } from '../lib/instances';
import { CpuMeter, percentile, pollUntil, round } from '../lib/measure';
import { LAG_TABLE, lagTableDdl, measureLag } from '../replicate/lag';
import { followSource } from '../replicate/native';
import { runOurs } from '../replicate/ours';
import { masterPosition, SCHEMA } from '../replicate/workloads';

const RTT_MS = Number(process.env.BENCH_WAN_RTT_MS ?? 100);
const MBITS = Number(process.env.BENCH_WAN_MBITS ?? 20);
const RATES = (process.env.BENCH_WAN_RATES ?? '2000,5000').split(',').map(Number);
const LAG_SECONDS = Number(process.env.BENCH_LAG_SECONDS ?? 30);
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE_DIR;
const TIMEOUT_MS = 600_000;
const PROXY_PORT = 24854;
/** Otter's published cross-region figure: 5,000 tps at about 10 s of delay. */
const OTTER_DELAY_MS = 10_000;

function log(line: string): void {
  process.stderr.write(`[bench:wan] ${line}\n`);
}

function pipelineOptions(): Record<string, number> {
  const o: Record<string, number> = {};
  if (process.env.BENCH_BATCH_SIZE) o.batchSize = Number(process.env.BENCH_BATCH_SIZE);
  if (process.env.BENCH_MAX_BATCH_DELAY_MS) o.maxBatchDelayMs = Number(process.env.BENCH_MAX_BATCH_DELAY_MS);
  return o;
}

/** Starts bench/wan/proxy.ts as a child process in front of `upstream`. */
async function startProxy(upstream: BenchServer): Promise<ChildProcess> {
  const options = {
    listenPort: PROXY_PORT,
    upstreamHost: upstream.spec.host,
    upstreamPort: upstream.spec.port,
    latencyMs: RTT_MS / 2,
    bytesPerSecond: (MBITS * 1_000_000) / 8,
  };
  const child = fork(path.join(__dirname, 'proxy.ts'), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the WAN proxy exited (${code}) before it listened`)));
    child.stdout?.on('data', (d: Buffer) => {
      if (String(d).startsWith('ready')) resolve();
    });
  });
  return child;
}

/**
 * Writes one row and waits until the consumer shows it: the consumer has connected across the link
 * (several round trips) and caught up, so the measurement that follows sees the steady state only.
 */
async function warmUp(writer: mysql.Connection, consumer: mysql.Connection, id: number): Promise<number> {
  await writer.query(`INSERT INTO \`${SCHEMA}\`.\`${LAG_TABLE}\` VALUES (?, ?, 'warm-up')`, [id, Date.now()]);
  await pollUntil(
    `row ${id} on the consumer`,
    async () => {
      const [rows] = await consumer.query<mysql.RowDataPacket[]>(
        `/*bench*/ SELECT 1 FROM \`${SCHEMA}\`.\`${LAG_TABLE}\` WHERE id = ?`,
        [id],
      );
      return rows.length > 0;
    },
    10,
    60_000,
  );
  return id + 1;
}

type Counters = {
  toUpstream: { bytes: number; chunks: number };
  fromUpstream: { bytes: number; chunks: number };
};

/** The proxy's traffic counters (bench/wan/proxy.ts answers any IPC message with them). */
function proxyCounters(proxy: ChildProcess): Promise<Counters> {
  return new Promise((resolve) => {
    proxy.once('message', (m) => resolve(m as Counters));
    proxy.send('counters');
  });
}

/** Traffic between two counter readings, per second of `seconds`. */
function traffic(before: Counters, after: Counters, seconds: number) {
  const per = (k: keyof Counters) => ({
    kbPerSecond: round((after[k].bytes - before[k].bytes) / 1024 / seconds, 1),
    chunksPerSecond: round((after[k].chunks - before[k].chunks) / seconds, 1),
  });
  return { toSource: per('toUpstream'), fromSource: per('fromUpstream') };
}

async function main(): Promise<void> {
  const started = Date.now();
  let source: BenchServer | undefined;
  let target: BenchServer | undefined;
  let replica: BenchServer | undefined;
  let proxy: ChildProcess | undefined;
  const conns: mysql.Connection[] = [];
  const out: Record<string, unknown> = {
    benchmark: 'wan',
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    link: { rttMs: RTT_MS, mbitPerSecondEachWay: MBITS, between: 'source ↔ consumer' },
    lagSecondsPerMeasurement: LAG_SECONDS,
    pipelineOptions: pipelineOptions(),
  };
  try {
    log('starting private servers on 24851 (source), 24852 (Otterflow target), 24853 (native replica)');
    source = await startBenchServer('wan-source', 24851, 2851);
    target = await startBenchServer('wan-target', 24852, 2852);
    replica = await startBenchServer('wan-replica', 24853, 2853);
    proxy = await startProxy(source);
    log(`WAN proxy on ${PROXY_PORT}: ${RTT_MS} ms RTT, ${MBITS} Mbit/s each way`);
    const writer = await source.connect();
    const tgt = await target.connect();
    const rep = await replica.connect();
    conns.push(writer, tgt, rep);
    const [ver] = await writer.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    (out.machine as Record<string, unknown>).mariadb = ver[0]?.v;
    for (const c of [writer, tgt, rep]) {
      await c.query(`CREATE DATABASE IF NOT EXISTS \`${SCHEMA}\``);
      await c.query(lagTableDdl);
    }
    // The consumers reach the source only through the proxy.
    const srcDs: ResolvedDatasource = {
      name: 'wan-source',
      kind: 'mariadb',
      host: '127.0.0.1',
      port: PROXY_PORT,
      user: 'root',
      password: '',
    };
    const tgtDs: ResolvedDatasource = { ...srcDs, name: 'wan-target', port: target.spec.port };
    const cpu = new CpuMeter({
      bench: process.pid,
      proxy: proxy.pid ?? 0,
      source: source.pid,
      target: target.pid,
      replica: replica.pid,
    });

    let nextId = 1;
    const results: Record<string, unknown>[] = [];
    for (const rate of RATES) {
      log(`native replica through the proxy: ${rate} rows/s for ${LAG_SECONDS} s`);
      await followSource(rep, '127.0.0.1', PROXY_PORT, await masterPosition(writer));
      nextId = await warmUp(writer, rep, nextId);
      const nativeBefore = await proxyCounters(proxy);
      cpu.start();
      let native: Awaited<ReturnType<typeof measureLag>>;
      try {
        native = await measureLag(writer, rep, nextId, rate, LAG_SECONDS);
      } finally {
        await rep.query('STOP SLAVE');
      }
      const nativeCpu = cpu.stop();
      const nativeTraffic = traffic(nativeBefore, await proxyCounters(proxy), native.seconds);
      nextId = native.nextId;

      log(`Otterflow through the proxy: ${rate} rows/s for ${LAG_SECONDS} s`);
      const stop = new AbortController();
      const heartbeatLags: number[] = [];
      // CPU counted from the start, connection and warm-up included (the native figure excludes its
      // warm-up: a few round trips and nearly no CPU).
      cpu.start();
      const running = runOurs({
        name: `bench-wan-${rate}-${process.pid}`,
        source: srcDs,
        target: tgtDs,
        poller: tgt,
        mappings: [{ source: { schema: SCHEMA, table: LAG_TABLE } }],
        start: await masterPosition(writer),
        options: pipelineOptions(),
        timeoutMs: TIMEOUT_MS,
        stopSignal: stop.signal,
        cpuProfile: PROFILE_DIR ? path.resolve(PROFILE_DIR, `wan-${rate}.cpuprofile`) : undefined,
        onProgress: (p) => {
          if (p.lagMs !== undefined) heartbeatLags.push(p.lagMs);
        },
      });
      let ours: Awaited<ReturnType<typeof measureLag>>;
      let oursBefore: Counters | undefined;
      try {
        nextId = await warmUp(writer, tgt, nextId);
        heartbeatLags.length = 0;
        oursBefore = await proxyCounters(proxy);
        ours = await measureLag(writer, tgt, nextId, rate, LAG_SECONDS);
      } finally {
        stop.abort();
      }
      const oursTraffic = traffic(oursBefore as Counters, await proxyCounters(proxy), ours.seconds);
      const ourRun = await running;
      const oursCpu = cpu.stop();
      nextId = ours.nextId;

      const { nextId: _n, ...nativeLag } = native;
      const { nextId: _o, ...ourLag } = ours;
      const r = {
        rowsPerSecond: rate,
        native: { ...nativeLag, cpuSeconds: nativeCpu, link: nativeTraffic },
        ours: {
          ...ourLag,
          heartbeat: {
            samples: heartbeatLags.length,
            p50Ms: percentile(heartbeatLags, 0.5),
            p99Ms: percentile(heartbeatLags, 0.99),
          },
          batches: ourRun.result.batches,
          cpuSeconds: oursCpu,
          link: oursTraffic,
        },
        p99VsNative: round(ours.p99Ms / native.p99Ms, 2),
        p50VsNative: round(ours.p50Ms / native.p50Ms, 2),
      };
      log(
        `${rate} rows/s: native p50 ${native.p50Ms} ms p99 ${native.p99Ms} ms; ours p50 ${ours.p50Ms} ms p99 ${ours.p99Ms} ms`,
      );
      results.push(r);
    }
    out.rates = results;
    out.goals = Object.fromEntries(
      results.flatMap((r) => {
        const ours = r.ours as { p99Ms: number };
        const native = r.native as { p99Ms: number };
        return [
          [`p99_10xBetterThanOtter_${r.rowsPerSecond}`, ours.p99Ms <= OTTER_DELAY_MS / 10],
          [`p99_within2xNative_${r.rowsPerSecond}`, ours.p99Ms <= 2 * native.p99Ms],
        ];
      }),
    );
    out.totalSeconds = round((Date.now() - started) / 1000, 1);
  } finally {
    for (const c of conns) await c.end().catch(() => {});
    proxy?.kill();
    await Promise.all([stopBenchServer(source), stopBenchServer(target), stopBenchServer(replica)]);
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
