/**
 * A minimal binlog file walker for the value-decoding tests: it finds TABLE_MAP and rows events and
 * decodes their row images with compileRowImageDecoder. It is deliberately small (no GTIDs, no
 * compressed or partial events); the real event decoder lives in src/binlog/.
 */

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type ColumnDef, ColumnType, type RowImage, type TableSchema } from '../../src/binlog/types';
import { resolveColumnType } from '../../src/binlog/values/column-type';
import { compileRowImageDecoder, type RowImageDecoder } from '../../src/binlog/values/row-image';
import { readColumnMetas } from './column-metas';

export interface WalkedRows {
  table: TableSchema;
  kind: 'insert' | 'update' | 'delete';
  /** For updates: before, after, before, after, … */
  rows: RowImage[];
}

export interface WalkOptions {
  /** Collation to assume for character columns when the table map carries none (old servers). */
  defaultCharset?: number;
  /** Called once per table map to complete the schema (e.g. dataType from information_schema). */
  complete?: (table: TableSchema) => void;
  /** Called before each row image is decoded, with the bytes it starts at. */
  onRowImage?: (table: TableSchema, buf: Buffer, offset: number, present: Buffer) => void;
}

function lenenc(buf: Buffer, o: number): [number, number] {
  const b = buf[o] as number;
  if (b < 0xfb) return [b, o + 1];
  if (b === 0xfc) return [buf.readUInt16LE(o + 1), o + 3];
  if (b === 0xfd) return [buf.readUIntLE(o + 1, 3), o + 4];
  return [Number(buf.readBigUInt64LE(o + 1)), o + 9];
}

function isNumeric(type: number, mariadb: boolean): boolean {
  switch (type) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG:
    case ColumnType.NEWDECIMAL:
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
      return true;
    case ColumnType.YEAR:
      // MariaDB's YEAR is a Field_num and gets a signedness bit; MySQL's does not.
      return mariadb;
    default:
      return false;
  }
}

function isCharacter(type: number): boolean {
  return (
    type === ColumnType.STRING ||
    type === ColumnType.VARCHAR ||
    type === ColumnType.VAR_STRING ||
    type === ColumnType.BLOB
  );
}

function readStrings(buf: Buffer, o: number, end: number): string[][] {
  const out: string[][] = [];
  while (o < end) {
    let count: number;
    [count, o] = lenenc(buf, o);
    const labels: string[] = [];
    for (let i = 0; i < count; i++) {
      let len: number;
      [len, o] = lenenc(buf, o);
      labels.push(buf.toString('utf8', o, o + len));
      o += len;
    }
    out.push(labels);
  }
  return out;
}

function parseTableMap(body: Buffer, mariadb: boolean, opts: WalkOptions): TableSchema {
  const tableId = BigInt(body.readUIntLE(0, 6));
  let o = 8;
  const schemaLen = body[o] as number;
  const schema = body.toString('utf8', o + 1, o + 1 + schemaLen);
  o += schemaLen + 2;
  const tableLen = body[o] as number;
  const table = body.toString('utf8', o + 1, o + 1 + tableLen);
  o += tableLen + 2;
  let n: number;
  [n, o] = lenenc(body, o);
  const types = [...body.subarray(o, o + n)];
  o += n;
  let metaLen: number;
  [metaLen, o] = lenenc(body, o);
  const metas = readColumnMetas(types, body, o);
  o += metaLen;
  const nullable = body.subarray(o, o + ((n + 7) >> 3));
  o += (n + 7) >> 3;
  const columns: ColumnDef[] = types.map((t, i) => {
    const r = resolveColumnType(t, metas[i] as number);
    return {
      name: `@${i + 1}`,
      type: r.type === ColumnType.ENUM || r.type === ColumnType.SET ? r.type : t,
      meta: r.type === ColumnType.ENUM || r.type === ColumnType.SET ? r.meta : (metas[i] as number),
      nullable: ((nullable[i >> 3] as number) & (1 << (i & 7))) !== 0,
      unsigned: false,
    };
  });
  const realTypes = columns.map((c) => resolveColumnType(c.type, c.meta).type);
  const numeric = columns.map((_, i) => i).filter((i) => isNumeric(realTypes[i] as number, mariadb));
  const character = columns.map((_, i) => i).filter((i) => isCharacter(realTypes[i] as number));
  const enums = columns.map((_, i) => i).filter((i) => realTypes[i] === ColumnType.ENUM);
  const sets = columns.map((_, i) => i).filter((i) => realTypes[i] === ColumnType.SET);
  let sawCharset = false;
  while (o < body.length) {
    const t = body[o] as number;
    let len: number;
    [len, o] = lenenc(body, o + 1);
    const end = o + len;
    if (t === 1) {
      numeric.forEach((col, j) => {
        (columns[col] as ColumnDef).unsigned = ((body[o + (j >> 3)] as number) & (0x80 >> (j & 7))) !== 0;
      });
    } else if (t === 2) {
      sawCharset = true;
      let p = o;
      let dflt: number;
      [dflt, p] = lenenc(body, p);
      for (const col of character) (columns[col] as ColumnDef).charset = dflt;
      while (p < end) {
        let idx: number;
        let coll: number;
        [idx, p] = lenenc(body, p);
        [coll, p] = lenenc(body, p);
        (columns[character[idx] as number] as ColumnDef).charset = coll;
      }
    } else if (t === 3) {
      sawCharset = true;
      let p = o;
      for (const col of character) {
        let coll: number;
        [coll, p] = lenenc(body, p);
        (columns[col] as ColumnDef).charset = coll;
      }
    } else if (t === 4) {
      let p = o;
      for (const c of columns) {
        let l: number;
        [l, p] = lenenc(body, p);
        c.name = body.toString('utf8', p, p + l);
        p += l;
      }
    } else if (t === 5) {
      readStrings(body, o, end).forEach((labels, j) => {
        (columns[sets[j] as number] as ColumnDef).setValues = labels;
      });
    } else if (t === 6) {
      readStrings(body, o, end).forEach((labels, j) => {
        (columns[enums[j] as number] as ColumnDef).enumValues = labels;
      });
    }
    o = end;
  }
  if (!sawCharset && opts.defaultCharset !== undefined) {
    for (const col of character) {
      const c = columns[col] as ColumnDef;
      // Old servers send no charsets: assume the given one for text, keep BLOBs as bytes.
      if (realTypes[col] !== ColumnType.BLOB) c.charset = opts.defaultCharset;
    }
  }
  const schemaOut: TableSchema = { tableId, schema, table, columns, primaryKey: [] };
  opts.complete?.(schemaOut);
  return schemaOut;
}

/** Walks a binlog file (gzip allowed) and returns every rows event's decoded row images. */
export function walkBinlogRows(path: string, opts: WalkOptions = {}): WalkedRows[] {
  let file = readFileSync(path);
  if (file[0] === 0x1f && file[1] === 0x8b) file = gunzipSync(file);
  if (file.readUInt32BE(0) !== 0xfe62696e) throw new Error(`${path}: not a binlog file`);
  let pos = 4;
  let checksum = 0;
  let mariadb = false;
  const tables = new Map<bigint, { schema: TableSchema; decoder: RowImageDecoder }>();
  const out: WalkedRows[] = [];
  while (pos + 19 <= file.length) {
    const type = file[pos + 4] as number;
    const size = file.readUInt32LE(pos + 9);
    if (size < 19 || pos + size > file.length) throw new Error(`${path}: bad event at ${pos}`);
    const event = file.subarray(pos, pos + size);
    if (type === 15) {
      const version = event.toString('latin1', 21, 71).replace(/\0.*$/s, '');
      mariadb = version.includes('MariaDB');
      const [maj, min, patch] = version.split(/[.-]/).map(Number);
      const hasAlg = (maj ?? 0) * 10000 + (min ?? 0) * 100 + (patch ?? 0) >= 50601;
      checksum = hasAlg && event[size - 5] === 1 ? 4 : 0;
    }
    const body = event.subarray(19, size - (type === 15 ? 0 : checksum));
    if (type === 19) {
      const schema = parseTableMap(body, mariadb, opts);
      tables.set(schema.tableId, { schema, decoder: compileRowImageDecoder(schema) });
    } else if ((type >= 23 && type <= 25) || (type >= 30 && type <= 32)) {
      const v2 = type >= 30;
      const kind = (['insert', 'update', 'delete'] as const)[(type - (v2 ? 30 : 23)) as 0 | 1 | 2];
      const t = tables.get(BigInt(body.readUIntLE(0, 6)));
      if (!t) throw new Error(`${path}: rows event at ${pos} without table map`);
      let o = 8;
      if (v2) o += body.readUInt16LE(o);
      let n: number;
      [n, o] = lenenc(body, o);
      const bitmapLen = (n + 7) >> 3;
      const present = Buffer.from(body.subarray(o, o + bitmapLen));
      o += bitmapLen;
      let presentAfter = present;
      if (kind === 'update') {
        presentAfter = Buffer.from(body.subarray(o, o + bitmapLen));
        o += bitmapLen;
      }
      const rows: RowImage[] = [];
      let i = 0;
      while (o < body.length) {
        const row: RowImage = [];
        const rowPresent = kind === 'update' && i % 2 === 1 ? presentAfter : present;
        opts.onRowImage?.(t.schema, body, o, rowPresent);
        o = t.decoder.decode(body, o, kind === 'update' && i % 2 === 1 ? presentAfter : present, row);
        rows.push(row);
        i++;
      }
      out.push({ table: t.schema, kind, rows });
    }
    pos += size;
  }
  return out;
}
