import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import {
  chunksFromBoundaries,
  findBoundaries,
  integerRangeBoundaries,
  rowsPerChunk,
} from '../backfill/chunk-plan';
import {
  addEmptyAsNull,
  type CopyChunksInput,
  type CopyChunksResult,
  type DeferredIndexTable,
  type IndexDeferralInput,
  type IndexDeferralResult,
  type IndexRebuildProgress,
  type IndexRestoreInput,
  type PlanInput,
  type PlanResult,
  type ResyncRequestInput,
  type ResyncRequestProgress,
} from '../backfill/contract';
import { stringifyKey } from '../backfill/keys';
import { listSourceTables, openSourceReader, readSourceTable } from '../backfill/source-table';
import { RateLimit } from '../backfill/throttle';
import { InvalidWhereError, validateWhere } from '../backfill/where-check';
import { readServerBinlogState } from '../binlog/replica/server-state';
import type { BinlogPosition } from '../binlog/types';
import type { DatasourceResolver } from '../catalog/resolver';
import type { ResolvedDatasource } from '../config/datasources';
import {
  type BackfillConnector,
  type BackfillStore,
  type ChunkCopy,
  ChunkDataError,
  type TableChunks,
} from '../connectors/backfill-target';
import { targetConnectorFor } from '../connectors/registry';
import type { TargetConnector } from '../connectors/target';
import type { PipelineConfig } from '../pipeline/config';
import { compileMapper, type Mapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import { loadTransforms } from '../pipeline/transform-loader';
import { pipelineDatasources } from './pipeline-datasources';

/**
 * Backfill activities (src/workflows/backfill.ts): thin shells around src/backfill that resolve
 * datasources on the worker, heartbeat, and turn cancellation into an abort.
 */
export function makeBackfillActivities(
  catalog: DatasourceResolver,
  transformsDir: string,
  /** Used for every target instead of the registry's connector (tests without a real target). */
  targetConnector?: TargetConnector,
) {
  const connectorOf = (target: ResolvedDatasource): TargetConnector =>
    targetConnector ?? targetConnectorFor(target);
  const resolve = pipelineDatasources(catalog);
  const mapperOf = (config: PipelineConfig): Mapper =>
    compileMapper(config, loadTransforms(config, transformsDir));
  const pool = new CopierPool();
  /** The backfill side of the target's connector; a target without one cannot be loaded. */
  const backfillOf = (target: ResolvedDatasource): BackfillConnector => {
    let backfill: BackfillConnector | undefined;
    try {
      backfill = connectorOf(target).backfill;
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, 'PipelineConfigError');
    }
    if (!backfill)
      throw ApplicationFailure.nonRetryable(
        `datasource "${target.name}": initial loads and re-syncs into a ${target.kind} target are not available`,
        'PipelineConfigError',
      );
    return backfill;
  };
  /** Runs `work` with the target's backfill store open. */
  async function withStore<T>(
    target: ResolvedDatasource,
    work: (store: BackfillStore) => Promise<T>,
  ): Promise<T> {
    const store = await backfillOf(target).openStore(target);
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  /** Creates the pipeline checkpoint at the source's current position (if none) and plans the chunks. */
  async function backfillPlan(input: PlanInput): Promise<PlanResult> {
    const ctx = Context.current();
    const { source, target } = await resolve(input.config);
    const store = await backfillOf(target).openStore(target);
    let sconn: Awaited<ReturnType<typeof openSourceReader>> | undefined;
    try {
      sconn = await openSourceReader(source);
      // The position first: every change after it reaches the target through CDC, so rows copied
      // later (newer or older than the stream) converge once CDC catches up.
      const reader = sconn;
      const session = await connectorOf(target).open(target, { pipeline: input.config.name });
      let position: BinlogPosition;
      try {
        position =
          (await session.checkpoint.read()) ??
          (await session.checkpoint.claim(() => readServerBinlogState(reader))).position;
      } finally {
        await session.close();
      }
      const known = await store.readPlan(input.backfillId);
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
      const stored = await store.storePlan(
        input.backfillId,
        input.config.name,
        plan,
        estimatedRows,
        position,
      );
      return { ...stored, position };
    } finally {
      await sconn?.end().catch(() => {});
      await store.close();
    }
  }

  async function backfillPendingChunks(input: {
    backfillId: string;
    config: PipelineConfig;
  }): Promise<number[]> {
    const { target } = await resolve(input.config);
    return withStore(target, (store) => store.pendingChunks(input.backfillId));
  }

  /** Copies chunks (skipping done ones), throttled, stopping at once when cancelled. */
  async function backfillCopyChunks(input: CopyChunksInput): Promise<CopyChunksResult> {
    const ctx = Context.current();
    const controller = new AbortController();
    ctx.cancelled.catch(() => controller.abort());
    const beat = setInterval(() => ctx.heartbeat(), 2000);
    const { source, target } = await resolve(input.config);
    const copier = await pool.take(input.backfillId, () =>
      backfillOf(target).openCopier(source, target, mapperOf(input.config), input.config),
    );
    let healthy = false;
    const limit = new RateLimit(input.maxRowsPerSecond, Date.now());
    const result: CopyChunksResult = { rows: 0, written: 0, copied: 0, skipped: 0 };
    try {
      for (const chunkNo of input.chunkNos) {
        const r = await copier.copy(input.backfillId, chunkNo, controller.signal);
        result.rows += r.rows;
        result.written += r.written;
        if (r.emptyAsNull) result.emptyAsNull = addEmptyAsNull(result.emptyAsNull, r.emptyAsNull);
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
      if (err instanceof ChunkDataError) throw ApplicationFailure.nonRetryable(err.message, 'ChunkDataError');
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
    return withStore(target, async (store) => {
      const ranges = new Map<string, { table: TableRef; chunkRanges: [number, number][] }>();
      for (const r of await store.chunkRangesBySourceTable(input.backfillId))
        for (const route of mapper.routes(r.table.schema, r.table.table)) {
          const key = tableKey(route.target);
          const entry = ranges.get(key) ?? { table: route.target, chunkRanges: [] };
          entry.chunkRanges.push([r.first, r.last]);
          ranges.set(key, entry);
        }
      const deferral = await store.deferSecondaryIndexes(
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
    });
  }

  /**
   * Builds the deferred indexes of one target table (or all) back. Heartbeats every 2 s while the
   * ALTER runs, with what the server says of it (state, progress) read on a second connection, so
   * the Web UI and the API show why a rebuild takes long (e.g. waiting for a metadata lock).
   */
  async function backfillRestoreIndexes(input: IndexRestoreInput): Promise<{ restored: number }> {
    const ctx = Context.current();
    const { target } = await resolve(input.config);
    let last: IndexRebuildProgress | undefined;
    // Always beat (a slow look at the server must not time the activity out); the details lag a tick.
    const beat = setInterval(() => ctx.heartbeat(last), 2000);
    try {
      return await withStore(target, (store) =>
        store.restoreSecondaryIndexes(input.backfillId, input.table, (p) => {
          last = p;
        }),
      );
    } finally {
      clearInterval(beat);
    }
  }

  /** Validates and stores re-sync requests for the pipeline's replicator to pick up. */
  async function backfillRequestResync(input: ResyncRequestInput): Promise<{ estimatedRows: number }> {
    const { source, target } = await resolve(input.config);
    const sconn = await openSourceReader(source);
    const store = await backfillOf(target)
      .openStore(target)
      .catch(async (err: unknown) => {
        await sconn.end().catch(() => {});
        throw err;
      });
    try {
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
      await store.insertResyncRequests(requests);
      return { estimatedRows: total };
    } finally {
      await sconn.end().catch(() => {});
      await store.close();
    }
  }

  async function backfillResyncProgress(input: {
    backfillId: string;
    config: PipelineConfig;
  }): Promise<ResyncRequestProgress[]> {
    const { target } = await resolve(input.config);
    return withStore(target, async (store) =>
      (await store.resyncRequestsOf(input.backfillId)).map((r) => ({
        requestId: r.requestId,
        table: tableKey(r.table),
        status: r.status,
        rowsCopied: r.rowsCopied,
        rowsSkipped: r.rowsSkipped,
        chunksDone: r.chunksDone,
        estimatedRows: r.estimatedRows,
        ...(r.error ? { error: r.error } : {}),
      })),
    );
  }

  async function backfillCancelResync(input: { backfillId: string; config: PipelineConfig }): Promise<void> {
    const { target } = await resolve(input.config);
    await withStore(target, (store) => store.cancelResyncRequests(input.backfillId));
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

/**
 * Idle copiers (a source and a target connection each) kept per backfill between chunk activities,
 * so a chunk does not pay for two connections and the table lookups; closed after a minute idle.
 */
class CopierPool {
  private readonly idle = new Map<string, { copier: ChunkCopy; timer: NodeJS.Timeout }[]>();

  async take(key: string, create: () => Promise<ChunkCopy>): Promise<ChunkCopy> {
    const list = this.idle.get(key);
    const hit = list?.pop();
    if (hit) {
      clearTimeout(hit.timer);
      return hit.copier;
    }
    return create();
  }

  give(key: string, copier: ChunkCopy): void {
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
