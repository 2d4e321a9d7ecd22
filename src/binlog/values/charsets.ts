import './buffer-slices';
import { COLLATION_ID_RANGES, SINGLE_BYTE_TABLES } from './charset-tables.generated';
import { copyBytes } from './numeric';

/**
 * Decodes `buf[start, end)` of a character column. Returns a string only when the bytes decode
 * exactly (re-encoding the string in the column's charset gives the same bytes); otherwise a Buffer
 * copy, which re-inserts byte for byte.
 */
export type TextDecodeFn = (buf: Buffer, start: number, end: number) => string | Buffer;

/** The collation id of the `binary` pseudo-charset (BINARY/VARBINARY/BLOB columns). */
export const BINARY_COLLATION = 63;

/** Charset name of a MySQL or MariaDB collation id, or undefined when the id is unknown. */
export function charsetOfCollation(id: number): string | undefined {
  let lo = 0;
  let hi = COLLATION_ID_RANGES.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = COLLATION_ID_RANGES[mid] as readonly [number, number, string];
    if (id < r[0]) hi = mid - 1;
    else if (id > r[1]) lo = mid + 1;
    else return r[2];
  }
  return undefined;
}

function utf8(buf: Buffer, start: number, end: number): string {
  return buf.utf8Slice(start, end);
}

/** ucs2 and utf16 are big-endian in MySQL; Node only decodes little-endian, so swap a copy. */
function utf16be(buf: Buffer, start: number, end: number): string | Buffer {
  if ((end - start) % 2 !== 0) return copyBytes(buf, start, end);
  return copyBytes(buf, start, end).swap16().ucs2Slice();
}

function utf16le(buf: Buffer, start: number, end: number): string | Buffer {
  if ((end - start) % 2 !== 0) return copyBytes(buf, start, end);
  return buf.ucs2Slice(start, end);
}

function utf32(buf: Buffer, start: number, end: number): string | Buffer {
  if ((end - start) % 4 !== 0) return copyBytes(buf, start, end);
  let out = '';
  for (let o = start; o < end; o += 4) {
    const cp = buf.readUInt32BE(o);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return copyBytes(buf, start, end);
    out += String.fromCodePoint(cp);
  }
  return out;
}

/**
 * A decoder for a byte-per-character charset from its 256-character table (read from the server by
 * generate-charset-tables.ts). Runs of bytes that decode to themselves (ASCII, and latin1 outside
 * 0x80–0x9F) go through latin1Slice, which is the fast path for typical text.
 */
function singleByte(table: string): TextDecodeFn {
  const identity = new Uint8Array(256);
  const codes = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    codes[b] = table.charCodeAt(b);
    identity[b] = codes[b] === b ? 1 : 0;
  }
  return (buf, start, end) => {
    let i = start;
    while (i < end && identity[buf[i] as number] === 1) i++;
    if (i === end) return buf.latin1Slice(start, end);
    let out = buf.latin1Slice(start, i);
    for (; i < end; i++) {
      const c = codes[buf[i] as number] as number;
      if (c === 0xffff) return copyBytes(buf, start, end);
      out += String.fromCharCode(c);
    }
    return out;
  };
}

/**
 * gbk is the one multi-byte legacy charset where the WHATWG decoder agrees with MariaDB on every
 * two-byte code (checked against the server by test/integration/binlog-values-charsets.test.ts).
 * Others (big5, sjis, cp932, ujis, eucjpms, euckr, gb2312, gb18030) map dozens to thousands of codes
 * differently, so their values stay Buffers.
 */
function gbk(): TextDecodeFn {
  const decoder = new TextDecoder('gbk', { fatal: true });
  return (buf, start, end) => {
    let i = start;
    while (i < end && (buf[i] as number) < 0x80) i++;
    if (i === end) return buf.latin1Slice(start, end);
    try {
      return decoder.decode(buf.subarray(start, end));
    } catch {
      return copyBytes(buf, start, end);
    }
  };
}

const cache = new Map<string, TextDecodeFn>();

/**
 * The text decoder for a column's collation id, or null when its values are bytes (binary collation
 * 63, an unknown id, or a charset we cannot decode exactly). Use it once per column when compiling a
 * row decoder, never per value.
 */
export function textDecoderFor(collationId: number | undefined): TextDecodeFn | null {
  if (collationId === undefined || collationId === BINARY_COLLATION) return null;
  const cs = charsetOfCollation(collationId);
  if (cs === undefined) return null;
  const known = cache.get(cs);
  if (known) return known;
  let fn: TextDecodeFn | null = null;
  switch (cs) {
    case 'utf8mb4':
    case 'utf8mb3':
    case 'utf8':
      fn = utf8;
      break;
    case 'ucs2':
    case 'utf16':
      fn = utf16be;
      break;
    case 'utf16le':
      fn = utf16le;
      break;
    case 'utf32':
      fn = utf32;
      break;
    case 'gbk':
      fn = gbk();
      break;
    default: {
      const table = SINGLE_BYTE_TABLES[cs];
      if (table !== undefined) fn = singleByte(table);
    }
  }
  if (fn) cache.set(cs, fn);
  return fn;
}

/** True for charsets decoded with plain UTF-8 (the compiled decoder inlines utf8Slice for them). */
export function isUtf8Collation(collationId: number | undefined): boolean {
  const cs = collationId === undefined ? undefined : charsetOfCollation(collationId);
  return cs === 'utf8mb4' || cs === 'utf8mb3' || cs === 'utf8';
}
