import type mysql from 'mysql2/promise';
import {
  type ChunkBounds,
  readChunk,
  readSourceTable,
  type SourceTable,
} from '../../../backfill/source-table';
import type { Mapper } from '../../../pipeline/mapping/mapper';
import { BatchMerger } from '../../../pipeline/merge';
import { type MappedChange, type TableRef, type TargetTableInfo, tableKey } from '../../../pipeline/model';
import { ChunkDataError, type CopyResult } from '../../backfill-target';
import { OracleApplier, OracleBatchRowError } from '../applier';
import type { OracleConnectionLike } from '../connection';
import type { OracleTargetSettings } from '../settings';
import type { OracleBackfillSql } from './progress-sql';
import { markOracleChunkDone, readOracleChunk } from './progress-store';

const SKIPPED: CopyResult = { rows: 0, written: 0, skipped: true };

/**
 * The initial load into Oracle, one chunk at a time: read the chunk's rows from the source (keyset
 * range, one short READ COMMITTED SELECT), map them as inserts through the pipeline's mapper, merge
 * them per target key, and write them with the Oracle applier — `executeMany` with `batchErrors`, at
 * most 65,535 rows per call, the same value mapping as replication (values.ts) — in ONE transaction
 * that first row-locks the chunk's progress row and ends by marking it done. There is no bulk path
 * (no LOAD DATA): the applier's MERGE inserts a row that is not there and overwrites one that is, so a
 * chunk copied again after a crash only rewrites the same rows.
 *
 * No Temporal imports: the backfill activities wrap it with heartbeats and cancellation.
 */
export class OracleChunkCopier {
  private readonly tables = new Map<string, Promise<SourceTable>>();
  private readonly targetInfo = new Map<string, TargetTableInfo>();
  readonly applier: OracleApplier;

  constructor(
    private readonly source: mysql.Connection,
    private readonly target: OracleConnectionLike,
    private readonly mapper: Mapper,
    private readonly sql: OracleBackfillSql,
    settings: OracleTargetSettings = {},
  ) {
    this.applier = new OracleApplier(target, settings);
  }

  /** Call once: the target session setup of the applier (date formats, time zone). */
  async prepare(): Promise<void> {
    await this.applier.prepareSession();
  }

  /**
   * Copies chunk `chunkNo` of backfill `backfillId` unless it is done. `signal` aborts before the
   * commit: the transaction is rolled back and nothing of the chunk stays. Any failure (a rejected
   * row, a lost connection) rolls back too: the chunk stays pending and is copied again on retry.
   */
  async copy(backfillId: string, chunkNo: number, signal?: AbortSignal): Promise<CopyResult> {
    const chunk = await readOracleChunk(this.target, this.sql, backfillId, chunkNo);
    if (!chunk) throw new Error(`backfill ${backfillId} has no chunk ${chunkNo}`);
    if (chunk.status === 'done') return { ...SKIPPED };
    const table = await this.sourceTable(chunk.table);
    const bounds: ChunkBounds = {
      ...(chunk.after ? { after: chunk.after } : {}),
      ...(chunk.upTo ? { upTo: chunk.upTo } : {}),
    };
    const rows = await readChunk(this.source, table, bounds);
    signal?.throwIfAborted();
    const mapped: MappedChange[] = [];
    for (const after of rows) mapped.push(...this.mapper.map({ kind: 'insert', table: table.schema, after }));
    const plan = (await this.merge(mapped)).drain();
    try {
      const locked = await readOracleChunk(this.target, this.sql, backfillId, chunkNo, true);
      if (locked?.status === 'done') {
        // Another attempt (a worker presumed dead) finished it meanwhile.
        await this.target.rollback();
        return { ...SKIPPED };
      }
      const { stats, tally } = await this.applier.apply(plan);
      signal?.throwIfAborted();
      if (!(await markOracleChunkDone(this.target, this.sql, backfillId, chunkNo, rows.length)))
        throw new Error(`backfill ${backfillId} chunk ${chunkNo}: its progress row was not pending any more`);
      await this.target.commit();
      return {
        rows: rows.length,
        written: stats.inserted + stats.updated,
        skipped: false,
        ...(tally.total ? { emptyAsNull: Object.fromEntries(tally.emptyAsNull) } : {}),
      };
    } catch (err) {
      await this.target.rollback().catch(() => {});
      // A row Oracle refuses (batchErrors: too long, NULL in NOT NULL, …) is refused again on retry.
      if (err instanceof OracleBatchRowError) throw new ChunkDataError(backfillId, chunkNo, err.failure, err);
      throw err;
    }
  }

  private sourceTable(ref: TableRef): Promise<SourceTable> {
    const key = tableKey(ref);
    let t = this.tables.get(key);
    if (!t) {
      t = readSourceTable(this.source, ref);
      this.tables.set(key, t);
      t.catch(() => this.tables.delete(key));
    }
    return t;
  }

  /** Merges mapped rows per target key (the applier wants one operation per key). */
  private async merge(mapped: MappedChange[]): Promise<BatchMerger> {
    for (const m of mapped) {
      const key = tableKey(m.target);
      if (!this.targetInfo.has(key)) this.targetInfo.set(key, await this.applier.tables.get(m.target));
    }
    const merger = new BatchMerger(
      (t) => this.targetInfo.get(tableKey(t))?.keyColumns ?? [],
      (t) => this.mapper.weightOf(t),
      (t) => this.targetInfo.get(tableKey(t))?.keyKind ?? 'primary',
    );
    merger.addAll(mapped);
    return merger;
  }
}
