import type mysql from 'mysql2/promise';
import { type CellValue, ColumnType } from '../binlog/types';
import { quoteMysqlIdentifier, quoteMysqlTable } from '../connectors/mysql/source';
import { keyCompare, orderByKey } from './keys';
import type { SourceTable } from './source-table';

/**
 * Chunk planning for the initial load. Boundaries are real keys found by walking the key index
 * (`… WHERE key > last ORDER BY key LIMIT 1 OFFSET n-1`), so every chunk holds about `chunkSize`
 * rows whatever the key distribution (sparse ids, strings, composite keys), and chunks can be copied
 * in any order and in parallel. The last chunk is open-ended: rows inserted past the end while the
 * load runs are copied too (and CDC brings them anyway).
 */

/** Bounds of the rows-per-chunk the initial load chooses by itself (docs/backfill.md, "Chunk size"). */
export const AUTO_CHUNK = {
  /** Bytes a chunk aims at: one chunk is read, converted and written whole, so this bounds memory. */
  bytes: 4 * 1024 * 1024,
  /**
   * Most rows: each chunk costs a Temporal activity round trip and its own transaction; measured on
   * the bench (1.1M rows), 10,000-row chunks copied in 4.9–5.4 s, 25,000-row ones in 3.8–4.2 s,
   * 50,000-row ones no faster (the lanes start and finish unevenly).
   */
  maxRows: 25_000,
  /** Fewest rows, however wide they are. */
  minRows: 100,
  /** A throttled lane should finish a chunk within about this many seconds (smooth rate, quick cancel). */
  throttledSeconds: 1,
};

/**
 * Rows per chunk of a table: `requested` when the caller chose; otherwise about AUTO_CHUNK.bytes of
 * rows, at most AUTO_CHUNK.maxRows, and no more than a throttled lane copies in about a second (pure).
 */
export function rowsPerChunk(o: {
  requested?: number | undefined;
  averageRowBytes: number;
  /** The rows/s cap of one lane (maxRowsPerSecond / parallelism), when throttled. */
  laneRowsPerSecond?: number | undefined;
}): number {
  if (o.requested !== undefined) return Math.max(1, Math.floor(o.requested));
  let rows = AUTO_CHUNK.maxRows;
  if (o.averageRowBytes > 0) rows = Math.min(rows, Math.floor(AUTO_CHUNK.bytes / o.averageRowBytes));
  if (o.laneRowsPerSecond && o.laneRowsPerSecond > 0)
    rows = Math.min(rows, Math.floor(o.laneRowsPerSecond * AUTO_CHUNK.throttledSeconds));
  return Math.max(AUTO_CHUNK.minRows, rows);
}

/** One planned chunk: rows with key in (after, upTo]; a missing bound is open. */
export interface PlannedChunk {
  after?: CellValue[];
  upTo?: CellValue[];
}

/** Chunks covering the whole key space, given ascending boundary keys (pure). */
export function chunksFromBoundaries(boundaries: readonly CellValue[][]): PlannedChunk[] {
  const chunks: PlannedChunk[] = [];
  let after: CellValue[] | undefined;
  for (const b of boundaries) {
    chunks.push(after ? { after, upTo: b } : { upTo: b });
    after = b;
  }
  chunks.push(after ? { after } : {});
  return chunks;
}

const INTEGER_TYPES = new Set<number>([
  ColumnType.TINY,
  ColumnType.SHORT,
  ColumnType.INT24,
  ColumnType.LONG,
  ColumnType.LONGLONG,
]);

/**
 * Boundaries by arithmetic, without walking the index, for a table whose key is ONE integer column
 * with values dense enough: MIN and MAX (two index dives), then every `chunkSize`-th value of the
 * range. Walking the index reads every key once (OFFSET n-1 per chunk) — for a million-row table
 * about half a second before the first chunk can start. Undefined when the key is not a single
 * integer or the range is more than about twice the estimated row count (sparse keys would give many
 * near-empty chunks): the caller then walks the index. Chunk sizes vary with gaps in the keys, which
 * changes only how evenly the work spreads, never which rows are copied.
 */
export async function integerRangeBoundaries(
  conn: mysql.Connection,
  table: SourceTable,
  chunkSize: number,
): Promise<CellValue[][] | undefined> {
  if (table.keyColumns.length !== 1) return undefined;
  const column = table.schema.columns[table.keyOrdinals[0] ?? -1];
  if (!column || !INTEGER_TYPES.has(column.type)) return undefined;
  const k = quoteMysqlIdentifier(table.keyColumns[0] as string);
  const from = quoteMysqlTable(table.ref);
  // As text: BIGINT UNSIGNED beyond 2^63 and any driver setting come back exact.
  const [rows] = await conn.query<mysql.RowDataPacket[]>({
    sql: `SELECT CAST(MIN(${k}) AS CHAR) AS lo, CAST(MAX(${k}) AS CHAR) AS hi FROM ${from}`,
  });
  const lo = rows[0]?.lo;
  const hi = rows[0]?.hi;
  if (lo === null || hi === null || lo === undefined || hi === undefined) return []; // empty: one open chunk
  return rangeBoundaries(
    BigInt(String(lo)),
    BigInt(String(hi)),
    table.estimatedRows,
    chunkSize,
    column.type === ColumnType.LONGLONG,
  );
}

/**
 * The boundaries lo+size-1, lo+2·size-1, … up to hi (pure; like the index walk, a boundary may be the
 * last key, leaving the open-ended last chunk empty until rows arrive); undefined when [lo, hi] is
 * sparse compared with `estimatedRows`. `asBigint`: boundaries as bigint (BIGINT columns, as the
 * source reader returns them), else as numbers.
 */
export function rangeBoundaries(
  lo: bigint,
  hi: bigint,
  estimatedRows: number,
  chunkSize: number,
  asBigint: boolean,
): CellValue[][] | undefined {
  const size = BigInt(Math.max(1, Math.floor(chunkSize)));
  const span = hi - lo + 1n;
  if (span > 2n * BigInt(Math.max(1, Math.floor(estimatedRows))) + size) return undefined;
  const out: CellValue[][] = [];
  for (let b = lo + size - 1n; b <= hi; b += size) out.push([asBigint ? b : Number(b)]);
  return out;
}

/**
 * Finds the boundary keys of `table` (every `chunkSize`-th key). A table without a usable key is one
 * chunk. `onStep` is called after each probe (heartbeats; throw from it to stop).
 */
export async function findBoundaries(
  conn: mysql.Connection,
  table: SourceTable,
  chunkSize: number,
  onStep: () => void = () => {},
): Promise<CellValue[][]> {
  if (table.keyColumns.length === 0) return [];
  const cols = table.keyColumns.map(quoteMysqlIdentifier).join(', ');
  const from = quoteMysqlTable(table.ref);
  const out: CellValue[][] = [];
  let after: CellValue[] | undefined;
  for (;;) {
    const cond = after ? keyCompare(table.keyColumns, after, '>') : undefined;
    const sql = `SELECT ${cols} FROM ${from}${cond ? ` WHERE ${cond.sql}` : ''} ${orderByKey(table.keyColumns)} LIMIT 1 OFFSET ${chunkSize - 1}`;
    const [rows] = await conn.query<mysql.RowDataPacket[]>({ sql, rowsAsArray: true }, cond?.params ?? []);
    onStep();
    const row = rows[0] as unknown as CellValue[] | undefined;
    if (!row) return out;
    out.push(row);
    after = row;
  }
}
