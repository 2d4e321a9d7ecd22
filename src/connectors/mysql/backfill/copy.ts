import type mysql from 'mysql2/promise';
import {
  type ChunkBounds,
  readChunk,
  readSourceTable,
  type SourceTable,
} from '../../../backfill/source-table';
import type { RowImage } from '../../../binlog/types';
import type { PipelineConfig } from '../../../pipeline/config';
import { compileProjection } from '../../../pipeline/mapping/columns';
import type { Mapper } from '../../../pipeline/mapping/mapper';
import { BatchMerger } from '../../../pipeline/merge';
import {
  type ApplyStats,
  type MappedChange,
  type Row,
  type TableRef,
  tableKey,
} from '../../../pipeline/model';
import { logger } from '../../../util/logger';
import { ChunkDataError, type CopyResult } from '../../backfill-target';
import { RowApplyError, type RowFailure } from '../../dialect';
import { MysqlApplier } from '../applier';
import { isMysqlDataError } from '../data-errors';
import {
  encodeLoadRows,
  type LoadColumn,
  type LoadColumnKind,
  loadFile,
  NotLoadableError,
  readColumnTypes,
  readLoadColumns,
  rowsInColumnOrder,
} from '../load-data';
import { markChunkDone, readChunkRow } from './progress-store';
import { planRawChunk, type RawChunkPlan, readRawChunk } from './raw-chunk';

export type { CopyResult };

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
  private readonly rawPlans = new Map<string, Promise<RawChunkPlan | undefined>>();
  private resultsCharset: Promise<string> | undefined;
  private loadEnabled = true;
  private readonly rawEnabled: boolean;
  readonly applier: MysqlApplier;
  /** Which path the chunks took. */
  readonly stats: CopyPathStats = { loadedChunks: 0, rawChunks: 0, fallbackChunks: 0, upsertedChunks: 0 };
  /** Why a table does not take the raw-row fast path (by source table key), for tests and logs. */
  readonly rawRefusals = new Map<string, string>();

  constructor(
    private readonly source: mysql.Connection,
    private readonly target: mysql.Connection,
    private readonly mapper: Mapper,
    private readonly options: ChunkCopierOptions = {},
  ) {
    this.loadEnabled = options.useLoadData ?? true;
    this.rawEnabled = options.rawRows ?? process.env.OTTERFLOW_BACKFILL_RAW_ROWS !== '0';
    this.applier = new MysqlApplier(target);
  }

  /** Call once: target session setup (time zone, sql_mode, FK checks) and READ COMMITTED (no gap locks between chunks). */
  async prepare(): Promise<void> {
    await this.applier.prepareSession();
    await this.target.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    if (this.loadEnabled) {
      // MySQL 8+ ships with local_infile OFF: know it before the first chunk rather than by its error.
      const [rows] = await this.target.query<mysql.RowDataPacket[]>(
        'SELECT @@GLOBAL.local_infile AS enabled',
      );
      if (Number(rows[0]?.enabled) !== 1) this.disableLoadData('local_infile is OFF on the target');
    }
  }

  /**
   * Why chunks go in as upserts instead of LOAD DATA LOCAL, when they do (logged once, and shown in the
   * backfill's progress).
   */
  loadDataOff: string | undefined;

  private disableLoadData(why: string): void {
    this.loadEnabled = false;
    if (this.loadDataOff) return;
    this.loadDataOff = `${why}: chunks are written as multi-row upserts (several times slower); SET PERSIST local_infile = ON (MySQL) or local_infile=ON in [mysqld] (MariaDB) to load them with LOAD DATA LOCAL`;
    logger.warn({ target: 'backfill' }, this.loadDataOff);
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
    const bounds: ChunkBounds = {
      ...(chunk.after ? { after: chunk.after } : {}),
      ...(chunk.upTo ? { upTo: chunk.upTo } : {}),
    };
    const raw = this.loadEnabled && this.rawEnabled ? await this.rawPlan(table) : undefined;
    if (raw && !raw.targets.some((t) => this.fellBackTooOften(t.target))) {
      const done = await this.copyRaw(raw, bounds, backfillId, chunkNo, signal);
      if (done) return done;
    }
    const rows = await readChunk(this.source, table, bounds);
    signal?.throwIfAborted();
    let mapped: MappedChange[] | undefined;
    const mappedRows = () => {
      mapped ??= this.map(table, rows);
      return mapped;
    };
    // After a raw-row load gave up, the same rows would not load any better: straight to upserts.
    const loads = this.loadEnabled && !raw ? await this.loadPlan(table, rows, mappedRows) : undefined;
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
        // A refused row: the upserts below single it out.
        if (isMysqlDataError(err)) return undefined;
        if (!isLoadRefused(err)) throw err;
        this.disableLoadData('the target refused LOAD DATA LOCAL'); // upserts from now on
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
    ).catch(async (err: unknown) => {
      if (!isMysqlDataError(err)) throw err;
      throw new ChunkDataError(backfillId, chunkNo, await this.refusedRow(mappedRows()), err);
    });
    if (!upserted) throw new Error(`backfill ${backfillId} chunk ${chunkNo}: upserts did not complete`);
    this.stats.upsertedChunks++;
    return upserted;
  }

  /**
   * The fast path: the chunk read as raw text rows, transcoded into the load file (no JS value per
   * field) and loaded into every target in the chunk transaction. Undefined when the load was not
   * clean (rolled back; the caller then upserts) or the server refuses LOCAL loads.
   */
  private async copyRaw(
    plan: RawChunkPlan,
    bounds: ChunkBounds,
    backfillId: string,
    chunkNo: number,
    signal: AbortSignal | undefined,
  ): Promise<CopyResult | undefined> {
    const chunk = await readRawChunk(this.source, plan, bounds);
    signal?.throwIfAborted();
    const loaded = await this.inChunkTransaction(backfillId, chunkNo, chunk.rows, signal, async () => {
      if (chunk.rows === 0) return 0;
      let inserted = 0;
      for (const l of plan.targets) {
        const out = await loadFile(this.target, l.target, l.columns, chunk.file, chunk.rows);
        if (!out.clean) return undefined;
        inserted += out.inserted;
      }
      return inserted;
    }).catch((err: unknown) => {
      if (isMysqlDataError(err)) return undefined; // the value path singles the row out
      if (!isLoadRefused(err)) throw err;
      this.disableLoadData('the target refused LOAD DATA LOCAL');
      return undefined;
    });
    if (loaded) {
      this.stats.loadedChunks++;
      if (!loaded.skipped) this.stats.rawChunks++;
      return loaded;
    }
    if (this.loadEnabled) {
      for (const l of plan.targets) this.noteFallback(l.target);
      this.stats.fallbackChunks++;
    }
    return undefined;
  }

  /**
   * The raw-row plan of a source table (cached), or undefined when the table takes the value path:
   * no mappings known, a mapping with a filter or transform, mappings that copy different columns,
   * or a column the fast path does not carry exactly (src/connectors/mysql/backfill/raw-chunk.ts); the reason is kept
   * in {@link rawRefusals}.
   */
  private rawPlan(table: SourceTable): Promise<RawChunkPlan | undefined> {
    const key = tableKey(table.ref);
    let p = this.rawPlans.get(key);
    if (!p) {
      p = this.makeRawPlan(table).then((r) => {
        if ('reason' in r) {
          this.rawRefusals.set(key, r.reason);
          return undefined;
        }
        return r;
      });
      this.rawPlans.set(key, p);
      p.catch(() => this.rawPlans.delete(key));
    }
    return p;
  }

  private async makeRawPlan(table: SourceTable): Promise<RawChunkPlan | { reason: string }> {
    const mappings = this.options.mappings;
    if (!mappings) return { reason: 'mappings not known' };
    const routes = this.mapper.routes(table.ref.schema, table.ref.table);
    if (routes.length === 0) return { reason: 'not mapped' };
    let ordinals: number[] | undefined;
    const targets: Array<{ target: TableRef; names: string[] }> = [];
    for (const r of routes) {
      const m = mappings[r.mapping];
      if (!m) return { reason: `mapping ${r.mapping} missing` };
      if (m.filter || m.transform !== undefined) return { reason: 'a mapping has a filter or a transform' };
      let projection: ReturnType<typeof compileProjection>;
      try {
        projection = compileProjection(table.schema.columns, m.columns);
      } catch (err) {
        return { reason: (err as Error).message }; // the value path reports it
      }
      if (ordinals && ordinals.join() !== projection.ordinals.join())
        return { reason: 'mappings copy different columns' };
      ordinals = projection.ordinals;
      targets.push({ target: r.target, names: projection.names });
    }
    const sourceColumns = await readColumnTypes(this.source, table.ref);
    if (
      sourceColumns.map((c) => c.name).join('\u0000') !==
      table.schema.columns.map((c) => c.name).join('\u0000')
    )
      return { reason: 'source columns changed since the table was read' };
    this.resultsCharset ??= this.source
      .query<mysql.RowDataPacket[]>('SELECT @@character_set_results AS cs')
      .then(([r]) => String(r[0]?.cs ?? 'binary').toLowerCase());
    const resultsCharset = await this.resultsCharset;
    const withColumns = [];
    for (const t of targets)
      withColumns.push({ ...t, columns: await readColumnTypes(this.target, t.target) });
    const plan = planRawChunk(table, sourceColumns, ordinals ?? [], withColumns, resultsCharset);
    if ('targets' in plan)
      plan.targets.sort((a, b) => this.mapper.weightOf(a.target) - this.mapper.weightOf(b.target));
    return plan;
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

  /**
   * Which row of a refused chunk the target refuses: the chunk's operations one at a time in a
   * transaction that is rolled back (nothing of the chunk stays). Undefined if none fails alone.
   */
  private async refusedRow(mapped: MappedChange[]): Promise<RowFailure | undefined> {
    const merger = await this.merge(mapped);
    await this.target.query('START TRANSACTION');
    try {
      await this.applier.applyRowByRow(merger.drain());
      return undefined;
    } catch (err) {
      if (err instanceof RowApplyError) return err.failure;
      throw err;
    } finally {
      await this.target.query('ROLLBACK').catch(() => {});
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
    if (loads.some((l) => this.fellBackTooOften(l.target))) return undefined;
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

  private fellBackTooOften(target: TableRef): boolean {
    return (this.fallbacks.get(tableKey(target)) ?? 0) >= MAX_FALLBACKS;
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
  /**
   * False: plain tables are read as JS values and encoded (the path before the raw-row fast path).
   * Default true unless the environment has OTTERFLOW_BACKFILL_RAW_ROWS=0 (benchmarks compare the two).
   */
  rawRows?: boolean;
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
  /** Of those, chunks read as raw text rows and transcoded (the fast path). */
  rawChunks: number;
  /** Chunks whose load was rolled back (a collision, a warning) and that were upserted instead. */
  fallbackChunks: number;
  /** Chunks written by upserts, fallbacks included. */
  upsertedChunks: number;
}

function written(s: ApplyStats): number {
  return s.inserted + s.updated;
}
