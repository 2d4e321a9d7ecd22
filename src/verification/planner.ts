import type mysql from 'mysql2/promise';
import {
  chunksFromBoundaries,
  findBoundaries,
  integerRangeBoundaries,
  type PlannedChunk,
  rowsPerChunk,
} from '../backfill/chunk-plan';
import { listSourceTables, readSourceTable, type SourceTable } from '../backfill/source-table';
import type { ColumnDef } from '../binlog/types';
import type { PipelineConfig } from '../pipeline/config';
import type { Mapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import {
  ComparisonPlanError,
  planTableComparison,
  type TableColumns,
  type TableComparison,
} from './table-plan';

/**
 * Planning a verification from the databases: which target tables, fed by which source tables, with
 * which columns and keys (table-plan.ts), and the key ranges to compare them in — found the way the
 * initial load finds its chunks (src/backfill/chunk-plan.ts).
 */

/** A target table with its comparison, and what the source side needs to filter rows. */
export interface LoadedComparison {
  comparison: TableComparison;
  /** Decoder-style column definitions of each source table (same order as comparison.sources). */
  sourceColumns: ColumnDef[][];
  sourceTables: SourceTable[];
  target: SourceTable;
}

async function tableColumns(conn: mysql.Connection, t: SourceTable): Promise<TableColumns> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT COLUMN_NAME AS n, CHARACTER_SET_NAME AS cs FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [t.ref.schema, t.ref.table],
  );
  const charset = new Map(rows.map((r) => [String(r.n), r.cs === null ? null : String(r.cs)]));
  return {
    ref: t.ref,
    columns: t.schema.columns.map((c) => ({
      name: c.name,
      dataType: String(c.dataType ?? '').toLowerCase(),
      charset: charset.get(c.name) ?? null,
      nullable: c.nullable,
    })),
    keyColumns: t.keyColumns,
  };
}

/** Reads both sides' definitions and plans the comparison of one target table. */
export async function loadComparison(
  source: mysql.Connection,
  target: mysql.Connection,
  config: PipelineConfig,
  mapper: Mapper,
  targetRef: TableRef,
  sources: readonly TableRef[],
): Promise<LoadedComparison> {
  const tgt = await readSourceTable(target, targetRef).catch(() => {
    throw new ComparisonPlanError(`target table ${tableKey(targetRef)} does not exist`);
  });
  const sourceTables: SourceTable[] = [];
  const inputs: Parameters<typeof planTableComparison>[1] = [];
  for (const ref of sources) {
    const st = await readSourceTable(source, ref);
    const route = mapper
      .routes(ref.schema, ref.table)
      .find((r) => tableKey(r.target) === tableKey(targetRef));
    const mapping = route ? config.mappings[route.mapping] : undefined;
    if (!mapping) throw new ComparisonPlanError(`${tableKey(ref)} is not mapped to ${tableKey(targetRef)}`);
    sourceTables.push(st);
    inputs.push({ table: await tableColumns(source, st), mapping, index: route?.mapping });
  }
  const comparison = planTableComparison(await tableColumns(target, tgt), inputs);
  return { comparison, sourceColumns: sourceTables.map((s) => s.schema.columns), sourceTables, target: tgt };
}

/**
 * Target tables to verify and their source tables: every mapped source table, or those named in
 * `only` — widened to every source table of the same targets (a merged target table is compared
 * whole, or its other shards' rows would look extra).
 */
export async function targetsToVerify(
  source: mysql.Connection,
  mapper: Mapper,
  only?: readonly TableRef[],
): Promise<{ target: TableRef; sources: TableRef[] }[]> {
  const byTarget = new Map<string, { target: TableRef; sources: TableRef[] }>();
  for (const ref of await listSourceTables(source))
    for (const route of mapper.routes(ref.schema, ref.table)) {
      const k = tableKey(route.target);
      const entry = byTarget.get(k) ?? { target: route.target, sources: [] };
      entry.sources.push(ref);
      byTarget.set(k, entry);
    }
  const all = [...byTarget.values()];
  if (!only) return all;
  const wanted = new Set(only.map(tableKey));
  return all.filter((e) => e.sources.some((s) => wanted.has(tableKey(s))));
}

/**
 * The key ranges of one comparison, in target key order. One source table: its key index is walked
 * (source names of the target key); merged shards: the target's key index (it holds their union).
 */
export async function planChunks(
  source: mysql.Connection,
  target: mysql.Connection,
  loaded: LoadedComparison,
  o: { chunkSize?: number; laneRowsPerSecond?: number; onStep?: () => void },
): Promise<PlannedChunk[]> {
  const single = loaded.comparison.sources.length === 1;
  const base = single ? (loaded.sourceTables[0] as SourceTable) : loaded.target;
  const keyColumns = single
    ? (loaded.comparison.sources[0]?.side.keyColumns ?? [])
    : loaded.target.keyColumns;
  const ordinal = new Map(base.schema.columns.map((c, i) => [c.name, i]));
  const table: SourceTable = {
    ...base,
    keyColumns,
    keyOrdinals: keyColumns.map((c) => ordinal.get(c) as number),
  };
  const estimated = single
    ? base.estimatedRows
    : loaded.sourceTables.reduce((n, s) => n + s.estimatedRows, 0);
  const chunkSize = rowsPerChunk({
    requested: o.chunkSize,
    averageRowBytes: base.averageRowBytes,
    laneRowsPerSecond: o.laneRowsPerSecond,
  });
  const conn = single ? source : target;
  const boundaries =
    (await integerRangeBoundaries(conn, { ...table, estimatedRows: estimated }, chunkSize)) ??
    (await findBoundaries(conn, table, chunkSize, o.onStep));
  return chunksFromBoundaries(boundaries);
}
