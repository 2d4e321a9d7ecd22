import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type mysql from 'mysql2/promise';
import { RateLimit } from '../backfill/throttle';
import { InvalidWhereError, validateWhere } from '../backfill/where-check';
import type { CellValue } from '../binlog/types';
import type { DatasourceResolver } from '../catalog/resolver';
import type { ResolvedDatasource } from '../config/datasources';
import { targetConnectorFor, verificationConnectorFor } from '../connectors/registry';
import type { TargetCapabilities, TargetConnector } from '../connectors/target';
import type { PipelineConfig } from '../pipeline/config';
import { compileMapper, type Mapper } from '../pipeline/mapping/mapper';
import { tableKey } from '../pipeline/model';
import { loadTransforms } from '../pipeline/transform-loader';
import { recordDecided, splitByConflicts } from '../verification/channel-report';
import { mysqlChannelPeer } from '../verification/channel-side';
import { type VerifySource, type VerifyTarget, verifyChunk } from '../verification/chunk-verifier';
import type {
  ChannelDirection,
  RepairInput,
  RepairResync,
  RepairStatus,
  VerifyChunkInput,
  VerifyChunkResult,
  VerifyFinishInput,
  VerifyPlanInput,
} from '../verification/contract';
import { chunksInKeyRange, keyColumnTypes, typedKeyRange } from '../verification/key-range';
import { verificationMetrics } from '../verification/metrics';
import { MysqlVerifySource, MysqlVerifyTarget } from '../verification/mysql-side';
import { type LoadedComparison, loadComparison, planChunks, targetsToVerify } from '../verification/planner';
import {
  beginVerification,
  finishVerification,
  hasPlan,
  markRepair,
  pendingChunks,
  type ReportTarget,
  readDifferences,
  readStoredChunk,
  recordChunk,
  resumeVerification,
  type StoredChunk,
  type StoredDifference,
  storeChunks,
  storeRepairStatus,
} from '../verification/report-store';
import { openSession, SessionPool, type VerifySession } from '../verification/session-pool';
import { ComparisonPlanError } from '../verification/table-plan';
import { comparedInWorker, workerSides } from '../verification/worker-sides';
import { pipelineDatasources } from './pipeline-datasources';
import { defaultTransformsDir } from './replicate';

const DEFAULT_CATCH_UP_SECONDS = 120;

/**
 * Verification activities (src/workflows/verification.ts): thin shells around src/verification that
 * resolve datasources on the worker, keep a pair of connections per verification between chunks,
 * heartbeat, and turn cancellation into an abort.
 */
export function makeVerifyActivities(
  catalog: DatasourceResolver,
  transformsDir = defaultTransformsDir,
  /** Used for every target instead of the registry's connector (tests without a real target). */
  targetConnector?: TargetConnector,
) {
  const resolve = pipelineDatasources(catalog);
  // Only transforms declared pure are applied (the plan refuses the others), so only their modules load.
  const mapperOf = (config: PipelineConfig): Mapper => {
    const mappings = config.mappings.map((m) => (m.verify === 'pure' ? m : { ...m, transform: undefined }));
    let transforms: ReturnType<typeof loadTransforms>;
    try {
      transforms = loadTransforms({ mappings }, transformsDir);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, 'PipelineConfigError');
    }
    return compileMapper({ ...config, mappings }, transforms);
  };
  const pool = new SessionPool();
  const verificationOf = (target: ResolvedDatasource) => verificationConnectorFor(target, targetConnector);
  const capabilities = new Map<string, TargetCapabilities>();
  /** Both sides of a comparison: the servers' checksum SQL when it can answer, else the worker (worker-sides.ts). */
  const comparisonSides = async (
    s: VerifySession,
    loaded: LoadedComparison,
    config: PipelineConfig,
    catchUpSeconds: number | undefined,
    signal?: AbortSignal,
    channel?: ChannelDirection,
  ): Promise<{ source: VerifySource; target: VerifyTarget; peer?: ReturnType<typeof mysqlChannelPeer> }> => {
    let caps = capabilities.get(config.target);
    if (!caps) {
      const { target } = await resolve(config);
      caps = (targetConnector ?? targetConnectorFor(target)).capabilities;
      capabilities.set(config.target, caps);
    }
    if (!comparedInWorker(loaded, caps))
      return sidesOf(s, loaded, config.name, catchUpSeconds, signal, channel);
    // The channel re-compare reads the peer with the servers' checksums: it cannot pair with row hashes.
    if (channel)
      throw ApplicationFailure.nonRetryable(
        `${tableKey(loaded.comparison.target.ref)}: a channel pipeline whose mapping needs the comparison in the worker (a transform) cannot be verified as a channel direction`,
        'ComparisonPlan',
      );
    // The verification's own target session reads the rows when it can (one connection per lane).
    const rows = s.target.verifyRows
      ? {
          dialect: s.target.dialect,
          verifyRows: s.target.verifyRows,
          checkpoint: { read: () => s.target.appliedPosition() },
        }
      : await s.targetSession(config.name);
    return workerSides(s.source, rows, loaded, mapperOf(config), {
      pipeline: config.name,
      timeoutMs: (catchUpSeconds ?? DEFAULT_CATCH_UP_SECONDS) * 1000,
      ...(signal ? { signal } : {}),
    });
  };
  const session = (config: PipelineConfig, id: string) =>
    pool.take(id, async () => {
      const ds = await resolve(config);
      return openSession(ds, config.name, verificationOf(ds.target));
    });

  async function verifyPlan(input: VerifyPlanInput): Promise<{ chunks: number; tables: number }> {
    const ctx = Context.current();
    const s = await session(input.config, input.verificationId);
    let healthy = false;
    try {
      await beginVerification(s.target, input.verificationId, input.config.name, {
        tables: input.tables?.map(tableKey),
        where: input.where,
        ...(input.keyRange ? { keyRange: input.keyRange } : {}),
      });
      if (!(await hasPlan(s.target, input.verificationId))) {
        const mapper = mapperOf(input.config);
        const groups = await targetsToVerify(s.source, mapper, input.tables);
        const chunks: Omit<StoredChunk, 'chunkNo' | 'done'>[] = [];
        for (const g of groups) {
          const loaded = await loadComparison(s.source, s.target, input.config, mapper, g.target, g.sources);
          if (input.where !== undefined)
            for (const src of g.sources) await validateWhere(s.source, src, input.where);
          const planned = await planChunks(s.source, s.target, loaded, {
            ...(input.chunkSize ? { chunkSize: input.chunkSize } : {}),
            ...(input.laneRowsPerSecond ? { laneRowsPerSecond: input.laneRowsPerSecond } : {}),
            onStep: () => ctx.heartbeat(),
          });
          for (const c of chunksInKeyRange(planned, loaded.comparison.target, input.keyRange))
            chunks.push({
              table: g.target,
              sources: g.sources,
              keyColumns: loaded.comparison.target.keyColumns,
              ...(c.after ? { after: c.after } : {}),
              ...(c.upTo ? { upTo: c.upTo } : {}),
            });
        }
        await storeChunks(s.target, input.verificationId, chunks);
      } else await resumeVerification(s.target, input.verificationId);
      const { total } = await pendingChunks(s.target, input.verificationId);
      healthy = true;
      return { chunks: total, tables: 0 };
    } catch (err) {
      if (err instanceof ComparisonPlanError)
        throw ApplicationFailure.nonRetryable(err.message, 'ComparisonPlan');
      if (err instanceof InvalidWhereError)
        throw ApplicationFailure.nonRetryable(err.message, 'InvalidWhere');
      throw err;
    } finally {
      await pool.give(input.verificationId, s, healthy);
    }
  }

  async function verifyPendingChunks(input: {
    verificationId: string;
    config: PipelineConfig;
  }): Promise<number[]> {
    const s = await session(input.config, input.verificationId);
    let healthy = false;
    try {
      const r = await pendingChunks(s.target, input.verificationId);
      healthy = true;
      return r.pending;
    } finally {
      await pool.give(input.verificationId, s, healthy);
    }
  }

  /**
   * Compares chunks one after the other (online: in-flight changes are compared again), each recorded
   * with its differences as soon as it is done; throttled; stops at once when cancelled.
   */
  async function verifyCompareChunks(input: VerifyChunkInput): Promise<VerifyChunkResult[]> {
    const ctx = Context.current();
    const controller = new AbortController();
    ctx.cancelled.catch(() => controller.abort());
    const beat = setInterval(() => ctx.heartbeat(), 2000);
    const s = await session(input.config, input.verificationId);
    const limit = new RateLimit(input.maxRowsPerSecond, Date.now());
    const pipeline = input.config.name;
    const out: VerifyChunkResult[] = [];
    let healthy = false;
    try {
      const where = await s.where(input.verificationId);
      const firstLook = { buckets: false };
      for (const chunkNo of input.chunkNos) {
        const chunk = await readStoredChunk(s.target, input.verificationId, chunkNo);
        if (!chunk) throw ApplicationFailure.nonRetryable(`chunk ${chunkNo} is not in the plan`);
        const table = tableKey(chunk.table);
        if (chunk.done) {
          out.push({ chunkNo, table, rowsSource: 0, rowsTarget: 0, differences: 0, skipped: true });
          continue;
        }
        const loaded = await s.comparison(chunk, () => mapperOf(input.config), input.config);
        const sides = await comparisonSides(
          s,
          loaded,
          input.config,
          input.catchUpSeconds,
          controller.signal,
          input.channel,
        );
        const keyRange = input.keyRange
          ? typedKeyRange(
              input.keyRange,
              keyColumnTypes(loaded.comparison.target).map((k) => k.dataType),
            )
          : undefined;
        const outcome = await verifyChunk(
          sides.source,
          sides.target,
          {
            ...(chunk.after ? { after: chunk.after } : {}),
            ...(chunk.upTo ? { upTo: chunk.upTo } : {}),
            ...(keyRange ? { keyRange } : {}),
          },
          {
            columns: loaded.comparison.target.columns.map((c) => c.name),
            firstLook,
            ...(where ? { where } : {}),
            ...(sides.peer ? { peer: sides.peer } : {}),
          },
        );
        if (input.channel) {
          // Keys conflict resolution decided are kept apart from the differences (never repaired).
          const split = await splitByConflicts(
            s.source,
            checksumConnectionOf(s),
            loaded.comparison,
            { pipeline, peer: input.channel.peer },
            outcome.differences,
          );
          await recordDecided(checksumConnectionOf(s), input.verificationId, chunk, split.decided);
          outcome.differences = split.real;
          verificationMetrics.decidedByPolicy.inc({ pipeline }, split.decided.length);
        }
        await recordChunk(s.target, input.verificationId, chunk, outcome, outcome.differences);
        verificationMetrics.rowsCompared.inc({ pipeline }, outcome.rowsSource);
        verificationMetrics.chunks.inc({
          pipeline,
          outcome: outcome.differences.length ? 'differing' : 'equal',
        });
        for (const d of outcome.differences) verificationMetrics.differences.inc({ pipeline, kind: d.kind });
        out.push({
          chunkNo,
          table,
          rowsSource: outcome.rowsSource,
          rowsTarget: outcome.rowsTarget,
          differences: outcome.differences.length,
          skipped: false,
        });
        ctx.heartbeat({ chunkNo });
        const pause = limit.take(outcome.rowsSource, Date.now());
        if (pause > 0) await ctx.sleep(pause); // throws when cancelled
      }
      healthy = true;
      return out;
    } catch (err) {
      if (controller.signal.aborted) throw new CancelledFailure('verification cancelled');
      if (err instanceof ComparisonPlanError)
        throw ApplicationFailure.nonRetryable(err.message, 'ComparisonPlan');
      throw err;
    } finally {
      clearInterval(beat);
      await pool.give(input.verificationId, s, healthy);
    }
  }

  async function verifyFinish(input: VerifyFinishInput): Promise<void> {
    const { target } = await resolve(input.config);
    const t = await verificationOf(target).open(target, input.config.name);
    try {
      await finishVerification(t, input.verificationId, input.state, input.error);
    } finally {
      await t.close();
      await pool.drop(input.verificationId);
    }
  }

  /**
   * First step of a repair: rows only on the target (`extra`) that the source still lacks, once the
   * pipeline has applied what the source showed, are deleted on the target; the keys of `missing` and
   * `different` rows are returned per source table, in source key order, for re-syncs.
   */
  async function verifyRepairPrepare(input: RepairInput): Promise<RepairResync[]> {
    const s = await session(input.config, input.verificationId);
    let healthy = false;
    try {
      const all = await allDifferences(s.target, input.verificationId);
      const mapper = mapperOf(input.config);
      const byChunk = groupByChunk(all);
      const resyncs = new Map<string, RepairResync>();
      for (const [chunkNo, diffs] of byChunk) {
        const chunk = (await readStoredChunk(s.target, input.verificationId, chunkNo)) as StoredChunk;
        const loaded = await s.comparison(chunk, () => mapper, input.config);
        const sides = await comparisonSides(s, loaded, input.config, input.catchUpSeconds);
        const extras = diffs.filter((d) => d.kind === 'extra').map((d) => d.key);
        if (extras.length) {
          const onSource = new Set(
            (await sides.source.rowDigests({ keys: extras })).map((r) => JSON.stringify(r.key, jsonSafe)),
          );
          await sides.target.caughtUp(await sides.source.position());
          const gone = extras.filter((k) => !onSource.has(JSON.stringify(k, jsonSafe)));
          await s.target.deleteKeys(chunk.table, loaded.comparison.target.keyColumns, gone);
        }
        const resync = diffs.filter((d) => d.kind !== 'extra').map((d) => d.key);
        if (!resync.length) continue;
        loaded.comparison.sources.forEach((src, i) => {
          const st = loaded.sourceTables[i];
          if (!st) return;
          // The re-sync pages by the source table's own key: the target key must be made of the same columns.
          const at = st.keyColumns.map((c) => src.side.keyColumns.indexOf(c));
          if (at.some((j) => j < 0) || at.length !== src.side.keyColumns.length)
            throw ApplicationFailure.nonRetryable(
              `${tableKey(src.side.ref)}: its key (${st.keyColumns.join(', ')}) is not the target key of ${tableKey(chunk.table)}; repair it with a re-sync by WHERE condition`,
            );
          const k = tableKey(src.side.ref);
          const entry = resyncs.get(k) ?? { table: src.side.ref, keys: [] };
          for (const key of resync) entry.keys.push(at.map((j) => keyValueInput(key[j] as CellValue)));
          resyncs.set(k, entry);
        });
      }
      healthy = true;
      return [...resyncs.values()];
    } finally {
      await pool.give(input.verificationId, s, healthy);
    }
  }

  /** Last step of a repair: every difference compared again by key; the outcome recorded per difference. */
  async function verifyRepairCheck(
    input: RepairInput,
  ): Promise<Pick<RepairStatus, 'repaired' | 'remaining'>> {
    const s = await session(input.config, input.verificationId);
    let healthy = false;
    try {
      const all = await allDifferences(s.target, input.verificationId);
      const mapper = mapperOf(input.config);
      let repaired = 0;
      let remaining = 0;
      for (const [chunkNo, diffs] of groupByChunk(all)) {
        const chunk = (await readStoredChunk(s.target, input.verificationId, chunkNo)) as StoredChunk;
        const loaded = await s.comparison(chunk, () => mapper, input.config);
        const sides = await comparisonSides(
          s,
          loaded,
          input.config,
          input.catchUpSeconds,
          undefined,
          input.channel,
        );
        const outcome = await verifyChunk(
          sides.source,
          sides.target,
          {},
          {
            columns: loaded.comparison.target.columns.map((c) => c.name),
            keys: diffs.map((d) => d.key),
            ...(sides.peer ? { peer: sides.peer } : {}),
          },
        );
        const still = new Set(outcome.differences.map((d) => JSON.stringify(d.key, jsonSafe)));
        const outcomes = diffs.map((d) => ({
          chunkNo,
          seq: d.seq,
          repaired: !still.has(JSON.stringify(d.key, jsonSafe)),
        }));
        await markRepair(s.target, input.verificationId, outcomes);
        for (const o of outcomes)
          if (o.repaired) repaired++;
          else remaining++;
      }
      healthy = true;
      return { repaired, remaining };
    } finally {
      await pool.give(input.verificationId, s, healthy);
    }
  }

  async function verifyRepairStatus(input: RepairInput & { repair: RepairStatus }): Promise<void> {
    const s = await session(input.config, input.verificationId);
    try {
      await storeRepairStatus(s.target, input.verificationId, input.repair);
    } finally {
      await pool.give(input.verificationId, s, true);
    }
  }

  return {
    verifyPlan,
    verifyPendingChunks,
    verifyCompareChunks,
    verifyFinish,
    verifyRepairPrepare,
    verifyRepairCheck,
    verifyRepairStatus,
  };
}

function jsonSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v) <= Number.MAX_SAFE_INTEGER ? Number(v) : v.toString();
  return v;
}

/** A key value as a re-sync request takes it (KeyValueInput). */
function keyValueInput(v: CellValue): string | number | null {
  if (v === null || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  throw ApplicationFailure.nonRetryable(
    'binary key values cannot be re-synced by key; re-sync by WHERE condition',
  );
}

async function allDifferences(conn: ReportTarget, id: string): Promise<StoredDifference[]> {
  const out: StoredDifference[] = [];
  for (let offset = 0; ; offset += 10_000) {
    const page = await readDifferences(conn, id, offset, 10_000);
    out.push(...page.differences);
    if (page.differences.length < 10_000) return out;
  }
}

function groupByChunk(all: readonly StoredDifference[]): Map<number, StoredDifference[]> {
  const m = new Map<number, StoredDifference[]>();
  for (const d of all) m.set(d.chunkNo, [...(m.get(d.chunkNo) ?? []), d]);
  return m;
}

function sidesOf(
  s: VerifySession,
  loaded: LoadedComparison,
  pipeline: string,
  catchUpSeconds: number | undefined,
  signal?: AbortSignal,
  channel?: ChannelDirection,
) {
  const wait = (p: string) => ({
    pipeline: p,
    timeoutMs: (catchUpSeconds ?? DEFAULT_CATCH_UP_SECONDS) * 1000,
    ...(signal ? { signal } : {}),
  });
  const sourceSide = loaded.comparison.sources[0]?.side;
  return {
    source: new MysqlVerifySource(
      s.source,
      loaded.comparison.sources.map((c, i) => ({ comparison: c, columns: loaded.sourceColumns[i] ?? [] })),
    ),
    target: new MysqlVerifyTarget(checksumConnectionOf(s), loaded.comparison.target, {
      ...wait(pipeline),
      applied: () => s.target.appliedPosition(),
    }),
    // A channel: the re-compare treats both sites as sources (channel-recompare.ts).
    ...(channel && sourceSide
      ? { peer: mysqlChannelPeer(s.source, checksumConnectionOf(s), sourceSide, wait(channel.peer)) }
      : {}),
  };
}

/** The target's MySQL-dialect connection for the checksum SQL; other targets compare rows in the worker. */
function checksumConnectionOf(s: VerifySession): mysql.Connection {
  if (s.target.checksumConnection) return s.target.checksumConnection;
  throw ApplicationFailure.nonRetryable(
    `rows of ${s.target.dialect} targets are not compared by this build (no server-side checksums there)`,
    'ComparisonPlan',
  );
}
