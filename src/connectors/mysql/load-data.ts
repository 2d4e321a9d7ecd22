import { Readable } from 'node:stream';
import type mysql from 'mysql2/promise';
import {
  BINARY_TYPE_NAMES as BINARY_TYPES,
  GEOMETRY_TYPE_NAME_SET as GEOMETRY_TYPES,
  NUMBER_TYPE_NAMES as NUMBER_TYPES,
  TEMPORAL_TYPE_NAMES as TEMPORAL_TYPES,
  TEXT_TYPE_NAMES as TEXT_TYPES,
} from '../../binlog/data-type-names';
import type { CellValue } from '../../binlog/types';
import type { Row, TableRef } from '../../pipeline/model';
import { quoteMysqlIdentifier, quoteMysqlTable } from './dialect';

/**
 * Bulk inserts with `LOAD DATA LOCAL INFILE` fed from memory (no temp file), for loads into rows
 * nobody else writes (the backfill's initial load). The rows travel as tab-separated text in
 * `CHARACTER SET binary`, so the server converts nothing on the way: every value is written in the
 * form that stores the same value as the applier's upsert of the same CellValue
 * (docs/value-representation.md).
 *
 * Not an upsert: the server treats LOCAL loads as IGNORE, so a row colliding with an existing key is
 * skipped and a value it cannot store is adjusted, each with a warning. {@link loadRows} therefore
 * reports whether the load was clean (every row inserted, no warning); a caller in a transaction
 * rolls back otherwise and writes the rows another way.
 */

/** How a target column's values are written in the load file. */
export type LoadColumnKind =
  /** Integer, FLOAT/DOUBLE, DECIMAL: numbers as decimal text. */
  | 'number'
  /** YEAR: four digits, because the text `0` would store 2000 (the number 0 stores 0000). */
  | 'year'
  /** DATE, DATETIME, TIMESTAMP, TIME: the text as is. */
  | 'temporal'
  /** Text in utf8mb4/utf8mb3 (CHAR, VARCHAR, TEXT, ENUM, SET, MariaDB JSON): UTF-8 bytes, or a Buffer's bytes. */
  | 'utf8'
  /** BINARY, VARBINARY, BLOB: a Buffer's bytes; a string's UTF-8 bytes (what the upsert stores too). */
  | 'bytes'
  /** BIT and geometry: hex text through `SET col = UNHEX(@v)` (the server's binary-string assignment). */
  | 'unhex'
  /**
   * Text in any other character set, MariaDB UUID/INET4/INET6 and MySQL JSON: UTF-8 text through
   * `SET col = CONVERT(@v USING utf8mb4)`, so the server converts it as it converts an upsert's
   * utf8mb4 parameter (UUID/INET would read a binary string of their binary length as raw bytes).
   */
  | 'convert';

export interface LoadColumn {
  name: string;
  kind: LoadColumnKind;
  /** 'convert' only: the character set the file's bytes are in (default utf8mb4). */
  charset?: string;
}

/**
 * The load kind of a column from information_schema.COLUMNS (`DATA_TYPE`, `CHARACTER_SET_NAME`);
 * undefined for a type this path does not handle (the caller then uses upserts).
 */
export function loadColumnKind(dataType: string, charset: string | null): LoadColumnKind | undefined {
  const t = dataType.toLowerCase();
  if (NUMBER_TYPES.has(t)) return 'number';
  if (t === 'year') return 'year';
  if (TEMPORAL_TYPES.has(t)) return 'temporal';
  if (BINARY_TYPES.has(t)) return 'bytes';
  if (t === 'bit' || GEOMETRY_TYPES.has(t)) return 'unhex';
  if (t === 'uuid' || t === 'inet4' || t === 'inet6' || t === 'json') return 'convert';
  if (TEXT_TYPES.has(t)) {
    const cs = (charset ?? '').toLowerCase();
    if (cs === 'utf8mb4' || cs === 'utf8mb3' || cs === 'utf8') return 'utf8';
    if (cs === 'binary') return 'bytes';
    return 'convert';
  }
  return undefined;
}

/** A column's type as information_schema.COLUMNS has it. */
export interface ColumnTypeInfo {
  name: string;
  /** DATA_TYPE, lowercase. */
  dataType: string;
  /** CHARACTER_SET_NAME, lowercase; null for non-text columns. */
  charset: string | null;
}

/** The columns of a table with their DATA_TYPE and character set, in table order. */
export async function readColumnTypes(conn: mysql.Connection, ref: TableRef): Promise<ColumnTypeInfo[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, CHARACTER_SET_NAME AS charset
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [ref.schema, ref.table],
  );
  return rows.map((r) => ({
    name: String(r.name),
    dataType: String(r.dataType).toLowerCase(),
    charset: r.charset === null ? null : String(r.charset).toLowerCase(),
  }));
}

/** The columns of a target table with their load kinds, in table order (undefined kind: not loadable). */
export async function readLoadColumns(
  conn: mysql.Connection,
  ref: TableRef,
): Promise<Array<{ name: string; kind: LoadColumnKind | undefined; charset: string | null }>> {
  return (await readColumnTypes(conn, ref)).map((c) => ({
    name: c.name,
    kind: loadColumnKind(c.dataType, c.charset),
    charset: c.charset,
  }));
}

/** The LOAD DATA statement for `columns` (in file order). */
export function loadDataSql(ref: TableRef, columns: readonly LoadColumn[]): string {
  const targets: string[] = [];
  const sets: string[] = [];
  columns.forEach((c, i) => {
    const col = quoteMysqlIdentifier(c.name);
    if (c.kind === 'unhex') {
      targets.push(`@v${i}`);
      sets.push(`${col} = UNHEX(@v${i})`);
    } else if (c.kind === 'convert') {
      targets.push(`@v${i}`);
      sets.push(`${col} = CONVERT(@v${i} USING ${charsetName(c.charset ?? 'utf8mb4')})`);
    } else targets.push(col);
  });
  // The file name is never opened: the stream factory answers the server's request for it.
  let sql =
    `LOAD DATA LOCAL INFILE 'otterflow-rows' INTO TABLE ${quoteMysqlTable(ref)}` +
    ` CHARACTER SET binary FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\'` +
    ` LINES TERMINATED BY '\\n' (${targets.join(', ')})`;
  if (sets.length) sql += ` SET ${sets.join(', ')}`;
  return sql;
}

function charsetName(cs: string): string {
  if (!/^[a-z0-9_]+$/i.test(cs)) throw new Error(`not a character set name: ${cs}`);
  return cs;
}

/** A value this path cannot write exactly (the caller uses upserts for the batch). */
export class NotLoadableError extends Error {
  constructor(column: string, value: CellValue) {
    super(`column ${column}: a ${value instanceof Buffer ? 'Buffer' : typeof value} value is not loadable`);
    this.name = 'NotLoadableError';
  }
}

// Bytes that the server's field reader would take as separators or escapes.
const SPECIAL_TEXT = /[\t\n\\\0]/;
const SPECIAL_TEXT_ALL = /[\t\n\\\0]/g;
const ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\\': '\\\\', '\0': '\\0' };
const escapeChar = (c: string) => ESCAPES[c] as string;

function escapeText(s: string): string {
  return SPECIAL_TEXT.test(s) ? s.replace(SPECIAL_TEXT_ALL, escapeChar) : s;
}

function escapeBytes(b: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === 9 || c === 10 || c === 92 || c === 0) extra++;
  }
  if (extra === 0) return b;
  const out = Buffer.allocUnsafe(b.length + extra);
  let o = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === 9) {
      out[o++] = 92;
      out[o++] = 116; // t
    } else if (c === 10) {
      out[o++] = 92;
      out[o++] = 110; // n
    } else if (c === 92) {
      out[o++] = 92;
      out[o++] = 92;
    } else if (c === 0) {
      out[o++] = 92;
      out[o++] = 48; // 0
    } else out[o++] = c;
  }
  return out;
}

/**
 * Encodes rows as the load file: one line per row, fields separated by tabs, NULL as `\\N`; value i
 * of a row goes to column i. Text accumulates in a JS string and becomes UTF-8 once per run of text;
 * Buffer values are spliced in as their (escaped) bytes. Throws {@link NotLoadableError} for a value
 * whose type the column's kind cannot write exactly (or a missing value).
 */
export function encodeLoadRows(
  columns: readonly LoadColumn[],
  rows: Iterable<ReadonlyArray<CellValue | undefined>>,
): Buffer[] {
  const parts: Buffer[] = [];
  let text = '';
  const n = columns.length;
  for (const row of rows) {
    if (row.length !== n) throw new NotLoadableError(`(${row.length} values for ${n} columns)`, null);
    for (let i = 0; i < n; i++) {
      const v = row[i];
      if (i > 0) text += '\t';
      if (v === null) {
        text += '\\N';
        continue;
      }
      if (typeof v === 'number' && columns[i]?.kind === 'number') {
        text += String(v); // the common case, without the dispatch below
        continue;
      }
      const col = columns[i] as LoadColumn;
      if (v === undefined) throw new NotLoadableError(col.name, null);
      const field = fieldOf(col, v);
      if (typeof field === 'string') text += field;
      else {
        if (text) parts.push(Buffer.from(text, 'utf8'));
        text = '';
        parts.push(field);
      }
    }
    text += '\n';
    // Keep the pending text moderate: one huge string costs more to build and to encode.
    if (text.length > 1 << 20) {
      parts.push(Buffer.from(text, 'utf8'));
      text = '';
    }
  }
  if (text) parts.push(Buffer.from(text, 'utf8'));
  return parts;
}

/** Mapped rows (by target column name) as value arrays in `columns` order, for {@link encodeLoadRows}. */
export function rowsInColumnOrder(columns: readonly LoadColumn[], rows: readonly Row[]): CellValue[][] {
  const out: CellValue[][] = [];
  for (const row of rows) {
    if (row.size !== columns.length) throw new NotLoadableError(`(${row.size} columns)`, null);
    out.push(columns.map((c) => row.get(c.name) as CellValue));
  }
  return out;
}

function fieldOf(col: LoadColumn, v: Exclude<CellValue, null>): string | Buffer {
  switch (col.kind) {
    case 'number':
      if (typeof v === 'number' || typeof v === 'bigint') return String(v);
      if (typeof v === 'string') return escapeText(v); // DECIMAL text
      break;
    case 'year':
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 9999)
        return String(v).padStart(4, '0');
      break;
    case 'temporal':
      if (typeof v === 'string') return escapeText(v);
      break;
    case 'utf8':
    case 'bytes':
      if (typeof v === 'string') return escapeText(v);
      if (v instanceof Buffer) return escapeBytes(v);
      break;
    case 'unhex':
      if (v instanceof Buffer) return v.toString('hex');
      break;
    case 'convert':
      if (typeof v === 'string') return escapeText(v);
      break;
  }
  throw new NotLoadableError(col.name, v);
}

export interface LoadOutcome {
  /** Rows the server inserted. */
  inserted: number;
  /** Warnings (skipped duplicates, adjusted values): any warning means the load was not exact. */
  warnings: number;
  /** Every row inserted and no warning. */
  clean: boolean;
}

/**
 * Runs one LOAD DATA LOCAL of `rows` into `ref`. Run it inside the caller's transaction and roll
 * back unless `clean`. Throws {@link NotLoadableError} before sending anything when a value cannot be
 * written exactly, and the server's error when it refuses LOCAL loads (`local_infile` off).
 */
export function loadRows(
  conn: mysql.Connection,
  ref: TableRef,
  columns: readonly LoadColumn[],
  rows: readonly Row[],
): Promise<LoadOutcome> {
  if (rows.length === 0) return Promise.resolve({ inserted: 0, warnings: 0, clean: true });
  return loadFile(conn, ref, columns, encodeLoadRows(columns, rowsInColumnOrder(columns, rows)), rows.length);
}

/** {@link loadRows} for a file already encoded with {@link encodeLoadRows} (`rowCount` lines). */
export async function loadFile(
  conn: mysql.Connection,
  ref: TableRef,
  columns: readonly LoadColumn[],
  file: readonly Buffer[],
  rowCount: number,
): Promise<LoadOutcome> {
  const [res] = await conn.query<mysql.ResultSetHeader>({
    sql: loadDataSql(ref, columns),
    infileStreamFactory: () => Readable.from(file, { objectMode: false }),
  } as mysql.QueryOptions);
  const inserted = Number(res.affectedRows);
  const warnings = Number(res.warningStatus ?? 0);
  return { inserted, warnings, clean: inserted === rowCount && warnings === 0 };
}
