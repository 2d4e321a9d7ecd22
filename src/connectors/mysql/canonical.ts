import type { CellValue } from '../../binlog/types';
import {
  canonicalDateTime,
  canonicalJson,
  canonicalNumber,
  canonicalTime,
  hexOf,
  integerKeyValue,
  numericText,
  textOf,
} from '../canonical';
import type { CanonicalValue, TargetRowCodec } from '../target';

/**
 * The canonical form of MySQL/MariaDB column values (pure), by the target column's information_schema
 * DATA_TYPE. The applier hands values to the server unconverted, so a source row's canonical form is
 * computed from its values directly; a value read back (as bytes, see {@link fromReadBytes}) goes
 * through the same function.
 *
 * | types | form |
 * |---|---|
 * | integers, YEAR, DECIMAL | decimal text, no trailing fraction zeros (`1.50` → `1.5`) |
 * | FLOAT | the float32 value as JS prints it (`1.1`) |
 * | DOUBLE | the double as decimal text |
 * | BIT | its unsigned integer |
 * | DATE, DATETIME, TIMESTAMP (session at UTC) | `YYYY-MM-DD[ HH:MM:SS[.f…]]`, no trailing fraction zeros |
 * | TIME | `[-]H…:MM:SS[.f…]`, no trailing fraction zeros |
 * | binary strings, BLOBs, geometry, VECTOR | lower-case hex of the bytes |
 * | JSON | parsed and printed with sorted keys |
 * | CHAR | the text without trailing spaces (MySQL strips them on read) |
 * | other text (VARCHAR, TEXT, ENUM, SET, …) | the text |
 */

export type MysqlValueClass =
  | 'integer'
  | 'decimal'
  | 'float'
  | 'double'
  | 'bit'
  | 'date'
  | 'datetime'
  | 'time'
  | 'bytes'
  | 'json'
  | 'char'
  | 'text';

const CLASS_OF: Record<string, MysqlValueClass> = {
  tinyint: 'integer',
  smallint: 'integer',
  mediumint: 'integer',
  int: 'integer',
  integer: 'integer',
  bigint: 'integer',
  year: 'integer',
  bool: 'integer',
  boolean: 'integer',
  decimal: 'decimal',
  numeric: 'decimal',
  float: 'float',
  double: 'double',
  real: 'double',
  bit: 'bit',
  date: 'date',
  datetime: 'datetime',
  timestamp: 'datetime',
  time: 'time',
  binary: 'bytes',
  varbinary: 'bytes',
  tinyblob: 'bytes',
  blob: 'bytes',
  mediumblob: 'bytes',
  longblob: 'bytes',
  geometry: 'bytes',
  point: 'bytes',
  linestring: 'bytes',
  polygon: 'bytes',
  multipoint: 'bytes',
  multilinestring: 'bytes',
  multipolygon: 'bytes',
  geometrycollection: 'bytes',
  geomcollection: 'bytes',
  vector: 'bytes',
  json: 'json',
  char: 'char',
};

/** The value class of a DATA_TYPE (lower case); unknown types compare as text. */
export function mysqlValueClass(dataType: string | undefined): MysqlValueClass {
  return CLASS_OF[(dataType ?? '').toLowerCase()] ?? 'text';
}

/** The canonical form of a value of a column of class `c`. */
export function canonicalMysqlValue(c: MysqlValueClass, v: CellValue): CanonicalValue {
  if (v === null) return null;
  switch (c) {
    case 'integer':
    case 'decimal':
    case 'bit':
      return numericText(v);
    case 'float':
      return canonicalNumber(Math.fround(Number(textOf(v))));
    case 'double':
      return canonicalNumber(Number(textOf(v)));
    case 'date':
    case 'datetime':
      return canonicalDateTime(textOf(v) as string);
    case 'time':
      return canonicalTime(textOf(v) as string);
    case 'bytes':
      return hexOf(v);
    case 'json':
      return canonicalJson(textOf(v) as string);
    case 'char':
      return (textOf(v) as string).replace(/ +$/, '');
    case 'text':
      return textOf(v);
  }
}

/**
 * A value read back as raw text-protocol bytes (the reader asks for every column's bytes, since the
 * driver does not say which columns are binary): bytes stay bytes for `bytes` and `bit`, the rest is
 * UTF-8 text (the connection's character set).
 */
export function fromReadBytes(c: MysqlValueClass, b: Buffer | null): CellValue {
  if (b === null) return null;
  return c === 'bytes' || c === 'bit' ? b : b.toString('utf8');
}

/** A key value from a canonical value of a column of class `c`. */
export function mysqlKeyValue(c: MysqlValueClass, v: CanonicalValue): CellValue {
  if (v === null) return null;
  if (c === 'integer' || c === 'bit') return integerKeyValue(v);
  if (c === 'bytes') return Buffer.from(v, 'hex');
  return v;
}

/** The codec of some columns, given their DATA_TYPEs. */
export function mysqlRowCodec(dataTypes: readonly (string | undefined)[]): TargetRowCodec {
  const classes = dataTypes.map(mysqlValueClass);
  return {
    canonical: (values) => classes.map((c, i) => canonicalMysqlValue(c, values[i] ?? null)),
    keyValue: (i, v) => mysqlKeyValue(classes[i] ?? 'text', v),
  };
}
