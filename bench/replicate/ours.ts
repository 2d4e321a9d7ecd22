/**
 * Otterflow as the consumer: the data-plane `replicate()` (src/replication/replicator.ts) run
 * directly, without Temporal, from a start position until the TARGET's checkpoint reaches an end
 * position. Optional timing counters (wrapping prototype methods of the decoder, merger and applier
 * and the target's transaction statements) show where the wall time goes; an optional CPU profile is
 * written with node:inspector.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { BinlogDecoder } from '../../src/binlog/decoder';
import { openBinlogStream } from '../../src/binlog/replica/stream';
import type { BinlogPosition } from '../../src/binlog/types';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { MysqlApplier } from '../../src/connectors/mysql/applier';
import { ensureCheckpointTable } from '../../src/connectors/mysql/checkpoint';
import { type PipelineConfigInput, parsePipelineConfig } from '../../src/pipeline/config';
import { BatchMerger } from '../../src/pipeline/merge';
import type { ReplicateProgress, ReplicateResult } from '../../src/replication/contract';
import { replicate } from '../../src/replication/replicator';
import { round, sleep } from '../lib/measure';
import { reached } from './workloads';

export interface OursRunOptions {
  name: string;
  source: ResolvedDatasource;
  target: ResolvedDatasource;
  /** Connection to the target for polling the checkpoint (not the replicator's). */
  poller: mysql.Connection;
  mappings: PipelineConfigInput['mappings'];
  start: BinlogPosition;
  /** Stop once the checkpoint reaches this; undefined = run until `stopSignal` aborts. */
  end?: BinlogPosition;
  options?: PipelineConfigInput['options'];
  timeoutMs: number;
  /** Time decode/merge/apply/commit with wrapped methods (costs a few % of CPU on small events). */
  breakdown?: boolean;
  /** Write a .cpuprofile of the run here. */
  cpuProfile?: string;
  /** Write a sampled allocation profile (.heapprofile: bytes allocated by function) of the run here. */
  heapProfile?: string;
  stopSignal?: AbortSignal;
  onProgress?: (p: ReplicateProgress) => void;
}

export interface OursRunResult {
  seconds: number;
  result: ReplicateResult;
  /** Wall seconds inside each step (counters on), and this process's CPU seconds. */
  breakdown: Record<string, number>;
}

/** Per-step wall time counters, switched on for one run at a time. */
const counters = new Map<string, number>();
let counting = false;

function wrapMethod(proto: object, method: string, counter: string): void {
  const p = proto as Record<string, unknown>;
  const original = p[method] as (...a: unknown[]) => unknown;
  if ((original as { __benchWrapped?: boolean }).__benchWrapped) return;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    if (!counting) return original.apply(this, args);
    const t0 = process.hrtime.bigint();
    const out = original.apply(this, args);
    if (out instanceof Promise) {
      return out.finally(() => add(counter, t0));
    }
    add(counter, t0);
    return out;
  };
  (wrapped as { __benchWrapped?: boolean }).__benchWrapped = true;
  p[method] = wrapped;
}

function add(counter: string, t0: bigint): void {
  counters.set(counter, (counters.get(counter) ?? 0) + Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The replicator's own transaction statements on the target, told apart by their text. */
function statementKind(sql: unknown): string | undefined {
  const text = typeof sql === 'string' ? sql : (sql as { sql?: string })?.sql;
  if (typeof text !== 'string' || text.startsWith('/*bench*/')) return undefined;
  if (text === 'COMMIT') return 'commitSeconds';
  if (text === 'START TRANSACTION') return 'txnControlSeconds';
  if (text.includes('`otterflow`.checkpoints')) return 'txnControlSeconds';
  return undefined;
}

let installed = false;
function installCounters(): void {
  if (installed) return;
  installed = true;
  wrapMethod(BinlogDecoder.prototype, 'decode', 'decodeSeconds');
  wrapMethod(BatchMerger.prototype, 'addAll', 'mergeSeconds');
  wrapMethod(BatchMerger.prototype, 'drain', 'mergeSeconds');
  wrapMethod(MysqlApplier.prototype, 'apply', 'applySeconds');
  const proto = (mysql as unknown as { PromiseConnection: { prototype: Record<string, unknown> } })
    .PromiseConnection.prototype;
  const query = proto.query as (...a: unknown[]) => Promise<unknown>;
  proto.query = function (this: unknown, sql: unknown, ...rest: unknown[]) {
    const kind = counting ? statementKind(sql) : undefined;
    if (!kind) return query.call(this, sql, ...rest);
    const t0 = process.hrtime.bigint();
    return query.call(this, sql, ...rest).finally(() => add(kind, t0));
  };
}

async function readCheckpointPosition(
  conn: mysql.Connection,
  name: string,
): Promise<BinlogPosition | undefined> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    '/*bench*/ SELECT binlog_file, binlog_pos FROM otterflow.checkpoints WHERE pipeline = ?',
    [name],
  );
  const r = rows[0];
  return r ? { file: String(r.binlog_file), pos: Number(r.binlog_pos) } : undefined;
}

/**
 * Runs the replicator from `start`; the clock stops when the target's checkpoint (polled every 10 ms)
 * reaches `end`. The run is then aborted (it stops at its next event; the source heartbeat writes
 * one every second).
 */
export async function runOurs(o: OursRunOptions): Promise<OursRunResult> {
  if (o.breakdown) installCounters();
  await ensureCheckpointTable(o.poller);
  const config = parsePipelineConfig({
    name: o.name,
    source: o.source.name,
    target: o.target.name,
    mappings: o.mappings,
    start: { file: o.start.file, pos: o.start.pos },
    options: o.options ?? {},
  });
  const abort = new AbortController();
  o.stopSignal?.addEventListener('abort', () => abort.abort());
  let profiler: Session | undefined;
  if (o.cpuProfile || o.heapProfile) {
    profiler = new Session();
    profiler.connect();
  }
  if (profiler && o.cpuProfile) {
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
  }
  if (profiler && o.heapProfile) {
    await profiler.post('HeapProfiler.enable');
    // A sample every 32 KiB allocated on average; objects collected since stay in the profile.
    await profiler.post('HeapProfiler.startSampling', {
      samplingInterval: 32 * 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    } as never);
  }
  counters.clear();
  counting = o.breakdown === true;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const running = replicate({
    config,
    source: o.source,
    target: o.target,
    maxSeconds: o.timeoutMs / 1000,
    signal: abort.signal,
    worker: 'bench',
    onProgress: o.onProgress,
    progressEveryMs: 200,
  });
  let failed: unknown;
  running.catch((err) => {
    failed = err;
  });
  let seconds = 0;
  try {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      if (failed) throw failed;
      if (o.end) {
        const at = await readCheckpointPosition(o.poller, o.name);
        if (at && reached(at, o.end)) break;
      } else if (abort.signal.aborted) break;
      if (Date.now() > deadline) throw new Error(`${o.name}: the checkpoint did not reach the end in time`);
      await sleep(10);
    }
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    counting = false;
    abort.abort();
  }
  const cpu = process.cpuUsage(cpu0);
  const result = await running;
  if (profiler && o.cpuProfile) {
    const { profile } = await profiler.post('Profiler.stop');
    fs.mkdirSync(path.dirname(o.cpuProfile), { recursive: true });
    fs.writeFileSync(o.cpuProfile, JSON.stringify(profile));
  }
  if (profiler && o.heapProfile) {
    const { profile } = await profiler.post('HeapProfiler.stopSampling');
    fs.mkdirSync(path.dirname(o.heapProfile), { recursive: true });
    fs.writeFileSync(o.heapProfile, JSON.stringify(profile));
  }
  profiler?.disconnect();
  const breakdown: Record<string, number> = { nodeCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2) };
  for (const [k, v] of counters) breakdown[k] = round(v, 2);
  return { seconds, result, breakdown };
}

/**
 * The ceiling set by the source side: seconds to stream and decode the range (every row value
 * decoded) with nothing mapped or applied.
 */
export async function streamOnly(
  source: ResolvedDatasource,
  start: BinlogPosition,
  end: BinlogPosition,
): Promise<{ seconds: number; rowChanges: number }> {
  const t0 = process.hrtime.bigint();
  const stream = await openBinlogStream({
    host: source.host,
    port: source.port,
    user: source.user,
    password: source.password,
    serverId: 2_000_000_000 + (process.pid % 1_000_000),
    start,
  });
  let rowChanges = 0;
  try {
    for await (const ev of stream) {
      if (ev.event.kind === 'rows') rowChanges += ev.event.rows.length;
      if (ev.commit && reached(ev.commit, end)) break;
    }
  } finally {
    await stream.close();
  }
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, rowChanges };
}
