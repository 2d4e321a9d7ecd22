/**
 * The decoded data model shared by the binlog decoder, the pipeline and the connectors.
 * How each MySQL type maps to a CellValue is written down in docs/value-representation.md;
 * the rule is that every value re-inserts as the identical stored value.
 */

/**
 * One column value.
 * - null: SQL NULL
 * - number: TINYINT/SMALLINT/MEDIUMINT/INT (signed or unsigned), YEAR, FLOAT, DOUBLE,
 *   ENUM/SET index/bitmask when the server sent no value names
 * - bigint: BIGINT (signed and unsigned, up to 2^64-1)
 * - string: DECIMAL (exact digits), DATE/DATETIME/TIMESTAMP/TIME (MySQL text form, TIMESTAMP in UTC),
 *   character strings decoded from their charset, ENUM/SET labels, JSON text
 * - Buffer: BINARY/VARBINARY/BLOB, BIT (big-endian bytes), GEOMETRY (MySQL internal form:
 *   4-byte little-endian SRID + WKB), strings in a charset we cannot decode
 */
export type CellValue = null | number | bigint | string | Buffer;

/**
 * A row image indexed by column ordinal. `undefined` means the column is absent from the image
 * (MINIMAL/NOBLOB row images); it is never confused with `null` (SQL NULL).
 */
export type RowImage = Array<CellValue | undefined>;

/** MySQL column type codes as they appear in TABLE_MAP events (enum_field_types). */
export const ColumnType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  TYPED_ARRAY: 20,
  VECTOR: 242,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;
export type ColumnTypeCode = (typeof ColumnType)[keyof typeof ColumnType];

/** One column as the decoder knows it: from the table map (type, meta) plus optional metadata. */
export interface ColumnDef {
  /**
   * Column name; from TABLE_MAP optional metadata (binlog_row_metadata=FULL) or information_schema.
   * The empty string when neither was available (the CLI prints such columns as `@1`, `@2`, …).
   */
  name: string;
  /** Real type after resolving STRING-encoded ENUM/SET (see the decoder). */
  type: number;
  /**
   * Type metadata from the table map, packed into one number by the decoder (src/binlog/table-map.ts):
   * - NEWDECIMAL: precision << 8 | scale
   * - STRING (CHAR/BINARY), ENUM, SET: the two table-map bytes as first << 8 | second (MySQL's own
   *   convention, what mysqlbinlog prints as meta=): real type and length folded together; `type`
   *   already says ENUM/SET/STRING, and values/column-type.ts resolveColumnType unfolds the length
   *   (ENUM/SET: storage size in bytes in the low byte)
   * - VARCHAR/VAR_STRING: maximum length in bytes (a length prefix of 2 bytes when > 255)
   * - BIT: (whole bytes << 8) | (bits in the partial byte); BIT(n) has n = bytes * 8 + bits
   * - BLOB/TEXT/GEOMETRY/JSON: size of the length prefix (1–4 bytes)
   * - FLOAT/DOUBLE: 4/8
   * - TIME2/DATETIME2/TIMESTAMP2: fractional second precision (0–6)
   * - everything else: 0
   */
  meta: number;
  nullable: boolean;
  unsigned: boolean;
  /** Collation id for character columns; 63 means binary. */
  charset?: number;
  enumValues?: string[];
  setValues?: string[];
  /** Geometry subtype from metadata, when known. */
  geometryType?: number;
  /**
   * information_schema.COLUMNS.DATA_TYPE in lower case, when known. Needed for MariaDB's UUID,
   * INET4 and INET6, which the binlog logs as plain BINARY(16)/BINARY(4)/BINARY(16): with
   * dataType 'uuid' | 'inet4' | 'inet6' the decoder returns their text form instead of bytes.
   */
  dataType?: string;
}

/** A table as described by a TABLE_MAP event (and completed from information_schema if needed). */
export interface TableSchema {
  tableId: bigint;
  schema: string;
  table: string;
  columns: ColumnDef[];
  /** Ordinals of the primary key columns, in key order; empty when the table has none. */
  primaryKey: number[];
}

/** A point in a source's binlog. Only transaction boundaries are used as resume points. */
export interface BinlogPosition {
  file: string;
  /** Offset of the next event to read. */
  pos: number;
  /**
   * GTID state to resume from: MariaDB `domain-server-seq[,…]` or a MySQL GTID set
   * `uuid:1-5[,…]`. Absent when the source has no GTIDs.
   */
  gtid?: string;
}

export type RowChangeKind = 'insert' | 'update' | 'delete';

/** One changed row, as decoded from a write/update/delete rows event. */
export type RowChange =
  | { kind: 'insert'; table: TableSchema; after: RowImage }
  | { kind: 'update'; table: TableSchema; before: RowImage; after: RowImage }
  | { kind: 'delete'; table: TableSchema; before: RowImage };
