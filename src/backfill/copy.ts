import type mysql from 'mysql2/promise';
import type { RowImage } from '../binlog/types';
import { MysqlApplier } from '../connectors/mysql/applier';
import type { Mapper } from '../pipeline/mapping/mapper';
import { BatchMerger } from '../pipeline/merge';
import { type ApplyStats, type MappedChange, type TableRef, tableKey } from '../pipeline/model';
import { markChunkDone, readChunkRow } from './progress-store';
import { readChunk, readSourceTable, type SourceTable } from './source-table';

/**
 * The copy loop of the initial load, one chunk at a time: read the chunk's rows from the source
 * (keyset range, one short READ COMMITTED SELECT), map them as inserts through the pipeline's
 * mapper, and upsert them on the target in ONE transaction that also marks the chunk done. A chunk
 * already done is left alone; copying a chunk twice only rewrites the same rows (upserts).
 *
 * No Temporal imports: the backfill activities wrap it with heartbeats and cancellation.
 */
export class ChunkCopier {
  private readonly tables = new Map<string, Promise<SourceTable>>();
  private readonly keyColumns = new Map<string, readonly string[]>();
  readonly applier: MysqlApplier;

  constructor(
    private readonly source: mysql.Connection,
    private readonly target: mysql.Connection,
    private readonly mapper: Mapper,
  ) {
    this.applier = new MysqlApplier(target);
  }

  /** Call once: target session setup (time zone, sql_mode, FK checks) and READ COMMITTED (no gap locks between chunks). */
  async prepare(): Promise<void> {
    await this.applier.prepareSession();
    await this.target.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
  }

  sourceTable(ref: TableRef): Promise<SourceTable> {
    const key = tableKey(ref);
    let t = this.tables.get(key);
    if (!t) {
      t = readSourceTable(this.source, ref);
      this.tables.set(key, t);
      t.catch(() => this.tables.delete(key));
    }
    return t;
  }

  /**
   * Copies chunk `chunkNo` of backfill `backfillId` unless it is done. `signal` aborts before the
   * target transaction commits (it is rolled back: nothing of the chunk stays).
   */
  async copy(backfillId: string, chunkNo: number, signal?: AbortSignal): Promise<CopyResult> {
    const chunk = await readChunkRow(this.target, backfillId, chunkNo);
    if (!chunk) throw new Error(`backfill ${backfillId} has no chunk ${chunkNo}`);
    if (chunk.status === 'done') return { rows: 0, written: 0, skipped: true };
    const table = await this.sourceTable(chunk.table);
    const rows = await readChunk(this.source, table, {
      ...(chunk.after ? { after: chunk.after } : {}),
      ...(chunk.upTo ? { upTo: chunk.upTo } : {}),
    });
    signal?.throwIfAborted();
    const merger = await this.merge(table, rows);
    await this.target.query('START TRANSACTION');
    try {
      const locked = await readChunkRow(this.target, backfillId, chunkNo, true);
      if (locked?.status === 'done') {
        // Another attempt (a worker presumed dead) finished it meanwhile.
        await this.target.query('ROLLBACK');
        return { rows: 0, written: 0, skipped: true };
      }
      const res = await this.applier.apply(merger.drain());
      signal?.throwIfAborted();
      await markChunkDone(this.target, backfillId, chunkNo, rows.length);
      await this.target.query('COMMIT');
      return { rows: rows.length, written: written(res.stats), skipped: false };
    } catch (err) {
      await this.target.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /** Maps source rows as inserts and merges them per target key. */
  private async merge(table: SourceTable, rows: RowImage[]): Promise<BatchMerger> {
    const mapped: MappedChange[] = [];
    for (const after of rows) {
      const out = this.mapper.map({ kind: 'insert', table: table.schema, after });
      for (const m of out) mapped.push(m);
    }
    for (const m of mapped) {
      const key = tableKey(m.target);
      if (!this.keyColumns.has(key)) {
        const info = await this.applier.tables.get(m.target);
        this.keyColumns.set(key, info.keyColumns);
      }
    }
    const merger = new BatchMerger(
      (t) => this.keyColumns.get(tableKey(t)) ?? [],
      (t) => this.mapper.weightOf(t),
    );
    merger.addAll(mapped);
    return merger;
  }
}

export interface CopyResult {
  /** Source rows read. */
  rows: number;
  /** Target rows written (fan-out and filters make it differ from `rows`). */
  written: number;
  /** The chunk was already done: nothing read or written. */
  skipped: boolean;
}

function written(s: ApplyStats): number {
  return s.inserted + s.updated;
}
