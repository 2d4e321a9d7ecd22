import type mysql from 'mysql2/promise';
import {
  chunksFromBoundaries,
  findBoundaries,
  integerRangeBoundaries,
  type PlannedChunk,
  rowsPerChunk,
} from '../backfill/chunk-plan';
import { listSourceTables, readSourceTable, type SourceTable } from '../backfill/source-table';
import type { CellValue, ColumnDef } from '../binlog/types';
import { TargetTableMissingError } from '../connectors/dialect';
import { mysqlTableColumns } from '../connectors/mysql/verification/session';
import type { VerificationTargetSession } from '../connectors/verification-target';
import type { PipelineConfig } from '../pipeline/config';
import type { Mapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import { checkShardKeys, mergeShardBoundaries } from './shard-plan';
import { ComparisonPlanError, planTableComparison, type TableComparison } from './table-plan';

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
}

/** What planning reads from the target. */
export type PlanTarget = Pick<VerificationTargetSession, 'tableColumns' | 'checksumConnection' | 'dialect'>;

/** Reads both sides' definitions and plans the comparison of one target table. */
export async function loadComparison(
  source: mysql.Connection,
  target: PlanTarget,
  config: PipelineConfig,
  mapper: Mapper,
  targetRef: TableRef,
  sources: readonly TableRef[],
): Promise<LoadedComparison> {
  const tgt = await target.tableColumns(targetRef).catch((err: unknown) => {
    if (err instanceof TargetTableMissingError)
      throw new ComparisonPlanError(`target table ${tableKey(targetRef)} does not exist`);
    throw err;
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
    inputs.push({ table: await mysqlTableColumns(source, st), mapping, index: route?.mapping });
  }
  const comparison = planTableComparison(tgt, inputs);
  if (!target.checksumConnection) checkShardKeys(comparison, target.dialect);
  return { comparison, sourceColumns: sourceTables.map((s) => s.schema.columns), sourceTables };
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
 * (source names of the target key); merged shards: the target's key index (it holds their union),
 * or on targets without the MySQL SQL every shard's (shard-plan.ts).
 */
export async function planChunks(
  source: mysql.Connection,
  target: PlanTarget,
  loaded: LoadedComparison,
  o: { chunkSize?: number; laneRowsPerSecond?: number; onStep?: () => void },
): Promise<PlannedChunk[]> {
  const single = loaded.comparison.sources.length === 1;
  const targetConn = target.checksumConnection;
  if (!single && !targetConn) return planShardChunks(source, loaded, o);
  const base = single
    ? (loaded.sourceTables[0] as SourceTable)
    : await readSourceTable(targetConn as mysql.Connection, loaded.comparison.target.ref);
  const keyColumns = single ? (loaded.comparison.sources[0]?.side.keyColumns ?? []) : base.keyColumns;
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
  const conn = single ? source : (targetConn as mysql.Connection);
  const boundaries =
    (await integerRangeBoundaries(conn, { ...table, estimatedRows: estimated }, chunkSize)) ??
    (await findBoundaries(conn, table, chunkSize, o.onStep));
  return chunksFromBoundaries(boundaries);
}

/** Merged shards on a target without the MySQL SQL: the union of every shard's boundaries (shard-plan.ts). */
async function planShardChunks(
  source: mysql.Connection,
  loaded: LoadedComparison,
  o: { chunkSize?: number; laneRowsPerSecond?: number; onStep?: () => void },
): Promise<PlannedChunk[]> {
  const lists: CellValue[][][] = [];
  for (const [i, st] of loaded.sourceTables.entries()) {
    const keyColumns = loaded.comparison.sources[i]?.side.keyColumns ?? [];
    const ordinal = new Map(st.schema.columns.map((c, j) => [c.name, j]));
    const table: SourceTable = {
      ...st,
      keyColumns,
      keyOrdinals: keyColumns.map((c) => ordinal.get(c) as number),
    };
    const chunkSize = rowsPerChunk({
      requested: o.chunkSize,
      averageRowBytes: st.averageRowBytes,
      laneRowsPerSecond: o.laneRowsPerSecond,
    });
    lists.push(
      (await integerRangeBoundaries(source, table, chunkSize)) ??
        (await findBoundaries(source, table, chunkSize, o.onStep)),
    );
  }
  return chunksFromBoundaries(mergeShardBoundaries(lists));
}
