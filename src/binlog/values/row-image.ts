import type { CellValue, ColumnDef, RowImage, TableSchema } from '../types';
import { ColumnType } from '../types';
import { BINARY_COLLATION, isUtf8Collation, type TextDecodeFn, textDecoderFor } from './charsets';
import { resolveColumnType } from './column-type';
import { jsonBinaryToText } from './json-binary';
import { inet4Text, inet6Text, uuidText } from './mariadb-types';
import { bitSize, copyBytes, decimalSize, enumLabel, readDecimal, setLabels } from './numeric';
import {
  fracSize,
  readDate,
  readDatetime2,
  readDatetimeLegacy,
  readTime2,
  readTimeLegacy,
  readTimestamp2,
  readTimestampLegacy,
} from './temporal';

/** Decodes row images of one table; build it once per table map with compileRowImageDecoder. */
export interface RowImageDecoder {
  /**
   * Decodes one row image starting at `offset` (its null bitmap first, covering only present
   * columns, then the values of present non-null columns). Writes values into `out` by column
   * ordinal (absent columns: undefined, NULL: null) and returns the offset just past the row.
   * `present` is the rows event's column bitmap (bit i set = column i is in the image).
   */
  decode(buf: Buffer, offset: number, present: Buffer, out: RowImage): number;
}

/** Thrown when a row image cannot be decoded (truncated, or a type we do not know). */
export class RowImageError extends Error {
  override name = 'RowImageError';
}

/** Shared helpers the generated code calls by name (constant, so calls stay monomorphic). */
const HELPERS = {
  copyBytes,
  readDecimal,
  readDate,
  readDatetime2,
  readDatetimeLegacy,
  readTime2,
  readTimeLegacy,
  readTimestamp2,
  readTimestampLegacy,
  jsonBinaryToText,
  uuidText,
  inet4Text,
  inet6Text,
  enumLabel,
  setLabels,
  /** BINARY(n) values are logged without their trailing zero bytes; the column stores them. */
  padBinary(buf: Buffer, start: number, end: number, size: number): Buffer {
    const out = Buffer.alloc(Math.max(size, end - start));
    buf.copy(out, 0, start, end);
    return out;
  },
};

/** Code reading a little-endian length prefix of `bytes` bytes into `n` and advancing `o`. */
function lengthPrefix(bytes: number): string {
  switch (bytes) {
    case 1:
      return 'n = buf[o]; o += 1;';
    case 2:
      return 'n = buf[o] | (buf[o + 1] << 8); o += 2;';
    case 3:
      return 'n = buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16); o += 3;';
    case 4:
      return 'n = (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) >>> 0; o += 4;';
    default:
      throw new RowImageError(`bad length-prefix size ${bytes}`);
  }
}

/** Per-table constants the generated code refers to as c0, c1, … */
class Constants {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `c${this.values.length - 1}`;
  }
}

/** Code that reads a text/bytes payload of length n at o into v (n already read), then advances o. */
function payloadCode(col: ColumnDef, k: Constants, kind: 'string' | 'blob', maxLen: number): string {
  const dataType = col.dataType;
  if (kind === 'string' && (dataType === 'uuid' || dataType === 'inet6' || dataType === 'inet4')) {
    const fn = dataType === 'uuid' ? 'uuidText' : dataType === 'inet6' ? 'inet6Text' : 'inet4Text';
    return `v = h.${fn}(buf, o, o + n); o += n;`;
  }
  if (col.charset === BINARY_COLLATION || col.charset === undefined) {
    if (kind === 'string' && col.type === ColumnType.STRING && col.charset === BINARY_COLLATION) {
      return `v = h.padBinary(buf, o, o + n, ${maxLen}); o += n;`;
    }
    return 'v = h.copyBytes(buf, o, o + n); o += n;';
  }
  if (isUtf8Collation(col.charset)) return 'v = buf.utf8Slice(o, o + n); o += n;';
  const decoder: TextDecodeFn | null = textDecoderFor(col.charset);
  if (decoder === null) return 'v = h.copyBytes(buf, o, o + n); o += n;';
  return `v = ${k.add(decoder)}(buf, o, o + n); o += n;`;
}

/** Code that reads one non-null value of `col` at `o` into `v` and advances `o`. */
function valueCode(col: ColumnDef, k: Constants): string {
  const { type, meta } = resolveColumnType(col.type, col.meta);
  const u = col.unsigned;
  switch (type) {
    case ColumnType.TINY:
      return u ? 'v = buf[o]; o += 1;' : 'v = (buf[o] << 24) >> 24; o += 1;';
    case ColumnType.SHORT:
      return u
        ? 'v = buf[o] | (buf[o + 1] << 8); o += 2;'
        : 'v = ((buf[o] | (buf[o + 1] << 8)) << 16) >> 16; o += 2;';
    case ColumnType.INT24:
      return u
        ? 'v = buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16); o += 3;'
        : 'v = ((buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16)) << 8) >> 8; o += 3;';
    case ColumnType.LONG:
      return u
        ? 'v = (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) >>> 0; o += 4;'
        : 'v = buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24); o += 4;';
    case ColumnType.LONGLONG:
      return u ? 'v = buf.readBigUInt64LE(o); o += 8;' : 'v = buf.readBigInt64LE(o); o += 8;';
    case ColumnType.FLOAT:
      return 'v = buf.readFloatLE(o); o += 4;';
    case ColumnType.DOUBLE:
      return 'v = buf.readDoubleLE(o); o += 8;';
    case ColumnType.NEWDECIMAL: {
      const precision = meta >> 8;
      const scale = meta & 0xff;
      return `v = h.readDecimal(buf, o, ${precision}, ${scale}); o += ${decimalSize(precision, scale)};`;
    }
    case ColumnType.YEAR:
      return 'v = buf[o]; if (v !== 0) v += 1900; o += 1;';
    case ColumnType.NULL:
      return 'v = null;';
    case ColumnType.BIT: {
      const size = bitSize(meta);
      return `v = h.copyBytes(buf, o, o + ${size}); o += ${size};`;
    }
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      return 'v = h.readDate(buf, o); o += 3;';
    case ColumnType.TIME:
      return 'v = h.readTimeLegacy(buf, o); o += 3;';
    case ColumnType.DATETIME:
      return 'v = h.readDatetimeLegacy(buf, o); o += 8;';
    case ColumnType.TIMESTAMP:
      return 'v = h.readTimestampLegacy(buf, o); o += 4;';
    case ColumnType.TIME2:
      return `v = h.readTime2(buf, o, ${meta}); o += ${3 + fracSize(meta)};`;
    case ColumnType.DATETIME2:
      return `v = h.readDatetime2(buf, o, ${meta}); o += ${5 + fracSize(meta)};`;
    case ColumnType.TIMESTAMP2:
      return `v = h.readTimestamp2(buf, o, ${meta}); o += ${4 + fracSize(meta)};`;
    case ColumnType.ENUM: {
      const read = meta === 2 ? 'v = buf[o] | (buf[o + 1] << 8); o += 2;' : 'v = buf[o]; o += 1;';
      if (meta !== 1 && meta !== 2) throw new RowImageError(`column ${col.name}: ENUM pack length ${meta}`);
      return col.enumValues ? `${read} v = h.enumLabel(v, ${k.add(col.enumValues)});` : read;
    }
    case ColumnType.SET: {
      let read: string;
      if (meta === 8) read = 'v = buf.readBigUInt64LE(o); o += 8;';
      else if (meta >= 1 && meta <= 4) read = `v = buf.readUIntLE(o, ${meta}); o += ${meta};`;
      else throw new RowImageError(`column ${col.name}: SET pack length ${meta}`);
      return col.setValues ? `${read} v = h.setLabels(v, ${k.add(col.setValues)});` : read;
    }
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
      return `${lengthPrefix(meta < 256 ? 1 : 2)} ${payloadCode({ ...col, type }, k, 'string', meta)}`;
    case ColumnType.STRING:
      return `${lengthPrefix(meta < 256 ? 1 : 2)} ${payloadCode({ ...col, type }, k, 'string', meta)}`;
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
      return `${lengthPrefix(meta)} ${payloadCode({ ...col, type }, k, 'blob', 0)}`;
    case ColumnType.JSON:
      return `${lengthPrefix(meta || 4)} v = h.jsonBinaryToText(buf, o, o + n); o += n;`;
    case ColumnType.GEOMETRY:
    case ColumnType.VECTOR:
      return `${lengthPrefix(meta || 4)} v = h.copyBytes(buf, o, o + n); o += n;`;
    default:
      throw new RowImageError(`column ${col.name}: unsupported column type ${type} (meta ${meta})`);
  }
}

/** JS source of a decode function; `allPresent` specialises for images that carry every column. */
function generate(table: TableSchema, k: Constants, allPresent: boolean): string {
  const cols = table.columns;
  const nullBytes = (cols.length + 7) >> 3;
  const lines: string[] = [];
  lines.push(`return function decode(buf, off, present, out, nb) {`);
  lines.push('  let v, n;');
  lines.push(allPresent ? `  let o = off + ${nullBytes};` : '  let o = off + nb; let k = 0;');
  cols.forEach((col, i) => {
    const code = valueCode(col, k);
    const nullBit = allPresent
      ? `(buf[off + ${i >> 3}] & ${1 << (i & 7)})`
      : '(buf[off + (k >> 3)] & (1 << (k & 7)))';
    const body = `if (${nullBit} !== 0) { out[${i}] = null; } else { ${code} out[${i}] = v; }`;
    if (allPresent) lines.push(`  ${body}`);
    else {
      lines.push(
        `  if ((present[${i >> 3}] & ${1 << (i & 7)}) !== 0) { ${body} k++; } else { out[${i}] = undefined; }`,
      );
    }
  });
  lines.push('  return o;');
  lines.push('};');
  return lines.join('\n');
}

type GeneratedDecode = (buf: Buffer, off: number, present: Buffer, out: RowImage, nb: number) => number;

function instantiate(source: string, k: Constants): GeneratedDecode {
  const names = k.values.map((_, i) => `c${i}`);
  const factory = new Function('h', ...names, `"use strict";\n${source}`) as (
    ...args: unknown[]
  ) => GeneratedDecode;
  return factory(HELPERS, ...k.values);
}

/**
 * Builds the decoder for one table's row images. Call it once per TABLE_MAP (table schema) and
 * reuse it for every row: it generates a function specialised to the table's column types, so the
 * per-row work has no type dispatch and reads values straight from the buffer.
 * Throws RowImageError for a column type it does not know.
 */
export function compileRowImageDecoder(table: TableSchema): RowImageDecoder {
  const ncols = table.columns.length;
  const fullKeys = new Constants();
  const full = instantiate(generate(table, fullKeys, true), fullKeys);
  const partKeys = new Constants();
  const part = instantiate(generate(table, partKeys, false), partKeys);
  const fullBytes = (ncols + 7) >> 3;
  // The present bitmap is the same Buffer for every row of an event: remember its verdict.
  let lastPresent: Buffer | undefined;
  let lastAll = false;
  let lastNullBytes = 0;
  const where = `${table.schema}.${table.table}`;

  return {
    decode(buf: Buffer, offset: number, present: Buffer, out: RowImage): number {
      if (present !== lastPresent) {
        let count = 0;
        for (let i = 0; i < ncols; i++) if (((present[i >> 3] ?? 0) & (1 << (i & 7))) !== 0) count++;
        lastPresent = present;
        lastAll = count === ncols;
        lastNullBytes = (count + 7) >> 3;
      }
      let end: number;
      try {
        end = lastAll
          ? full(buf, offset, present, out, fullBytes)
          : part(buf, offset, present, out, lastNullBytes);
      } catch (e) {
        if (e instanceof RangeError) throw new RowImageError(`${where}: row image at ${offset} is truncated`);
        if (e instanceof Error) throw new RowImageError(`${where}: row image at ${offset}: ${e.message}`);
        throw e;
      }
      if (end > buf.length) throw new RowImageError(`${where}: row image at ${offset} is truncated`);
      return end;
    },
  };
}

/** A compiled reader of one non-null value of `column` (no null bitmap): [value, next offset]. */
export function compileValueReader(column: ColumnDef): (buf: Buffer, offset: number) => [CellValue, number] {
  const k = new Constants();
  return instantiate(
    `return function readOne(buf, o) { let v, n; ${valueCode(column, k)} return [v, o]; };`,
    k,
  ) as unknown as (buf: Buffer, o: number) => [CellValue, number];
}

/**
 * Decodes a single value of `column` stored at `offset` (no null bitmap); returns the value and the
 * offset after it. For tests and one-off reads — rows should go through compileRowImageDecoder.
 */
export function decodeColumnValue(column: ColumnDef, buf: Buffer, offset: number): [CellValue, number] {
  const k = new Constants();
  const fn = instantiate(
    `return function decodeOne(buf, o) { let v, n; ${valueCode(column, k)} return [v, o]; };`,
    k,
  ) as unknown as (buf: Buffer, o: number) => [CellValue, number];
  const [value, end] = fn(buf, offset);
  if (end > buf.length) throw new RowImageError(`value of ${column.name} at ${offset} is truncated`);
  return [value, end];
}
