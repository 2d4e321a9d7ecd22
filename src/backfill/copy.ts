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
  rowsInColumnOrder,
} from '../connectors/mysql/load-data';
import type { PipelineConfig } from '../pipeline/config';
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
  private readonly plain = new Map<string, TableRef[] | undefined>();
  private loadEnabled = true;
  readonly applier: MysqlApplier;
  /** Which path the chunks took. */
  readonly stats: CopyPathStats = { loadedChunks: 0, fallbackChunks: 0, upsertedChunks: 0 };

  constructor(
    private readonly source: mysql.Connection,
    private readonly target: mysql.Connection,
    private readonly mapper: Mapper,
    private readonly options: ChunkCopierOptions = {},
  ) {
    this.loadEnabled = options.useLoadData ?? true;
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
    let mapped: MappedChange[] | undefined;
    const mappedRows = () => {
      mapped ??= this.map(table, rows);
      return mapped;
    };
    const loads = this.loadEnabled ? await this.loadPlan(table, rows, mappedRows) : undefined;
    if (loads) {
      const loaded = await this.inChunkTransaction(backfillId, chunkNo, rows.length, signal, async () => {
        let inserted = 0;
        for (const l of loads) {
          const out = await loadFile(this.target, l.target, l.columns, l.file, l.rowCount);
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
    const merger = await this.merge(mappedRows());
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
   * Tables whose every mapping is plain (no column rules, filter or transform) skip the mapper: the
   * source row arrays are encoded as they are, under the source column names.
   */
  private async loadPlan(
    table: SourceTable,
    rows: RowImage[],
    mappedRows: () => MappedChange[],
  ): Promise<TableLoad[] | undefined> {
    const plain = this.plainTargets(table);
    const loads: TableLoad[] = [];
    try {
      if (plain) {
        const names = table.schema.columns.map((c) => c.name);
        for (const target of plain) {
          const columns = await this.loadColumns(target, names);
          if (!columns) return undefined;
          loads.push({ target, columns, rowCount: rows.length, file: encodeLoadRows(columns, rows) });
        }
      } else {
        const byTable = new Map<string, { target: TableRef; rows: Row[] }>();
        for (const m of mappedRows()) {
          if (m.kind !== 'insert') return undefined;
          const key = tableKey(m.target);
          let l = byTable.get(key);
          if (!l) {
            l = { target: m.target, rows: [] };
            byTable.set(key, l);
          }
          l.rows.push(m.after);
        }
        for (const l of byTable.values()) {
          const first = l.rows[0] as Row;
          const columns = await this.loadColumns(l.target, first.keys());
          if (!columns) return undefined;
          const file = encodeLoadRows(columns, rowsInColumnOrder(columns, l.rows));
          loads.push({ target: l.target, columns, rowCount: l.rows.length, file });
        }
      }
    } catch (err) {
      if (err instanceof NotLoadableError) return undefined;
      throw err;
    }
    if (loads.some((l) => (this.fallbacks.get(tableKey(l.target)) ?? 0) >= MAX_FALLBACKS)) return undefined;
    return loads.sort((a, b) => this.mapper.weightOf(a.target) - this.mapper.weightOf(b.target));
  }

  /** The targets of a source table when every mapping of it is plain, else undefined (cached). */
  private plainTargets(table: SourceTable): TableRef[] | undefined {
    const key = tableKey(table.ref);
    if (this.plain.has(key)) return this.plain.get(key);
    const mappings = this.options.mappings;
    const routes = this.mapper.routes(table.ref.schema, table.ref.table);
    const plain =
      mappings !== undefined &&
      routes.every((r) => {
        const m = mappings[r.mapping];
        return m !== undefined && !m.columns && !m.filter && m.transform === undefined;
      });
    const targets = plain ? routes.map((r) => r.target) : undefined;
    this.plain.set(key, targets);
    return targets;
  }

  /** The load columns for a row's column set, or undefined when the target has a column type the load does not handle. */
  private async loadColumns(target: TableRef, names: Iterable<string>): Promise<LoadColumn[] | undefined> {
    const key = tableKey(target);
    let known = this.targetColumns.get(key);
    if (!known) {
      known = readLoadColumns(this.target, target).then((cols) => new Map(cols.map((c) => [c.name, c.kind])));
      this.targetColumns.set(key, known);
      known.catch(() => this.targetColumns.delete(key));
    }
    const kinds = await known;
    const columns: LoadColumn[] = [];
    for (const name of names) {
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
  rowCount: number;
  file: Buffer[];
}

export interface ChunkCopierOptions {
  /**
   * The pipeline's mappings. With them, tables whose mappings are all plain (no column rules,
   * filter or transform) are loaded without going through the mapper; without them every row is mapped.
   */
  mappings?: PipelineConfig['mappings'];
  /** False: upserts only (the path before LOAD DATA; benchmarks compare the two). Default true. */
  useLoadData?: boolean;
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
