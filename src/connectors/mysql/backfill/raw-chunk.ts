import type mysql from 'mysql2/promise';
import { type ChunkBounds, chunkSelect, type SourceTable } from '../../../backfill/source-table';
import {
  BINARY_TYPE_NAMES as BINARY_TYPES,
  GEOMETRY_TYPE_NAME_SET as GEOMETRY_TYPES,
  INTEGER_TYPE_NAMES as INTEGER_TYPES,
  TEMPORAL_TYPE_NAMES as TEMPORAL_TYPES,
  TEXT_TYPE_NAMES as TEXT_TYPES,
} from '../../../binlog/data-type-names';
import type { TableRef } from '../../../pipeline/model';
import type { ColumnTypeInfo, LoadColumn } from '../load-data';
import { quoteMysqlIdentifier, rawTextQuery } from '../source';
import { FIELD_ESCAPED, FIELD_HEX, type FieldMode, LoadFileBuilder } from '../text-row-transcoder';

/**
 * The initial load's fast path for tables copied as they are (mappings without filter or transform;
 * column include/exclude/renames are only a choice and order of columns): the chunk's rows come from
 * the source as raw text-protocol row packets and are transcoded byte by byte into the LOAD DATA file
 * (src/connectors/mysql/text-row-transcoder.ts); no JS value is made per field.
 *
 * Exactness (docs/value-representation.md, docs/backfill.md "Fast path"): for each column, the SELECT
 * expression makes the server send text that the target's LOAD DATA (`CHARACTER SET binary`) stores
 * as the identical value:
 * - integers, DECIMAL, DOUBLE: the server's text (exact; DOUBLE prints the shortest round-trip form);
 * - FLOAT as `col + 0e0`: the float widened to a double, printed exactly; the target rounds it back to
 *   the same float (the FLOAT column's own text has only ~6 digits: 16777217 would print 16777200);
 * - YEAR (four digits, `0000` for the zero year), DATE, DATETIME, TIME, TIMESTAMP (UTC session): as sent;
 * - text in utf8mb4/utf8mb3: the bytes as sent in the session's utf8mb4 (no conversion); text in any
 *   other character set as `CAST(col AS BINARY)`, i.e. its stored bytes, which the target takes
 *   directly when its column has the same character set, else through `CONVERT(@v USING <source charset>)`;
 * - binary strings: their bytes; BIT and geometry: their bytes, written as hex through `UNHEX`;
 * - UUID/INET4/INET6 and MySQL JSON: their text through `CONVERT(@v USING utf8mb4)` (a binary string of
 *   16 bytes would be taken by UUID as raw bytes).
 * A column whose source and target types do not pair up like this, or a type not listed, keeps the
 * table on the value path (src/connectors/mysql/backfill/copy.ts).
 */

/** How the server sends a source column in the fast path's SELECT. */
type Wire =
  | { kind: 'number' | 'year' | 'temporal' | 'bytes' | 'hex' }
  | { kind: 'text'; charset: string }
  | { kind: 'ascii' };

const UTF8 = new Set(['utf8mb4', 'utf8mb3', 'utf8']);

/** The SELECT expression and wire form of a source column, or undefined for a type the fast path does not take. */
export function sourceWire(
  col: ColumnTypeInfo,
  resultsCharset: string,
): { expr: string; wire: Wire } | undefined {
  const q = quoteMysqlIdentifier(col.name);
  const t = col.dataType;
  if (INTEGER_TYPES.has(t) || t === 'decimal' || t === 'numeric' || t === 'double' || t === 'real')
    return { expr: q, wire: { kind: 'number' } };
  if (t === 'float') return { expr: `${q} + 0e0`, wire: { kind: 'number' } };
  if (t === 'year') return { expr: q, wire: { kind: 'year' } };
  if (TEMPORAL_TYPES.has(t)) return { expr: q, wire: { kind: 'temporal' } };
  if (BINARY_TYPES.has(t)) return { expr: q, wire: { kind: 'bytes' } };
  if (t === 'bit' || GEOMETRY_TYPES.has(t)) return { expr: q, wire: { kind: 'hex' } };
  if (t === 'uuid' || t === 'inet4' || t === 'inet6') return { expr: q, wire: { kind: 'ascii' } };
  if (t === 'json') return { expr: q, wire: { kind: 'text', charset: 'utf8mb4' } }; // MySQL JSON: UTF-8 text
  if (TEXT_TYPES.has(t)) {
    const cs = col.charset ?? '';
    if (!/^[a-z0-9_]+$/.test(cs)) return undefined;
    if (cs === 'binary') return { expr: q, wire: { kind: 'bytes' } };
    // utf8mb3 text converts to utf8mb4 results byte for byte; the session never sends anything else.
    if (UTF8.has(cs) && UTF8.has(resultsCharset))
      return { expr: q, wire: { kind: 'text', charset: resultsCharset } };
    return { expr: `CAST(${q} AS BINARY)`, wire: { kind: 'text', charset: cs } };
  }
  return undefined;
}

/** The load column for a wire form into a target column, or undefined when they do not pair up. */
export function targetLoad(wire: Wire, name: string, target: ColumnTypeInfo): LoadColumn | undefined {
  const t = target.dataType;
  const cs = target.charset ?? '';
  const isText = TEXT_TYPES.has(t) && cs !== 'binary';
  const isBinary = BINARY_TYPES.has(t) || (TEXT_TYPES.has(t) && cs === 'binary');
  const direct: LoadColumn = { name, kind: 'bytes' };
  switch (wire.kind) {
    case 'number':
      return INTEGER_TYPES.has(t) || ['decimal', 'numeric', 'float', 'double', 'real'].includes(t)
        ? direct
        : undefined;
    case 'year':
      return t === 'year' ? direct : undefined;
    case 'temporal':
      return TEMPORAL_TYPES.has(t) ? direct : undefined;
    case 'hex':
      return t === 'bit' || GEOMETRY_TYPES.has(t) ? { name, kind: 'unhex' } : undefined;
    case 'bytes':
      // What the upsert of a Buffer stores: the bytes, into binary and utf8 text columns alike.
      return isBinary || (isText && UTF8.has(cs)) ? direct : undefined;
    case 'ascii':
      if (t === 'uuid' || t === 'inet4' || t === 'inet6' || t === 'json')
        return { name, kind: 'convert', charset: 'utf8mb4' };
      return isText && UTF8.has(cs) ? direct : undefined;
    case 'text':
      if (isText || t === 'json') {
        const same = cs === wire.charset || (UTF8.has(cs) && UTF8.has(wire.charset) && cs !== 'utf8mb3');
        return same ? direct : { name, kind: 'convert', charset: wire.charset };
      }
      if (t === 'uuid' || t === 'inet4' || t === 'inet6')
        return { name, kind: 'convert', charset: wire.charset };
      // A binary target would get the source charset's bytes where the upsert stores UTF-8.
      return isBinary && UTF8.has(wire.charset) ? direct : undefined;
  }
}

/** A table's fast-path plan: the SELECT list, the transcoder's field modes, one load per target. */
export interface RawChunkPlan {
  table: SourceTable;
  /** SELECT expressions, one per copied column (source order). */
  selectList: string[];
  modes: FieldMode[];
  targets: Array<{ target: TableRef; columns: LoadColumn[] }>;
}

/**
 * Plans the fast path for a source table whose copied columns (ordinals into `sourceColumns`) go to
 * each target under `targetNames`. Undefined, with the reason, when a column does not qualify.
 */
export function planRawChunk(
  table: SourceTable,
  sourceColumns: readonly ColumnTypeInfo[],
  ordinals: readonly number[],
  targets: ReadonlyArray<{ target: TableRef; names: readonly string[]; columns: readonly ColumnTypeInfo[] }>,
  resultsCharset: string,
): RawChunkPlan | { reason: string } {
  if (ordinals.length === 0) return { reason: 'no columns copied' };
  const selectList: string[] = [];
  const modes: FieldMode[] = [];
  const wires: Wire[] = [];
  for (const o of ordinals) {
    const col = sourceColumns[o];
    if (!col) return { reason: `source column ${o} unknown` };
    const w = sourceWire(col, resultsCharset);
    if (!w) return { reason: `source column ${col.name} (${col.dataType}) is not on the fast path` };
    selectList.push(w.expr);
    wires.push(w.wire);
    modes.push(w.wire.kind === 'hex' ? FIELD_HEX : FIELD_ESCAPED);
  }
  const loads: RawChunkPlan['targets'] = [];
  for (const t of targets) {
    const byName = new Map(t.columns.map((c) => [c.name, c]));
    const columns: LoadColumn[] = [];
    for (let j = 0; j < ordinals.length; j++) {
      const name = t.names[j] as string;
      const tc = byName.get(name);
      if (!tc) return { reason: `target ${t.target.schema}.${t.target.table} has no column ${name}` };
      const l = targetLoad(wires[j] as Wire, name, tc);
      if (!l) return { reason: `column ${name}: source and target types do not pair on the fast path` };
      columns.push(l);
    }
    loads.push({ target: t.target, columns });
  }
  return { table, selectList, modes, targets: loads };
}

/**
 * Reads one chunk of the plan's table as a load file. `format` inlines the bounds' values as mysql2
 * does for a query with parameters (the value path's SELECT sends the same text).
 */
export async function readRawChunk(
  conn: mysql.Connection,
  plan: RawChunkPlan,
  bounds: ChunkBounds,
): Promise<{ file: Buffer[]; rows: number; bytes: number }> {
  const q = chunkSelect(plan.table, bounds, plan.selectList);
  const sql = q.params.length ? conn.format(q.sql, q.params as never) : q.sql;
  const builder = new LoadFileBuilder(plan.modes);
  await rawTextQuery(conn, sql, plan.modes.length, (packet, start, end) =>
    builder.addRow(packet, start, end),
  );
  const bytes = builder.bytes;
  const rows = builder.rows;
  return { file: builder.finish(), rows, bytes };
}
