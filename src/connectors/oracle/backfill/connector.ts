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
import type { OracleConnectionLike } from '../connection';
import { oracleTargetSettings } from '../settings';
import { OracleChunkCopier } from './chunk-copier';
import { OracleBackfillSql } from './progress-sql';
import {
  cancelOracleResyncRequests,
  ensureOracleBackfillTables,
  insertOracleResyncRequests,
  oracleChunkRanges,
  oracleKeepsIndexes,
  oracleResyncRequestsOf,
  pendingOracleChunks,
  readOraclePlan,
  storeOraclePlan,
} from './progress-store';

/** The backfill tables of a datasource: in its checkpoint schema, spelled with its identifier case. */
export function backfillSqlOf(ds: Pick<ResolvedDatasource, 'oracle'>): OracleBackfillSql {
  const s = oracleTargetSettings(ds);
  return new OracleBackfillSql(s.checkpointSchema, s.identifierCase);
}

/** Backfill bookkeeping in an Oracle target, on one connection. */
class OracleBackfillStore implements BackfillStore {
  constructor(
    private readonly conn: OracleConnectionLike,
    private readonly sql: OracleBackfillSql,
  ) {}

  readPlan(backfillId: string): Promise<StoredPlan | undefined> {
    return readOraclePlan(this.conn, this.sql, backfillId);
  }

  storePlan(
    backfillId: string,
    pipeline: string,
    plan: TableChunks[],
    estimatedRows: number,
    position: BinlogPosition,
  ): Promise<StoredPlan> {
    return storeOraclePlan(this.conn, this.sql, backfillId, pipeline, plan, estimatedRows, position);
  }

  pendingChunks(backfillId: string): Promise<number[]> {
    return pendingOracleChunks(this.conn, this.sql, backfillId);
  }

  chunkRangesBySourceTable(backfillId: string) {
    return oracleChunkRanges(this.conn, this.sql, backfillId);
  }

  async deferSecondaryIndexes(_backfillId: string, targets: readonly TableRef[]): Promise<Deferral> {
    return oracleKeepsIndexes(targets);
  }

  async restoreSecondaryIndexes(): Promise<{ restored: number }> {
    return { restored: 0 };
  }

  insertResyncRequests(requests: NewResyncRequest[]): Promise<void> {
    return insertOracleResyncRequests(this.conn, this.sql, requests);
  }

  resyncRequestsOf(backfillId: string): Promise<ResyncRequest[]> {
    return oracleResyncRequestsOf(this.conn, this.sql, backfillId);
  }

  cancelResyncRequests(backfillId: string): Promise<void> {
    return cancelOracleResyncRequests(this.conn, this.sql, backfillId);
  }

  async close(): Promise<void> {
    await this.conn.rollback().catch(() => {});
    await this.conn.close().catch(() => {});
  }
}

/**
 * Initial loads and re-syncs into Oracle: progress in Oracle tables next to the checkpoint, chunks
 * written with the applier's executeMany (no bulk path), secondary indexes kept during the load.
 * `connect` is the driver seam of the target connector (a recording connection in tests).
 */
export class OracleBackfill implements BackfillConnector {
  readonly deferredIndexes = false;

  constructor(private readonly connect: (ds: ResolvedDatasource) => Promise<OracleConnectionLike>) {}

  async openStore(target: ResolvedDatasource): Promise<BackfillStore> {
    const conn = await this.connect(target);
    const sql = backfillSqlOf(target);
    try {
      await ensureOracleBackfillTables(conn, sql);
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    return new OracleBackfillStore(conn, sql);
  }

  async openCopier(
    source: ResolvedDatasource,
    target: ResolvedDatasource,
    mapper: Mapper,
    _config: PipelineConfig,
  ): Promise<ChunkCopy> {
    const s = await openSourceReader(source);
    const t = await this.connect(target).catch(async (err) => {
      await s.end().catch(() => {});
      throw err;
    });
    const close = async () => {
      await s.end().catch(() => {});
      await t.rollback().catch(() => {});
      await t.close().catch(() => {});
    };
    try {
      const copier = new OracleChunkCopier(s, t, mapper, backfillSqlOf(target), oracleTargetSettings(target));
      await copier.prepare();
      return { copy: (id, n, signal) => copier.copy(id, n, signal), close };
    } catch (err) {
      await close();
      throw err;
    }
  }
}
