import type mysql from 'mysql2/promise';
import { parseEnumLabels, readInformationSchemaColumns } from '../binlog/schema-resolver';
import { type CellValue, type ColumnDef, ColumnType, type RowImage, type TableSchema } from '../binlog/types';
import type { ResolvedDatasource } from '../config/datasources';
import { openMysqlSource, quoteMysqlIdentifier, quoteMysqlTable } from '../connectors/mysql/source';
import type { TableRef } from '../pipeline/model';
import { keyCompare, keyIn, orderByKey, type SqlFragment } from './keys';

/**
 * Reading source tables with SQL so that rows look exactly like the binlog decoder's row images
 * (docs/value-representation.md): the mapper, the merger and the re-sync key comparison then treat a
 * copied row and a streamed row alike.
 */

/** A source table as the backfill sees it: the decoder-style schema plus the key it pages by. */
export interface SourceTable {
  ref: TableRef;
  schema: TableSchema;
  /** Column names of the copy key (primary key, else the first NOT NULL unique key); empty: none. */
  keyColumns: string[];
  /** Ordinals of `keyColumns` in the row images. */
  keyOrdinals: number[];
  /** information_schema.TABLES.TABLE_ROWS: an estimate (InnoDB samples it). */
  estimatedRows: number;
  /** information_schema.TABLES.AVG_ROW_LENGTH (data bytes per row, page overhead included; 0 when empty). */
  averageRowBytes: number;
}

const TYPE_OF: Record<string, number> = {
  tinyint: ColumnType.TINY,
  bool: ColumnType.TINY,
  boolean: ColumnType.TINY,
  smallint: ColumnType.SHORT,
  mediumint: ColumnType.INT24,
  int: ColumnType.LONG,
  integer: ColumnType.LONG,
  bigint: ColumnType.LONGLONG,
  float: ColumnType.FLOAT,
  double: ColumnType.DOUBLE,
  real: ColumnType.DOUBLE,
  decimal: ColumnType.NEWDECIMAL,
  numeric: ColumnType.NEWDECIMAL,
  year: ColumnType.YEAR,
  date: ColumnType.DATE,
  time: ColumnType.TIME2,
  datetime: ColumnType.DATETIME2,
  timestamp: ColumnType.TIMESTAMP2,
  bit: ColumnType.BIT,
  varchar: ColumnType.VARCHAR,
  varbinary: ColumnType.VARCHAR,
  char: ColumnType.STRING,
  binary: ColumnType.STRING,
  uuid: ColumnType.STRING,
  inet4: ColumnType.STRING,
  inet6: ColumnType.STRING,
  enum: ColumnType.ENUM,
  set: ColumnType.SET,
  json: ColumnType.JSON,
  vector: ColumnType.VARCHAR,
};

function typeCode(dataType: string): number {
  const t = TYPE_OF[dataType];
  if (t !== undefined) return t;
  if (/blob|text/.test(dataType)) return ColumnType.BLOB;
  if (/point|linestring|polygon|geometry|collection/.test(dataType)) return ColumnType.GEOMETRY;
  return ColumnType.VAR_STRING;
}

/** Base tables of the source (not views, not the `otterflow` system schema), for matching against mappings. */
export async function listSourceTables(conn: mysql.Connection): Promise<TableRef[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE'
        AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'otterflow')
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
  );
  return rows.map((r) => ({ schema: String(r.s), table: String(r.t) }));
}

/** Reads a source table's definition; throws when it does not exist. */
export async function readSourceTable(conn: mysql.Connection, ref: TableRef): Promise<SourceTable> {
  const cols = await readInformationSchemaColumns(conn, ref.schema, ref.table);
  if (cols.length === 0) throw new Error(`source table ${ref.schema}.${ref.table} does not exist`);
  const columns: ColumnDef[] = cols.map((r) => {
    const { dataType, columnType } = r;
    const binary = /binary|blob|^bit$/.test(dataType);
    const def: ColumnDef = {
      name: String(r.name),
      type: typeCode(dataType),
      meta: 0,
      nullable: r.nullable,
      unsigned: /\bunsigned\b/i.test(columnType),
      dataType,
    };
    if (r.collationId !== undefined) def.charset = r.collationId;
    else if (binary) def.charset = 63;
    if (dataType === 'enum') def.enumValues = parseEnumLabels(columnType);
    if (dataType === 'set') def.setValues = parseEnumLabels(columnType);
    return def;
  });
  const [idx] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT s.INDEX_NAME AS k, s.COLUMN_NAME AS c, s.NULLABLE AS n
       FROM information_schema.STATISTICS s
      WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.NON_UNIQUE = 0
      ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX`,
    [ref.schema, ref.table],
  );
  const keys = new Map<string, { cols: string[]; nullable: boolean }>();
  for (const r of idx) {
    const k = keys.get(String(r.k)) ?? { cols: [], nullable: false };
    if (r.c === null)
      k.nullable = true; // functional key part: not usable for paging
    else k.cols.push(String(r.c));
    if (String(r.n ?? '') === 'YES') k.nullable = true;
    keys.set(String(r.k), k);
  }
  const chosen = [...keys.values()].find((k) => !k.nullable && k.cols.length > 0);
  const keyColumns = chosen?.cols ?? [];
  const ordinal = new Map(columns.map((c, i) => [c.name, i]));
  const keyOrdinals = keyColumns.map((c) => ordinal.get(c) as number);
  const [est] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT TABLE_ROWS AS n, AVG_ROW_LENGTH AS len FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [ref.schema, ref.table],
  );
  const primary = keys.has('PRIMARY') ? keyOrdinals : [];
  return {
    ref,
    schema: { tableId: 0n, schema: ref.schema, table: ref.table, columns, primaryKey: primary },
    keyColumns,
    keyOrdinals,
    estimatedRows: Number(est[0]?.n ?? 0),
    averageRowBytes: Number(est[0]?.len ?? 0),
  };
}

/**
 * mysql2 conversions that give the decoder's representation: BIGINT as bigint, DECIMAL as its exact
 * text, BIT, geometry and VECTOR as their bytes, MySQL JSON as text (mysql2 would parse it). Dates stay text
 * (`dateStrings`) and TIMESTAMP comes in UTC because the session runs at time_zone '+00:00'.
 */
const typeCast = (
  field: {
    type: string;
    extendedFormat?: string;
    string(encoding?: string): string | null;
    buffer(): Buffer | null;
  },
  next: () => unknown,
) => {
  // MariaDB's JSON is a LONGTEXT marked 'json' in the extended metadata: mysql2 would parse it.
  if (field.extendedFormat === 'json') return field.string();
  switch (field.type) {
    case 'LONGLONG': {
      const s = field.string();
      return s === null ? null : BigInt(s);
    }
    case 'NEWDECIMAL':
    case 'DECIMAL':
      return field.string();
    case 'JSON':
      // MySQL labels JSON results binary (charset 63); the text is UTF-8.
      return field.string('utf8');
    case 'BIT':
    case 'GEOMETRY':
    // MySQL 9 VECTOR: its float32 bytes, as the binlog carries them (mysql2 would make a JS array,
    // which a statement parameter would spread into several values).
    case 'VECTOR':
      return field.buffer();
    default:
      return next();
  }
};

/**
 * Opens a source connection for copying: exact values, UTC session, READ COMMITTED (each chunk
 * SELECT is its own consistent snapshot; no long-lived read view holds back purge).
 */
export async function openSourceReader(ds: ResolvedDatasource): Promise<mysql.Connection> {
  const conn = await openMysqlSource(ds, { typeCast: typeCast as never });
  await conn.query("SET time_zone = '+00:00'");
  await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
  return conn;
}

/** What a chunk SELECT reads: rows after `after` (exclusive), up to `upTo` (inclusive), matching `where`. */
export interface ChunkBounds {
  after?: CellValue[];
  upTo?: CellValue[];
  /** Re-sync by keys: only these keys. */
  keys?: CellValue[][];
  /** Re-sync by condition: validated SQL (see where-check.ts). */
  where?: string;
  limit?: number;
}

/** The SELECT of one chunk, in key order: every column, or the expressions of `selectList`. */
export function chunkSelect(table: SourceTable, b: ChunkBounds, selectList?: readonly string[]): SqlFragment {
  const cols = (selectList ?? table.schema.columns.map((c) => quoteMysqlIdentifier(c.name))).join(', ');
  const conds: string[] = [];
  const params: CellValue[] = [];
  const add = (f: SqlFragment) => {
    conds.push(f.sql);
    params.push(...f.params);
  };
  if (b.after) add(keyCompare(table.keyColumns, b.after, '>'));
  if (b.upTo) add(keyCompare(table.keyColumns, b.upTo, '<='));
  if (b.keys) add(keyIn(table.keyColumns, b.keys));
  if (b.where) conds.push(`(${b.where})`);
  let sql = `SELECT ${cols} FROM ${quoteMysqlTable(table.ref)}`;
  if (conds.length) sql += ` WHERE ${conds.join(' AND ')}`;
  if (table.keyColumns.length) sql += ` ${orderByKey(table.keyColumns)}`;
  if (b.limit !== undefined) sql += ` LIMIT ${Math.floor(b.limit)}`;
  return { sql, params };
}

/** Runs a chunk SELECT and returns decoder-style row images (column ordinal order). */
export async function readChunk(
  conn: mysql.Connection,
  table: SourceTable,
  b: ChunkBounds,
): Promise<RowImage[]> {
  const q = chunkSelect(table, b);
  const [rows] = await conn.query<mysql.RowDataPacket[]>({ sql: q.sql, rowsAsArray: true }, q.params);
  return rows as unknown as RowImage[];
}

/** The key tuple of a row image. */
export function keyOf(table: SourceTable, row: RowImage): CellValue[] {
  return table.keyOrdinals.map((i) => row[i] as CellValue);
}
