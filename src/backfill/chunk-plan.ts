import type mysql from 'mysql2/promise';
import type { CellValue } from '../binlog/types';
import { quoteMysqlIdentifier } from '../connectors/mysql/dialect';
import { keyCompare, orderByKey } from './keys';
import type { SourceTable } from './source-table';

/**
 * Chunk planning for the initial load. Boundaries are real keys found by walking the key index
 * (`… WHERE key > last ORDER BY key LIMIT 1 OFFSET n-1`), so every chunk holds about `chunkSize`
 * rows whatever the key distribution (sparse ids, strings, composite keys), and chunks can be copied
 * in any order and in parallel. The last chunk is open-ended: rows inserted past the end while the
 * load runs are copied too (and CDC brings them anyway).
 */

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
  const from = `${quoteMysqlIdentifier(table.ref.schema)}.${quoteMysqlIdentifier(table.ref.table)}`;
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
