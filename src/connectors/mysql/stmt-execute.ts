import type mysql from 'mysql2/promise';
import type { CellValue } from '../../binlog/types';

/**
 * COM_STMT_EXECUTE packets written straight from CellValues, for the applier's fixed-size prepared
 * upserts and deletes. mysql2 builds a parameter object (type, length, writer) per value before
 * writing the packet — one of the largest costs of replicating big batches (docs/benchmarks.md); this
 * writes the same bytes in one pass over the values with no object per value.
 *
 * The wire types are exactly mysql2's for values without a server type hint, so the server stores
 * what it stored through mysql2 (a unit test compares the packets byte for byte):
 *   null → NULL, number → DOUBLE, bigint → VAR_STRING (decimal text), string → VAR_STRING (UTF-8),
 *   Buffer → BLOB.
 * Not for compressed connections, connections that negotiated CLIENT_QUERY_ATTRIBUTES (MySQL 8.0.23+
 * changes the packet layout) nor statements whose parameters carry integer type hints:
 * {@link rawExecuteSupport} says when.
 */

const COM_STMT_EXECUTE = 0x17;
const TYPE_DOUBLE = 5;
const TYPE_NULL = 6;
const TYPE_BLOB = 252;
const TYPE_VAR_STRING = 253;
const CLIENT_QUERY_ATTRIBUTES = 1 << 27;
/** Integer column types for which mysql2 would re-type a parameter (see its typed_parameter.js). */
const HINTED_TYPES = new Set([1, 2, 3, 8, 9, 13]);

/**
 * Bytes of a length-encoded integer. The boundaries are mysql2's (0xffff and 0xffffff themselves take
 * the next size up: valid, and byte-identical packets are what the tests compare).
 */
function lenencSize(n: number): number {
  return n < 251 ? 1 : n < 0xffff ? 3 : n < 0xffffff ? 4 : 9;
}

function writeLenenc(buf: Buffer, off: number, n: number): number {
  if (n < 251) {
    buf[off] = n;
    return off + 1;
  }
  if (n < 0xffff) {
    buf[off] = 0xfc;
    buf.writeUInt16LE(n, off + 1);
    return off + 3;
  }
  if (n < 0xffffff) {
    buf[off] = 0xfd;
    buf.writeUIntLE(n, off + 1, 3);
    return off + 4;
  }
  buf[off] = 0xfe;
  buf.writeUInt32LE(n % 0x100000000, off + 1);
  buf.writeUInt32LE(Math.floor(n / 0x100000000), off + 5);
  return off + 9;
}

/** Upper bound of a value's bytes in the values section. */
function maxValueBytes(v: CellValue | undefined): number {
  if (v === null) return 0;
  if (typeof v === 'number') return 8;
  if (typeof v === 'string') return 9 + v.length * 3; // UTF-8: at most 3 bytes per UTF-16 unit
  if (typeof v === 'bigint') return 1 + 21;
  if (v instanceof Buffer) return lenencSize(v.length) + v.length;
  throw new TypeError(`cannot bind a ${typeof v} value`);
}

/**
 * The COM_STMT_EXECUTE packet for statement `statementId` with `params`, with 4 bytes of room in
 * front for the packet header (mysql2's writePacket fills it in).
 */
export function encodeExecutePacket(statementId: number, params: ReadonlyArray<CellValue>): Buffer {
  const n = params.length;
  const bitmapBytes = (n + 7) >> 3;
  // header room, command, statement id, flags, iteration count, null bitmap, new-params-bound flag, types
  // (no bitmap and no flag at all without parameters)
  const typesAt = 4 + 1 + 4 + 1 + 4 + (n > 0 ? bitmapBytes + 1 : 0);
  const valuesAt = typesAt + 2 * n;
  let bound = valuesAt;
  for (let i = 0; i < n; i++) bound += maxValueBytes(params[i]);
  const buf = Buffer.allocUnsafe(bound);
  buf[4] = COM_STMT_EXECUTE;
  buf.writeUInt32LE(statementId, 5);
  buf[9] = 0; // CURSOR_TYPE_NO_CURSOR
  buf.writeUInt32LE(1, 10); // iteration count
  if (n > 0) {
    buf.fill(0, 14, 14 + bitmapBytes);
    buf[14 + bitmapBytes] = 1; // new-params-bound: types follow
  }
  let off = valuesAt;
  for (let i = 0; i < n; i++) {
    const v = params[i] as CellValue;
    const t = typesAt + 2 * i;
    buf[t + 1] = 0; // signed
    if (v === null) {
      buf[t] = TYPE_NULL;
      buf[14 + (i >> 3)] = (buf[14 + (i >> 3)] as number) | (1 << (i & 7));
    } else if (typeof v === 'number') {
      buf[t] = TYPE_DOUBLE;
      off = buf.writeDoubleLE(v, off);
    } else if (typeof v === 'string') {
      buf[t] = TYPE_VAR_STRING;
      off = writeUtf8(buf, off, v);
    } else if (typeof v === 'bigint') {
      buf[t] = TYPE_VAR_STRING;
      off = writeUtf8(buf, off, v.toString());
    } else {
      buf[t] = TYPE_BLOB;
      off = writeLenenc(buf, off, v.length);
      off += v.copy(buf, off);
    }
  }
  return buf.subarray(0, off);
}

/** A length-encoded UTF-8 string at `off`; returns the offset after it. */
function writeUtf8(buf: Buffer, off: number, s: string): number {
  // Up to 83 UTF-16 units the UTF-8 form is below 251 bytes: a one-byte length, written after.
  if (s.length < 84) {
    const written = buf.utf8Write(s, off + 1);
    buf[off] = written;
    return off + 1 + written;
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  off = writeLenenc(buf, off, bytes);
  return off + buf.utf8Write(s, off);
}

declare global {
  interface Buffer {
    /** Node's own UTF-8 writer (what Buffer#write calls after checking its arguments). */
    utf8Write(s: string, offset: number): number;
  }
}

/**
 * True when packets we write ourselves can travel on `conn` (COM_STMT_EXECUTE here, COM_QUERY in
 * statement-pipeline.ts): not a compressed connection (other framing and sequence ids) and no
 * CLIENT_QUERY_ATTRIBUTES (MySQL 8.0.23+ adds fields to both commands).
 */
export function rawPacketsSupported(conn: mysql.Connection): boolean {
  const internals = (conn as unknown as { connection: Mysql2Connectionish }).connection;
  if (internals.config?.compress) return false;
  const flags = (internals.config?.clientFlags ?? 0) & (internals.serverCapabilityFlags ?? 0);
  return (flags & CLIENT_QUERY_ATTRIBUTES) === 0;
}

/**
 * True when `statement` (a mysql2 prepared statement on `conn`) can be executed with our packets:
 * {@link rawPacketsSupported}, and no parameter carries an integer type hint that mysql2 would use.
 */
export function rawExecuteSupport(conn: mysql.Connection, statement: mysql.PreparedStatementInfo): boolean {
  if (!rawPacketsSupported(conn)) return false;
  const params = statementOf(statement).parameters ?? [];
  return params.every((p) => !HINTED_TYPES.has(Number(p.columnType)));
}

interface Mysql2Connectionish {
  config?: { clientFlags?: number; compress?: boolean };
  serverCapabilityFlags?: number;
}

interface CoreStatement {
  id: number;
  parameters?: Array<{ columnType?: number }>;
}

/** The server's id of a mysql2 prepared statement (on its connection). */
export function statementIdOf(statement: mysql.PreparedStatementInfo): number {
  return statementOf(statement).id;
}

function statementOf(statement: mysql.PreparedStatementInfo): CoreStatement {
  const core = (statement as unknown as { statement?: CoreStatement }).statement;
  if (!core || typeof core.id !== 'number')
    throw new Error('mysql2 prepared statement without an id: its internal API changed');
  return core;
}
