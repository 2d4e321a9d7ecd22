import { inflateSync } from 'node:zlib';
import { ByteCursor } from './byte-cursor';
import { EventType } from './event-types';
import type { RowChange, RowChangeKind, RowImage, TableSchema } from './types';

/**
 * Decodes one row image from the buffer. Implemented by the values engineer in
 * src/binlog/values/row-image.ts (`compileRowImageDecoder`); the decoder only needs this shape.
 */
export interface RowImageDecoder {
  /** Reads the image at `offset` (null bitmap first), fills `out` by column ordinal, returns the next offset. */
  decode(buf: Buffer, offset: number, present: Buffer, out: RowImage): number;
}

/** Decodes the after images of PARTIAL_UPDATE_ROWS (values/partial-json-image.ts), given the before image. */
export interface PartialAfterImage {
  decode(buf: Buffer, offset: number, present: Buffer, before: RowImage, out: RowImage): number;
}

/** Builds a row-image decoder for one table; called once per distinct table map. */
export type RowImageDecoderFactory = (table: TableSchema) => RowImageDecoder;

/** Rows-event flag: last rows event of the statement. */
export const ROWS_FLAG_STMT_END = 0x0001;

/** What an event type code says about a rows event, or undefined when it is not one. */
export interface RowsEventKind {
  change: RowChangeKind;
  version: 1 | 2;
  /** MariaDB log_bin_compress: the row data after the bitmaps is zlib-compressed. */
  compressed: boolean;
  /** MySQL PARTIAL_UPDATE_ROWS (binlog_row_value_options=PARTIAL_JSON): after images may hold JSON diffs. */
  partial?: boolean;
}

const ROWS_KINDS = new Map<number, RowsEventKind>([
  [EventType.WRITE_ROWS_V1, { change: 'insert', version: 1, compressed: false }],
  [EventType.UPDATE_ROWS_V1, { change: 'update', version: 1, compressed: false }],
  [EventType.DELETE_ROWS_V1, { change: 'delete', version: 1, compressed: false }],
  [EventType.WRITE_ROWS_V2, { change: 'insert', version: 2, compressed: false }],
  [EventType.UPDATE_ROWS_V2, { change: 'update', version: 2, compressed: false }],
  [EventType.DELETE_ROWS_V2, { change: 'delete', version: 2, compressed: false }],
  [EventType.PARTIAL_UPDATE_ROWS, { change: 'update', version: 2, compressed: false, partial: true }],
  [EventType.MARIADB_WRITE_ROWS_COMPRESSED_V1, { change: 'insert', version: 1, compressed: true }],
  [EventType.MARIADB_UPDATE_ROWS_COMPRESSED_V1, { change: 'update', version: 1, compressed: true }],
  [EventType.MARIADB_DELETE_ROWS_COMPRESSED_V1, { change: 'delete', version: 1, compressed: true }],
  [EventType.MARIADB_WRITE_ROWS_COMPRESSED, { change: 'insert', version: 2, compressed: true }],
  [EventType.MARIADB_UPDATE_ROWS_COMPRESSED, { change: 'update', version: 2, compressed: true }],
  [EventType.MARIADB_DELETE_ROWS_COMPRESSED, { change: 'delete', version: 2, compressed: true }],
]);

export function rowsEventKind(type: number): RowsEventKind | undefined {
  return ROWS_KINDS.get(type);
}

/** The fixed part of a rows event, read before the table is looked up. */
export interface RowsPostHeader {
  tableId: number;
  flags: number;
  /** Offset of the column count (after the post-header and any v2 extra data). */
  bodyStart: number;
}

/**
 * Reads the rows-event post-header at `start`: table id (4 or 6 bytes depending on the
 * post-header length), flags, and for v2 the extra-data block, which is skipped (it carries NDB
 * and partition info, nothing a replicator needs).
 */
export function readRowsPostHeader(
  buf: Buffer,
  start: number,
  end: number,
  postHeaderLength: number,
  version: 1 | 2,
): RowsPostHeader {
  const c = new ByteCursor(buf, start, end);
  const tableId = postHeaderLength === 6 ? c.u32() : c.u48();
  const flags = c.u16();
  if (version === 2) {
    const extraLength = c.u16(); // counts its own two bytes
    if (extraLength < 2) throw new Error(`rows event v2 extra data length ${extraLength} is below 2`);
    c.skip(extraLength - 2);
  }
  return { tableId, flags, bodyStart: c.pos };
}

/**
 * Decodes the body of a rows event (from the column count on) into row changes, calling the
 * table's row-image decoder for every image. Update events carry two present-column bitmaps and
 * a before/after pair per row. Absent columns stay `undefined` in the images.
 */
export function decodeRowsBody(
  buf: Buffer,
  start: number,
  end: number,
  kind: RowsEventKind,
  table: TableSchema,
  rowDecoder: RowImageDecoder,
  partialAfter?: PartialAfterImage,
): RowChange[] {
  const c = new ByteCursor(buf, start, end);
  const columnCount = c.packed();
  const n = table.columns.length;
  if (columnCount !== n)
    throw new Error(
      `rows event for ${table.schema}.${table.table} has ${columnCount} columns but its table map has ${n}`,
    );
  const bitmapLength = (columnCount + 7) >> 3;
  const present = c.bytes(bitmapLength);
  const presentAfter = kind.change === 'update' ? c.bytes(bitmapLength) : present;
  let data = buf;
  let off = c.pos;
  let dataEnd = end;
  if (kind.compressed) {
    data = uncompressMariadb(buf.subarray(off, end));
    off = 0;
    dataEnd = data.length;
  }
  const rows: RowChange[] = [];
  switch (kind.change) {
    case 'insert':
      while (off < dataEnd) {
        const after: RowImage = new Array(n);
        off = rowDecoder.decode(data, off, present, after);
        rows.push({ kind: 'insert', table, after });
      }
      break;
    case 'delete':
      while (off < dataEnd) {
        const before: RowImage = new Array(n);
        off = rowDecoder.decode(data, off, present, before);
        rows.push({ kind: 'delete', table, before });
      }
      break;
    case 'update':
      if (kind.partial && !partialAfter)
        throw new Error('PARTIAL_UPDATE_ROWS needs a partial after-image decoder');
      while (off < dataEnd) {
        const before: RowImage = new Array(n);
        off = rowDecoder.decode(data, off, present, before);
        const after: RowImage = new Array(n);
        off = partialAfter
          ? partialAfter.decode(data, off, presentAfter, before, after)
          : rowDecoder.decode(data, off, presentAfter, after);
        rows.push({ kind: 'update', table, before, after });
      }
      break;
  }
  if (off !== dataEnd)
    throw new Error(
      `row images of ${table.schema}.${table.table} overran the event by ${off - dataEnd} bytes (schema and data disagree)`,
    );
  return rows;
}

/**
 * MariaDB's compressed-event framing (log_bin_compress): one header byte (0x80 | algorithm << 4
 * | length-of-length), the uncompressed length big-endian in 1–4 bytes, then a zlib stream.
 */
export function uncompressMariadb(src: Buffer): Buffer {
  const head = src[0];
  if (head === undefined || (head & 0x80) === 0)
    throw new Error('compressed event without the compression header');
  const algorithm = (head & 0x70) >> 4;
  if (algorithm !== 0) throw new Error(`unsupported MariaDB event compression algorithm ${algorithm}`);
  const lenLen = head & 0x07;
  if (lenLen < 1 || lenLen > 4) throw new Error(`invalid compressed length size ${lenLen}`);
  const expected = src.readUIntBE(1, lenLen);
  const out = inflateSync(src.subarray(1 + lenLen));
  if (out.length !== expected)
    throw new Error(`compressed event inflated to ${out.length} bytes, header says ${expected}`);
  return out;
}
