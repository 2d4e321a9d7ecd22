import { ByteCursor } from './byte-cursor';
import { type ColumnDef, ColumnType, type TableSchema } from './types';

/** MariaDB-only column types that appear in table maps for compressed columns. */
export const MARIADB_VARCHAR_COMPRESSED = 140;
export const MARIADB_BLOB_COMPRESSED = 141;

/** Optional metadata field types of TABLE_MAP (binlog_row_metadata=FULL). */
export const TableMapMetadata = {
  SIGNEDNESS: 1,
  DEFAULT_CHARSET: 2,
  COLUMN_CHARSET: 3,
  COLUMN_NAME: 4,
  SET_STR_VALUE: 5,
  ENUM_STR_VALUE: 6,
  GEOMETRY_TYPE: 7,
  SIMPLE_PRIMARY_KEY: 8,
  PRIMARY_KEY_WITH_PREFIX: 9,
  ENUM_AND_SET_DEFAULT_CHARSET: 10,
  ENUM_AND_SET_COLUMN_CHARSET: 11,
  COLUMN_VISIBILITY: 12,
} as const;

/** A decoded TABLE_MAP body plus what the optional metadata said beyond TableSchema. */
export interface DecodedTableMap {
  table: TableSchema;
  /** True when the metadata carried column names. */
  hasColumnNames: boolean;
  /** Per column: false for invisible columns (MySQL 8 COLUMN_VISIBILITY); absent when not sent. */
  visibility?: boolean[];
  /** Prefix length per primary-key column (0 = whole column), parallel to table.primaryKey. */
  primaryKeyPrefixes?: number[];
}

/** The schema and table names of a TABLE_MAP body, read without decoding its columns. */
export function readTableMapNames(
  buf: Buffer,
  start: number,
  end: number,
  postHeaderLength: number,
): { schema: string; table: string } {
  const c = new ByteCursor(buf, start, end);
  c.skip(postHeaderLength === 6 ? 6 : postHeaderLength);
  const schema = c.string(c.u8());
  c.skip(1);
  const table = c.string(c.u8());
  return { schema, table };
}

/**
 * Decodes a TABLE_MAP body (after the 19-byte header, without checksum) into a TableSchema.
 * `tableIdLength` is 4 for the ancient 6-byte post-header, else 6. `isMariaDb` matters for which
 * columns count as "character" columns in the charset metadata (MariaDB counts GEOMETRY).
 *
 * The packed `meta` of each column is documented on ColumnDef.meta in types.ts.
 */
export function decodeTableMap(
  buf: Buffer,
  start: number,
  end: number,
  postHeaderLength: number,
  isMariaDb: boolean,
): DecodedTableMap {
  const c = new ByteCursor(buf, start, end);
  const tableId = postHeaderLength === 6 ? c.u32() : c.u48();
  c.skip(postHeaderLength === 6 ? 2 : postHeaderLength - 6); // flags (reserved)
  const schemaLen = c.u8();
  const schema = c.string(schemaLen);
  c.skip(1);
  const tableLen = c.u8();
  const table = c.string(tableLen);
  c.skip(1);
  const columnCount = c.packed();
  const types = c.bytes(columnCount);
  const metaLen = c.packed();
  const metaEnd = c.pos + metaLen;
  c.need(metaLen);
  const columns: ColumnDef[] = new Array(columnCount);
  for (let i = 0; i < columnCount; i++) {
    const binlogType = types[i]!;
    const col: ColumnDef = { name: '', type: binlogType, meta: 0, nullable: false, unsigned: false };
    readColumnMeta(c, col, binlogType);
    columns[i] = col;
  }
  if (c.pos !== metaEnd)
    throw new Error(
      `table map of ${schema}.${table}: column metadata is ${metaLen} bytes but the column types account for ${c.pos - (metaEnd - metaLen)}`,
    );
  const nullBits = c.bytes((columnCount + 7) >> 3);
  for (let i = 0; i < columnCount; i++) columns[i]!.nullable = (nullBits[i >> 3]! & (1 << (i & 7))) !== 0;

  const result: DecodedTableMap = {
    table: { tableId: BigInt(tableId), schema, table, columns, primaryKey: [] },
    hasColumnNames: false,
  };
  if (c.remaining > 0) readOptionalMetadata(c, result, isMariaDb);
  return result;
}

function readColumnMeta(c: ByteCursor, col: ColumnDef, binlogType: number): void {
  switch (binlogType) {
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.GEOMETRY:
    case ColumnType.JSON:
    case ColumnType.VECTOR:
    case ColumnType.TIME2:
    case ColumnType.DATETIME2:
    case ColumnType.TIMESTAMP2:
    case MARIADB_BLOB_COMPRESSED:
      col.meta = c.u8();
      return;
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
    case ColumnType.BIT:
    case MARIADB_VARCHAR_COMPRESSED:
      col.meta = c.u16();
      return;
    case ColumnType.NEWDECIMAL: {
      const precision = c.u8();
      const scale = c.u8();
      col.meta = (precision << 8) | scale;
      return;
    }
    case ColumnType.STRING:
    case ColumnType.ENUM:
    case ColumnType.SET: {
      // CHAR/BINARY, ENUM and SET all arrive as STRING; the first byte holds the real type (a long
      // CHAR folds two bits of its length into it, so those keep 0x30 cleared). The type is
      // resolved here; meta keeps both bytes (the convention on ColumnDef.meta).
      const b0 = c.u8();
      const b1 = c.u8();
      const realType = (b0 & 0x30) !== 0x30 ? b0 | 0x30 : b0;
      col.type = realType === ColumnType.ENUM || realType === ColumnType.SET ? realType : ColumnType.STRING;
      col.meta = (b0 << 8) | b1;
      return;
    }
    default:
      col.meta = 0;
  }
}

/**
 * Columns that get a bit in the SIGNEDNESS metadata. MariaDB also gives YEAR a bit (MySQL does not):
 * missing it shifts the signedness of every numeric column after a YEAR column.
 */
function isNumeric(type: number, isMariaDb: boolean): boolean {
  switch (type) {
    case ColumnType.YEAR:
      return isMariaDb;
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG:
    case ColumnType.NEWDECIMAL:
    case ColumnType.DECIMAL:
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
      return true;
    default:
      return false;
  }
}

function isCharacter(type: number, isMariaDb: boolean): boolean {
  switch (type) {
    case ColumnType.STRING:
    case ColumnType.VAR_STRING:
    case ColumnType.VARCHAR:
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case MARIADB_VARCHAR_COMPRESSED:
    case MARIADB_BLOB_COMPRESSED:
      return true;
    case ColumnType.GEOMETRY:
      // MariaDB's geometry field is a blob underneath and gets a charset entry; MySQL's does not.
      return isMariaDb;
    default:
      return false;
  }
}

function isEnumOrSet(type: number): boolean {
  return type === ColumnType.ENUM || type === ColumnType.SET;
}

function readStringList(c: ByteCursor): string[] {
  const n = c.packed();
  const values: string[] = new Array(n);
  for (let i = 0; i < n; i++) values[i] = c.string(c.packed());
  return values;
}

/** Applies DEFAULT_CHARSET-style metadata: a default collation and (index, collation) exceptions. */
function applyDefaultCharset(c: ByteCursor, cols: ColumnDef[]): void {
  const def = c.packed();
  const byIndex = new Map<number, number>();
  while (c.remaining > 0) {
    const idx = c.packed();
    byIndex.set(idx, c.packed());
  }
  cols.forEach((col, i) => {
    col.charset = byIndex.get(i) ?? def;
  });
}

function applyColumnCharsets(c: ByteCursor, cols: ColumnDef[]): void {
  for (const col of cols) col.charset = c.packed();
}

function readOptionalMetadata(c: ByteCursor, out: DecodedTableMap, isMariaDb: boolean): void {
  const cols = out.table.columns;
  const numeric = cols.filter((col) => isNumeric(col.type, isMariaDb));
  const character = cols.filter((col) => isCharacter(col.type, isMariaDb));
  const enumSet = cols.filter((col) => isEnumOrSet(col.type));
  while (c.remaining > 0) {
    const fieldType = c.u8();
    const len = c.packed();
    const f = new ByteCursor(c.buf, c.pos, c.pos + len);
    c.skip(len);
    switch (fieldType) {
      case TableMapMetadata.SIGNEDNESS:
        numeric.forEach((col, i) => {
          col.unsigned = (f.buf[f.pos + (i >> 3)]! & (0x80 >> (i & 7))) !== 0;
        });
        break;
      case TableMapMetadata.DEFAULT_CHARSET:
        applyDefaultCharset(f, character);
        break;
      case TableMapMetadata.COLUMN_CHARSET:
        applyColumnCharsets(f, character);
        break;
      case TableMapMetadata.COLUMN_NAME:
        for (const col of cols) col.name = f.string(f.packed());
        out.hasColumnNames = true;
        break;
      case TableMapMetadata.SET_STR_VALUE:
        for (const col of cols) if (col.type === ColumnType.SET) col.setValues = readStringList(f);
        break;
      case TableMapMetadata.ENUM_STR_VALUE:
        for (const col of cols) if (col.type === ColumnType.ENUM) col.enumValues = readStringList(f);
        break;
      case TableMapMetadata.GEOMETRY_TYPE:
        for (const col of cols) if (col.type === ColumnType.GEOMETRY) col.geometryType = f.packed();
        break;
      case TableMapMetadata.SIMPLE_PRIMARY_KEY:
        while (f.remaining > 0) out.table.primaryKey.push(f.packed());
        break;
      case TableMapMetadata.PRIMARY_KEY_WITH_PREFIX: {
        const prefixes: number[] = [];
        while (f.remaining > 0) {
          out.table.primaryKey.push(f.packed());
          prefixes.push(f.packed());
        }
        out.primaryKeyPrefixes = prefixes;
        break;
      }
      case TableMapMetadata.ENUM_AND_SET_DEFAULT_CHARSET:
        applyDefaultCharset(f, enumSet);
        break;
      case TableMapMetadata.ENUM_AND_SET_COLUMN_CHARSET:
        applyColumnCharsets(f, enumSet);
        break;
      case TableMapMetadata.COLUMN_VISIBILITY:
        out.visibility = cols.map((_, i) => (f.buf[f.pos + (i >> 3)]! & (0x80 >> (i & 7))) !== 0);
        break;
      default:
        // Unknown metadata from a newer server: the length prefix lets us skip it.
        break;
    }
  }
}
