import type mysql from 'mysql2/promise';
import type { IndexRebuildProgress } from '../../../backfill/contract';
import { openSourceReader } from '../../../backfill/source-table';
import type { BinlogPosition } from '../../../binlog/types';
import type { ResolvedDatasource } from '../../../config/datasources';
import type { PipelineConfig } from '../../../pipeline/config';
import type { Mapper } from '../../../pipeline/mapping/mapper';
import type { TableRef } from '../../../pipeline/model';
import type {
  BackfillConnector,
  BackfillStore,
  ChunkCopy,
  Deferral,
  NewResyncRequest,
  StoredPlan,
  TableChunks,
} from '../../backfill-target';
import type { ResyncRequest } from '../../target';
import { openMysql } from '../connection';
import { ChunkCopier } from './copy';
import { deferSecondaryIndexes, restoreSecondaryIndexes, statementProgress } from './deferred-indexes';
import {
  cancelResyncRequests,
  chunkRangesBySourceTable,
  ensureBackfillTables,
  insertResyncRequests,
  pendingChunkNumbers,
  readPlan,
  resyncRequestsOf,
  storePlan,
} from './progress-store';

/** Backfill bookkeeping in the target's `otterflow` schema, on one connection. */
class MysqlBackfillStore implements BackfillStore {
  constructor(
    private readonly target: ResolvedDatasource,
    private readonly conn: mysql.Connection,
  ) {}

  readPlan(backfillId: string): Promise<StoredPlan | undefined> {
    return readPlan(this.conn, backfillId);
  }

  storePlan(
    backfillId: string,
    pipeline: string,
    plan: TableChunks[],
    estimatedRows: number,
    position: BinlogPosition,
  ): Promise<StoredPlan> {
    return storePlan(this.conn, backfillId, pipeline, plan, estimatedRows, position);
  }

  pendingChunks(backfillId: string): Promise<number[]> {
    return pendingChunkNumbers(this.conn, backfillId);
  }

  chunkRangesBySourceTable(backfillId: string) {
    return chunkRangesBySourceTable(this.conn, backfillId);
  }

  deferSecondaryIndexes(backfillId: string, targets: readonly TableRef[]): Promise<Deferral> {
    return deferSecondaryIndexes(this.conn, backfillId, targets);
  }

  /** Reads the rebuild's progress every 2 s on a second connection (the first one runs the ALTER). */
  async restoreSecondaryIndexes(
    backfillId: string,
    table: TableRef | undefined,
    onProgress: (p: IndexRebuildProgress | undefined) => void,
  ): Promise<{ restored: number }> {
    let monitor: Promise<mysql.Connection> | undefined;
    let polling = false;
    const tick = setInterval(() => {
      if (polling) return;
      polling = true;
      monitor ??= openMysql(this.target);
      monitor
        .then((m) => statementProgress(m, this.conn.threadId))
        .then(onProgress, () => {})
        .finally(() => {
          polling = false;
        });
    }, 2000);
    try {
      return await restoreSecondaryIndexes(this.conn, backfillId, table);
    } finally {
      clearInterval(tick);
      if (monitor) await monitor.then((m) => m.end()).catch(() => {});
    }
  }

  insertResyncRequests(requests: NewResyncRequest[]): Promise<void> {
    return insertResyncRequests(this.conn, requests);
  }

  resyncRequestsOf(backfillId: string): Promise<ResyncRequest[]> {
    return resyncRequestsOf(this.conn, backfillId);
  }

  cancelResyncRequests(backfillId: string): Promise<void> {
    return cancelResyncRequests(this.conn, backfillId);
  }

  async close(): Promise<void> {
    await this.conn.end().catch(() => {});
  }
}

/** Initial loads and re-syncs into MySQL/MariaDB: LOAD DATA LOCAL where exact, upserts otherwise. */
export const mysqlBackfill: BackfillConnector = {
  deferredIndexes: true,
  async openStore(target: ResolvedDatasource): Promise<BackfillStore> {
    const conn = await openMysql(target);
    try {
      await ensureBackfillTables(conn);
    } catch (err) {
      await conn.end().catch(() => {});
      throw err;
    }
    return new MysqlBackfillStore(target, conn);
  },

  async openCopier(
    source: ResolvedDatasource,
    target: ResolvedDatasource,
    mapper: Mapper,
    config: PipelineConfig,
  ): Promise<ChunkCopy> {
    const s = await openSourceReader(source);
    const t = await openMysql(target).catch(async (err) => {
      await s.end().catch(() => {});
      throw err;
    });
    const close = async () => {
      await s.end().catch(() => {});
      await t.end().catch(() => {});
    };
    try {
      const copier = new ChunkCopier(s, t, mapper, { mappings: config.mappings });
      await copier.prepare();
      return { copy: (id, n, signal) => copier.copy(id, n, signal), close };
    } catch (err) {
      await close();
      throw err;
    }
  },
};
