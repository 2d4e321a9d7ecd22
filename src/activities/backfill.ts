import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type mysql from 'mysql2/promise';
import {
  chunksFromBoundaries,
  findBoundaries,
  integerRangeBoundaries,
  rowsPerChunk,
} from '../backfill/chunk-plan';
import type {
  CopyChunksInput,
  CopyChunksResult,
  DeferredIndexTable,
  IndexDeferralInput,
  IndexDeferralResult,
  IndexRebuildProgress,
  IndexRestoreInput,
  PlanInput,
  PlanResult,
  ResyncRequestInput,
  ResyncRequestProgress,
} from '../backfill/contract';
import { ChunkCopier } from '../backfill/copy';
import {
  deferSecondaryIndexes,
  restoreSecondaryIndexes,
  statementProgress,
} from '../backfill/deferred-indexes';
import { stringifyKey } from '../backfill/keys';
import {
  cancelResyncRequests,
  chunkRangesBySourceTable,
  ensureBackfillTables,
  insertResyncRequests,
  pendingChunkNumbers,
  readPlan,
  resyncRequestsOf,
  storePlan,
  type TableChunks,
} from '../backfill/progress-store';
import { listSourceTables, openSourceReader, readSourceTable } from '../backfill/source-table';
import { RateLimit } from '../backfill/throttle';
import { InvalidWhereError, validateWhere } from '../backfill/where-check';
import { readServerBinlogState } from '../binlog/replica/server-state';
import { DatasourceResolutionError, type DatasourceResolver } from '../catalog/resolver';
import type { ResolvedDatasource } from '../config/datasources';
import { claimCheckpoint, readCheckpoint } from '../connectors/mysql/checkpoint';
import { openMysql } from '../connectors/mysql/connection';
import type { PipelineConfig } from '../pipeline/config';
import { compileMapper, type Mapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import { loadTransforms } from '../pipeline/transform-loader';

/**
 * Backfill activities (src/workflows/backfill.ts): thin shells around src/backfill that resolve
 * datasources on the worker, heartbeat, and turn cancellation into an abort.
 */
export function makeBackfillActivities(catalog: DatasourceResolver, transformsDir: string) {
  const resolve = async (
    config: PipelineConfig,
  ): Promise<{ source: ResolvedDatasource; target: ResolvedDatasource }> => {
    try {
      return { source: await catalog.resolve(config.source), target: await catalog.resolve(config.target) };
    } catch (err) {
      if (!(err instanceof DatasourceResolutionError)) throw err; // the catalog did not answer: retried
      throw ApplicationFailure.nonRetryable(err.message, 'PipelineConfigError');
    }
  };
  const mapperOf = (config: PipelineConfig): Mapper =>
    compileMapper(config, loadTransforms(config, transformsDir));
  const pool = new CopierPool();

  /** Creates the pipeline checkpoint at the source's current position (if none) and plans the chunks. */
  async function backfillPlan(input: PlanInput): Promise<PlanResult> {
    const ctx = Context.current();
    const { source, target } = await resolve(input.config);
    const tconn = await openMysql(target);
    let sconn: mysql.Connection | undefined;
    try {
      await ensureBackfillTables(tconn);
      sconn = await openSourceReader(source);
      // The position first: every change after it reaches the target through CDC, so rows copied
      // later (newer or older than the stream) converge once CDC catches up.
      let position = await readCheckpoint(tconn, input.config.name);
      if (!position) {
        const reader = sconn;
        position = (await claimCheckpoint(tconn, input.config.name, () => readServerBinlogState(reader)))
          .position;
      }
      const known = await readPlan(tconn, input.backfillId);
      if (known) return { ...known, position };
      const mapper = mapperOf(input.config);
      const plan: TableChunks[] = [];
      let estimatedRows = 0;
      for (const ref of await listSourceTables(sconn)) {
        if (!mapper.isMapped(ref.schema, ref.table)) continue;
        const table = await readSourceTable(sconn, ref);
        estimatedRows += table.estimatedRows;
        const chunkSize = rowsPerChunk({
          requested: input.chunkSize,
          averageRowBytes: table.averageRowBytes,
          laneRowsPerSecond: input.laneRowsPerSecond,
        });
        const boundaries =
          (await integerRangeBoundaries(sconn, table, chunkSize)) ??
          (await findBoundaries(sconn, table, chunkSize, () => ctx.heartbeat({ table: tableKey(ref) })));
        plan.push({ table: ref, chunks: chunksFromBoundaries(boundaries) });
      }
      const stored = await storePlan(
        tconn,
        input.backfillId,
        input.config.name,
        plan,
        estimatedRows,
        position,
      );
      return { ...stored, position };
    } finally {
      await sconn?.end().catch(() => {});
      await tconn.end().catch(() => {});
    }
  }

  async function backfillPendingChunks(input: {
    backfillId: string;
    config: PipelineConfig;
  }): Promise<number[]> {
    const { target } = await resolve(input.config);
    const conn = await openMysql(target);
    try {
      return await pendingChunkNumbers(conn, input.backfillId);
    } finally {
      await conn.end().catch(() => {});
    }
  }

  /** Copies chunks (skipping done ones), throttled, stopping at once when cancelled. */
  async function backfillCopyChunks(input: CopyChunksInput): Promise<CopyChunksResult> {
    const ctx = Context.current();
    const controller = new AbortController();
    ctx.cancelled.catch(() => controller.abort());
    const beat = setInterval(() => ctx.heartbeat(), 2000);
    const { source, target } = await resolve(input.config);
    const copier = await pool.take(input.backfillId, () =>
      newCopier(source, target, mapperOf(input.config), input.config),
    );
    let healthy = false;
    const limit = new RateLimit(input.maxRowsPerSecond, Date.now());
    const result: CopyChunksResult = { rows: 0, written: 0, copied: 0, skipped: 0 };
    try {
      for (const chunkNo of input.chunkNos) {
        const r = await copier.copy.copy(input.backfillId, chunkNo, controller.signal);
        result.rows += r.rows;
        result.written += r.written;
        if (r.skipped) result.skipped++;
        else result.copied++;
        ctx.heartbeat({ chunkNo, rows: result.rows });
        const pause = limit.take(r.rows, Date.now());
        if (pause > 0) await ctx.sleep(pause); // throws when cancelled
      }
      healthy = true;
      return result;
    } catch (err) {
      if (controller.signal.aborted) throw new CancelledFailure('backfill chunk copy cancelled');
      throw err;
    } finally {
      clearInterval(beat);
      if (healthy) pool.give(input.backfillId, copier);
      else await copier.close();
    }
  }

  /**
   * Takes the plain secondary indexes off the plan's empty target tables (once per backfill; repeat
   * calls finish and return the same decision) and says which chunks fill each of them.
   */
  async function backfillDeferIndexes(input: IndexDeferralInput): Promise<IndexDeferralResult> {
    const { target } = await resolve(input.config);
    const mapper = mapperOf(input.config);
    const conn = await openMysql(target);
    try {
      await ensureBackfillTables(conn);
      const ranges = new Map<string, { table: TableRef; chunkRanges: [number, number][] }>();
      for (const r of await chunkRangesBySourceTable(conn, input.backfillId))
        for (const route of mapper.routes(r.table.schema, r.table.table)) {
          const key = tableKey(route.target);
          const entry = ranges.get(key) ?? { table: route.target, chunkRanges: [] };
          entry.chunkRanges.push([r.first, r.last]);
          ranges.set(key, entry);
        }
      const deferral = await deferSecondaryIndexes(
        conn,
        input.backfillId,
        input.decide ? [...ranges.values()].map((r) => r.table) : [],
      );
      const tables: DeferredIndexTable[] = deferral.tables.map((t) => ({
        table: t.target,
        chunkRanges: ranges.get(tableKey(t.target))?.chunkRanges ?? [],
        indexes: t.indexes.length,
        restored: t.restored,
      }));
      return { tables, kept: deferral.kept };
    } finally {
      await conn.end().catch(() => {});
    }
  }

  /**
   * Builds the deferred indexes of one target table (or all) back. Heartbeats every 2 s while the
   * ALTER runs, with what the server says of it (state, progress) read on a second connection, so
   * the Web UI and the API show why a rebuild takes long (e.g. waiting for a metadata lock).
   */
  async function backfillRestoreIndexes(input: IndexRestoreInput): Promise<{ restored: number }> {
    const ctx = Context.current();
    const { target } = await resolve(input.config);
    const conn = await openMysql(target);
    let monitor: Promise<mysql.Connection> | undefined;
    let last: IndexRebuildProgress | undefined;
    let polling = false;
    const beat = setInterval(() => {
      // Always beat (a slow look at the server must not time the activity out); the details lag a tick.
      ctx.heartbeat(last);
      if (polling) return;
      polling = true;
      monitor ??= openMysql(target);
      monitor
        .then((m) => statementProgress(m, conn.threadId))
        .then(
          (progress) => {
            last = progress;
          },
          () => {},
        )
        .finally(() => {
          polling = false;
        });
    }, 2000);
    try {
      return await restoreSecondaryIndexes(conn, input.backfillId, input.table);
    } finally {
      clearInterval(beat);
      await conn.end().catch(() => {});
      if (monitor) await monitor.then((m) => m.end()).catch(() => {});
    }
  }

  /** Validates and stores re-sync requests for the pipeline's replicator to pick up. */
  async function backfillRequestResync(input: ResyncRequestInput): Promise<{ estimatedRows: number }> {
    const { source, target } = await resolve(input.config);
    const sconn = await openSourceReader(source);
    const tconn = await openMysql(target);
    try {
      await ensureBackfillTables(tconn);
      const mapper = mapperOf(input.config);
      let total = 0;
      const requests = [];
      for (const [seq, ref] of input.tables.entries()) {
        if (!mapper.isMapped(ref.schema, ref.table))
          throw ApplicationFailure.nonRetryable(
            `${tableKey(ref)} is not mapped by pipeline ${input.config.name}`,
          );
        const table = await readSourceTable(sconn, ref).catch((err: Error) => {
          throw ApplicationFailure.nonRetryable(err.message);
        });
        if (table.keyColumns.length === 0)
          throw ApplicationFailure.nonRetryable(
            `${tableKey(ref)} has no primary or NOT NULL unique key to page by`,
          );
        let estimate = table.estimatedRows;
        if (input.where !== undefined) {
          estimate = await validateWhere(sconn, ref, input.where).catch((err: unknown) => {
            if (err instanceof InvalidWhereError)
              throw ApplicationFailure.nonRetryable(err.message, 'InvalidWhere');
            throw err;
          });
        }
        if (input.keys) estimate = input.keys.length;
        total += estimate;
        requests.push({
          requestId: `${input.backfillId}#${seq}`,
          backfillId: input.backfillId,
          pipeline: input.config.name,
          seq,
          table: ref,
          ...(input.where !== undefined ? { where: input.where } : {}),
          ...(input.keys
            ? { keysJson: JSON.stringify(input.keys.map((k) => JSON.parse(stringifyKey(k)))) }
            : {}),
          chunkSize: input.chunkSize,
          ...(input.maxRowsPerSecond ? { maxRowsPerSecond: input.maxRowsPerSecond } : {}),
          estimatedRows: estimate,
        });
      }
      await insertResyncRequests(tconn, requests);
      return { estimatedRows: total };
    } finally {
      await sconn.end().catch(() => {});
      await tconn.end().catch(() => {});
    }
  }

  async function backfillResyncProgress(input: {
    backfillId: string;
    config: PipelineConfig;
  }): Promise<ResyncRequestProgress[]> {
    const { target } = await resolve(input.config);
    const conn = await openMysql(target);
    try {
      return (await resyncRequestsOf(conn, input.backfillId)).map((r) => ({
        requestId: r.requestId,
        table: tableKey(r.table),
        status: r.status,
        rowsCopied: r.rowsCopied,
        rowsSkipped: r.rowsSkipped,
        chunksDone: r.chunksDone,
        estimatedRows: r.estimatedRows,
        ...(r.error ? { error: r.error } : {}),
      }));
    } finally {
      await conn.end().catch(() => {});
    }
  }

  async function backfillCancelResync(input: { backfillId: string; config: PipelineConfig }): Promise<void> {
    const { target } = await resolve(input.config);
    const conn = await openMysql(target);
    try {
      await ensureBackfillTables(conn);
      await cancelResyncRequests(conn, input.backfillId);
    } finally {
      await conn.end().catch(() => {});
    }
  }

  return {
    backfillPlan,
    backfillPendingChunks,
    backfillCopyChunks,
    backfillDeferIndexes,
    backfillRestoreIndexes,
    backfillRequestResync,
    backfillResyncProgress,
    backfillCancelResync,
  };
}

interface PooledCopier {
  copy: ChunkCopier;
  close: () => Promise<void>;
}

async function newCopier(
  source: ResolvedDatasource,
  target: ResolvedDatasource,
  mapper: Mapper,
  config: PipelineConfig,
): Promise<PooledCopier> {
  const s = await openSourceReader(source);
  const t = await openMysql(target).catch(async (err) => {
    await s.end().catch(() => {});
    throw err;
  });
  const copy = new ChunkCopier(s, t, mapper, { mappings: config.mappings });
  await copy.prepare();
  return {
    copy,
    close: async () => {
      await s.end().catch(() => {});
      await t.end().catch(() => {});
    },
  };
}

/**
 * Idle copiers (a source and a target connection each) kept per backfill between chunk activities,
 * so a chunk does not pay for two connections and the table lookups; closed after a minute idle.
 */
class CopierPool {
  private readonly idle = new Map<string, { copier: PooledCopier; timer: NodeJS.Timeout }[]>();

  async take(key: string, create: () => Promise<PooledCopier>): Promise<PooledCopier> {
    const list = this.idle.get(key);
    const hit = list?.pop();
    if (hit) {
      clearTimeout(hit.timer);
      return hit.copier;
    }
    return create();
  }

  give(key: string, copier: PooledCopier): void {
    const list = this.idle.get(key) ?? [];
    const entry = {
      copier,
      timer: setTimeout(() => {
        const at = list.indexOf(entry);
        if (at >= 0) list.splice(at, 1);
        void copier.close();
      }, 60_000),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }
}
