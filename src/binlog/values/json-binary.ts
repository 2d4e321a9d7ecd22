import { ColumnType } from '../types';
import { readDecimal } from './numeric';
import { packedTemporalText } from './temporal';

/**
 * MySQL binary JSON (the storage and binlog form of JSON columns since 5.7) → JSON text.
 * The text is printed the way MySQL prints JSON (`{"a": 1, "b": [true, null]}`), so it re-inserts
 * as the same document: 64-bit integers stay exact, doubles keep a "." or exponent so they stay
 * doubles, and opaque values (DECIMAL, DATE, TIME, DATETIME) print as MySQL's JSON functions print them.
 * MariaDB has no binary JSON: its JSON columns are LONGTEXT and never reach this function.
 */

const SMALL_OBJECT = 0x00;
const LARGE_OBJECT = 0x01;
const SMALL_ARRAY = 0x02;
const LARGE_ARRAY = 0x03;
const LITERAL = 0x04;
const INT16 = 0x05;
const UINT16 = 0x06;
const INT32 = 0x07;
const UINT32 = 0x08;
const INT64 = 0x09;
const UINT64 = 0x0a;
const DOUBLE = 0x0b;
const STRING = 0x0c;
const OPAQUE = 0x0f;

function fail(what: string, offset: number): never {
  throw new Error(`malformed binary JSON: ${what} at byte ${offset}`);
}

/** MySQL's variable-length length: 7 bits per byte, low bits first, high bit = more bytes follow. */
function readVarLength(buf: Buffer, offset: number, end: number): [number, number] {
  let len = 0;
  for (let i = 0; i < 5; i++) {
    if (offset + i >= end) fail('truncated length', offset);
    const b = buf[offset + i] as number;
    len += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [len, offset + i + 1];
  }
  return fail('length too long', offset);
}

/**
 * A double as MySQL JSON prints it (my_gcvt): the shortest round-trip digits, in fixed notation
 * when the decimal point falls within 15 digits either side (or inside the digits), else in
 * exponent notation without a "+" (`1e20`, `1.5e-300`); a fixed number without a fraction gets
 * ".0" so that it stays a double.
 */
export function jsonDoubleText(d: number): string {
  if (!Number.isFinite(d)) fail('non-finite double', 0);
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const [mantissa, exponent] = Math.abs(d).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const decpt = Number(exponent) + 1; // digits × 10^(decpt − len): the point sits after `decpt` digits
  const sign = d < 0 ? '-' : '';
  if (decpt >= -14 && (decpt <= 15 || digits.length > decpt)) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${e}`;
}

function opaqueText(buf: Buffer, start: number, end: number): string {
  const fieldType = buf[start] as number;
  const [len, dataStart] = readVarLength(buf, start + 1, end);
  const dataEnd = dataStart + len;
  if (dataEnd > end) fail('truncated opaque value', start);
  switch (fieldType) {
    case ColumnType.NEWDECIMAL:
      // precision, scale, then the binary decimal; printed as a bare number, as MySQL does.
      return readDecimal(buf, dataStart + 2, buf[dataStart] as number, buf[dataStart + 1] as number);
    case ColumnType.DATE:
      return `"${packedTemporalText(buf.readBigInt64LE(dataStart), 'date')}"`;
    case ColumnType.TIME:
      return `"${packedTemporalText(buf.readBigInt64LE(dataStart), 'time')}"`;
    case ColumnType.DATETIME:
    case ColumnType.TIMESTAMP:
      return `"${packedTemporalText(buf.readBigInt64LE(dataStart), 'datetime')}"`;
    default:
      // Other opaque values (BLOB, BIT, GEOMETRY…) print as MySQL does: "base64:typeNN:…".
      return `"base64:type${fieldType}:${buf.toString('base64', dataStart, dataEnd)}"`;
  }
}

/**
 * Prints the value of type `type` whose data starts at `at`; `base` is the start of the enclosing
 * object/array (offsets inside containers are relative to it) and `end` bounds the document.
 */
function valueText(buf: Buffer, type: number, at: number, end: number): string {
  switch (type) {
    case SMALL_OBJECT:
    case LARGE_OBJECT:
      return containerText(buf, at, end, true, type === LARGE_OBJECT);
    case SMALL_ARRAY:
    case LARGE_ARRAY:
      return containerText(buf, at, end, false, type === LARGE_ARRAY);
    case LITERAL:
      return literalText(buf[at] as number, at);
    case INT16:
      return String(buf.readInt16LE(at));
    case UINT16:
      return String(buf.readUInt16LE(at));
    case INT32:
      return String(buf.readInt32LE(at));
    case UINT32:
      return String(buf.readUInt32LE(at));
    case INT64:
      return buf.readBigInt64LE(at).toString();
    case UINT64:
      return buf.readBigUInt64LE(at).toString();
    case DOUBLE:
      return jsonDoubleText(buf.readDoubleLE(at));
    case STRING: {
      const [len, s] = readVarLength(buf, at, end);
      if (s + len > end) fail('truncated string', at);
      return JSON.stringify(buf.utf8Slice(s, s + len));
    }
    case OPAQUE:
      return opaqueText(buf, at, end);
    default:
      return fail(`unknown value type ${type}`, at);
  }
}

function literalText(v: number, at: number): string {
  if (v === 0) return 'null';
  if (v === 1) return 'true';
  if (v === 2) return 'false';
  return fail(`unknown literal ${v}`, at);
}

function containerText(buf: Buffer, base: number, end: number, isObject: boolean, large: boolean): string {
  const w = large ? 4 : 2;
  const read = large ? (o: number) => buf.readUInt32LE(o) : (o: number) => buf.readUInt16LE(o);
  const count = read(base);
  const size = read(base + w);
  const limit = base + size;
  if (limit > end) fail('container larger than its document', base);
  const keyEntries = base + 2 * w;
  const valueEntries = keyEntries + (isObject ? count * (w + 2) : 0);
  let out = isObject ? '{' : '[';
  for (let i = 0; i < count; i++) {
    if (i > 0) out += ', ';
    if (isObject) {
      const ke = keyEntries + i * (w + 2);
      const keyStart = base + read(ke);
      const keyLen = buf.readUInt16LE(ke + w);
      if (keyStart + keyLen > limit) fail('key outside its object', ke);
      out += `${JSON.stringify(buf.utf8Slice(keyStart, keyStart + keyLen))}: `;
    }
    const ve = valueEntries + i * (1 + w);
    const t = buf[ve] as number;
    // Small scalars are stored inline in the entry: literals and 16-bit ints always, 32-bit ints in
    // the large format. Everything else is an offset from the container start.
    const inline = t === LITERAL || t === INT16 || t === UINT16 || (large && (t === INT32 || t === UINT32));
    out += inline ? valueText(buf, t, ve + 1, limit) : valueText(buf, t, base + read(ve + 1), limit);
  }
  return out + (isObject ? '}' : ']');
}

/**
 * Converts one binary JSON document `buf[start, end)` to JSON text. An empty value (MySQL writes one
 * for a JSON column filled in by ALTER TABLE … ADD COLUMN) is the JSON null literal, as MySQL reads it.
 */
export function jsonBinaryToText(buf: Buffer, start: number, end: number): string {
  if (end <= start) return 'null';
  return valueText(buf, buf[start] as number, start + 1, end);
}
