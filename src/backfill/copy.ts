import type mysql from 'mysql2/promise';
import type { RowImage } from '../binlog/types';
import { MysqlApplier } from '../connectors/mysql/applier';
import {
  encodeLoadRows,
  type LoadColumn,
  type LoadColumnKind,
  loadFile,
  NotLoadableError,
  readLoadColumns,
} from '../connectors/mysql/load-data';
import type { Mapper } from '../pipeline/mapping/mapper';
import { BatchMerger } from '../pipeline/merge';
import { type ApplyStats, type MappedChange, type Row, type TableRef, tableKey } from '../pipeline/model';
import { markChunkDone, readChunkRow } from './progress-store';
import { readChunk, readSourceTable, type SourceTable } from './source-table';

/**
 * The copy loop of the initial load, one chunk at a time: read the chunk's rows from the source
 * (keyset range, one short READ COMMITTED SELECT), map them as inserts through the pipeline's
 * mapper, and write them on the target (LOAD DATA LOCAL, else upserts) in ONE transaction that also
 * marks the chunk done. A chunk already done is left alone.
 *
 * No Temporal imports: the backfill activities wrap it with heartbeats and cancellation.
 */
export class ChunkCopier {
  private readonly tables = new Map<string, Promise<SourceTable>>();
  private readonly keyColumns = new Map<string, readonly string[]>();
  private readonly targetColumns = new Map<string, Promise<Map<string, LoadColumnKind | undefined>>>();
  private readonly fallbacks = new Map<string, number>();
  private loadEnabled = true;
  readonly applier: MysqlApplier;
  /** Which path the chunks took. */
  readonly stats: CopyPathStats = { loadedChunks: 0, fallbackChunks: 0, upsertedChunks: 0 };

  constructor(
    private readonly source: mysql.Connection,
    private readonly target: mysql.Connection,
    private readonly mapper: Mapper,
    /** False: upserts only (the pre-LOAD DATA path; benchmarks compare the two). */
    useLoadData = true,
  ) {
    this.loadEnabled = useLoadData;
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
   *
   * The rows go in with LOAD DATA LOCAL (src/connectors/mysql/load-data.ts) when every mapped row is
   * a plain insert the load can write exactly; the load must then insert every row without a single
   * warning, else the transaction is rolled back and the chunk is written with upserts instead. LOCAL
   * loads skip a row whose key already exists (with a warning), so a collision — a row left by an
   * earlier copy outside Otterflow, a row CDC wrote, a secondary unique key — never loses or replaces
   * anything: it only sends the chunk down the upsert path. Nothing is deleted and REPLACE is never used.
   */
  async copy(backfillId: string, chunkNo: number, signal?: AbortSignal): Promise<CopyResult> {
    const chunk = await readChunkRow(this.target, backfillId, chunkNo);
    if (!chunk) throw new Error(`backfill ${backfillId} has no chunk ${chunkNo}`);
    if (chunk.status === 'done') return { ...SKIPPED };
    const table = await this.sourceTable(chunk.table);
    const rows = await readChunk(this.source, table, {
      ...(chunk.after ? { after: chunk.after } : {}),
      ...(chunk.upTo ? { upTo: chunk.upTo } : {}),
    });
    signal?.throwIfAborted();
    const mapped = this.map(table, rows);
    const loads = this.loadEnabled ? await this.loadPlan(mapped) : undefined;
    if (loads) {
      const loaded = await this.inChunkTransaction(backfillId, chunkNo, rows.length, signal, async () => {
        let inserted = 0;
        for (const l of loads) {
          const out = await loadFile(this.target, l.target, l.columns, l.file ?? [], l.rows.length);
          if (!out.clean) return undefined;
          inserted += out.inserted;
        }
        return inserted;
      }).catch((err: unknown) => {
        if (!isLoadRefused(err)) throw err;
        this.loadEnabled = false; // the server does not take LOCAL loads: upserts from now on
        return undefined;
      });
      if (loaded) {
        this.stats.loadedChunks++;
        return loaded;
      }
      for (const l of loads) this.noteFallback(l.target);
      this.stats.fallbackChunks++;
    }
    const merger = await this.merge(mapped);
    const upserted = await this.inChunkTransaction(backfillId, chunkNo, rows.length, signal, async () =>
      written((await this.applier.apply(merger.drain())).stats),
    );
    if (!upserted) throw new Error(`backfill ${backfillId} chunk ${chunkNo}: upserts did not complete`);
    this.stats.upsertedChunks++;
    return upserted;
  }

  /**
   * One target transaction for a chunk: lock its progress row, run `write` (target rows written, or
   * undefined to give up), mark the chunk done, commit. Undefined (rolled back) when `write` gave up.
   */
  private async inChunkTransaction(
    backfillId: string,
    chunkNo: number,
    rows: number,
    signal: AbortSignal | undefined,
    write: () => Promise<number | undefined>,
  ): Promise<CopyResult | undefined> {
    await this.target.query('START TRANSACTION');
    try {
      const locked = await readChunkRow(this.target, backfillId, chunkNo, true);
      if (locked?.status === 'done') {
        // Another attempt (a worker presumed dead) finished it meanwhile.
        await this.target.query('ROLLBACK');
        return { ...SKIPPED };
      }
      const n = await write();
      if (n === undefined) {
        await this.target.query('ROLLBACK');
        return undefined;
      }
      signal?.throwIfAborted();
      await markChunkDone(this.target, backfillId, chunkNo, rows);
      await this.target.query('COMMIT');
      return { rows, written: n, skipped: false };
    } catch (err) {
      await this.target.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /** Maps source rows as inserts. */
  private map(table: SourceTable, rows: RowImage[]): MappedChange[] {
    const mapped: MappedChange[] = [];
    for (const after of rows) {
      const out = this.mapper.map({ kind: 'insert', table: table.schema, after });
      for (const m of out) mapped.push(m);
    }
    return mapped;
  }

  /**
   * The loads of a chunk, one per target table in apply order, or undefined when the chunk must use
   * upserts: a transform produced something other than an insert, rows of one table differ in their
   * columns, a column type or a value the load cannot write exactly, or the table fell back before.
   * A backfill chunk holds each source key once, so no per-key merge is needed here; if a fan-out
   * still produced two rows with one target key, the load's duplicate warning sends it to upserts.
   */
  private async loadPlan(mapped: MappedChange[]): Promise<TableLoad[] | undefined> {
    const byTable = new Map<string, TableLoad>();
    for (const m of mapped) {
      if (m.kind !== 'insert') return undefined;
      const key = tableKey(m.target);
      let l = byTable.get(key);
      if (!l) {
        if ((this.fallbacks.get(key) ?? 0) >= MAX_FALLBACKS) return undefined;
        const columns = await this.loadColumns(m.target, m.after);
        if (!columns) return undefined;
        l = { target: m.target, columns, rows: [] };
        byTable.set(key, l);
      }
      if (m.after.size !== l.columns.length) return undefined;
      l.rows.push(m.after);
    }
    const loads = [...byTable.values()];
    for (const l of loads) {
      try {
        l.file = encodeLoadRows(l.columns, l.rows);
      } catch (err) {
        if (err instanceof NotLoadableError) return undefined;
        throw err;
      }
    }
    return loads.sort((a, b) => this.mapper.weightOf(a.target) - this.mapper.weightOf(b.target));
  }

  /** The load columns for a row's column set, or undefined when the target has a column type the load does not handle. */
  private async loadColumns(target: TableRef, row: Row): Promise<LoadColumn[] | undefined> {
    const key = tableKey(target);
    let known = this.targetColumns.get(key);
    if (!known) {
      known = readLoadColumns(this.target, target).then((cols) => new Map(cols.map((c) => [c.name, c.kind])));
      this.targetColumns.set(key, known);
      known.catch(() => this.targetColumns.delete(key));
    }
    const kinds = await known;
    const columns: LoadColumn[] = [];
    for (const name of row.keys()) {
      const kind = kinds.get(name);
      if (kind === undefined) return undefined;
      columns.push({ name, kind });
    }
    return columns;
  }

  private noteFallback(target: TableRef): void {
    const key = tableKey(target);
    this.fallbacks.set(key, (this.fallbacks.get(key) ?? 0) + 1);
  }

  /** Merges mapped rows per target key (the upsert path: the applier wants one operation per key). */
  private async merge(mapped: MappedChange[]): Promise<BatchMerger> {
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

/** After this many chunks of a target table fell back to upserts, its later chunks go there directly. */
const MAX_FALLBACKS = 2;

const SKIPPED: CopyResult = { rows: 0, written: 0, skipped: true };

interface TableLoad {
  target: TableRef;
  columns: LoadColumn[];
  rows: Row[];
  file?: Buffer[];
}

/** The server refuses LOCAL loads: MariaDB/MySQL 1148 (command not allowed), MySQL 8 3948/2068. */
function isLoadRefused(err: unknown): boolean {
  const errno = (err as { errno?: number }).errno;
  return errno === 1148 || errno === 3948 || errno === 2068;
}

/** How a copier's chunks were written (for benchmarks and tests). */
export interface CopyPathStats {
  /** Chunks written by LOAD DATA. */
  loadedChunks: number;
  /** Chunks whose load was rolled back (a collision, a warning) and that were upserted instead. */
  fallbackChunks: number;
  /** Chunks written by upserts, fallbacks included. */
  upsertedChunks: number;
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
