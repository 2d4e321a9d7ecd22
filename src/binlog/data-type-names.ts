/**
 * MySQL/MariaDB column data type names as information_schema.COLUMNS.DATA_TYPE spells them (lower
 * case), grouped the way the decoder's schema completion, the LOAD DATA writer and the backfill's raw
 * row reader all need them. One list each, so a new spelling is added once.
 */

export const INTEGER_TYPE_NAMES: ReadonlySet<string> = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
]);

/** Integers, FLOAT/DOUBLE/REAL and DECIMAL/NUMERIC. */
export const NUMBER_TYPE_NAMES: ReadonlySet<string> = new Set([
  ...INTEGER_TYPE_NAMES,
  'float',
  'double',
  'real',
  'decimal',
  'numeric',
]);

export const TEMPORAL_TYPE_NAMES: ReadonlySet<string> = new Set(['date', 'datetime', 'timestamp', 'time']);

export const BINARY_TYPE_NAMES: ReadonlySet<string> = new Set([
  'binary',
  'varbinary',
  'tinyblob',
  'blob',
  'mediumblob',
  'longblob',
]);

/** Character types, ENUM and SET (their text depends on the column's character set). */
export const TEXT_TYPE_NAMES: ReadonlySet<string> = new Set([
  'char',
  'varchar',
  'tinytext',
  'text',
  'mediumtext',
  'longtext',
  'enum',
  'set',
]);

export const GEOMETRY_TYPE_NAMES: readonly string[] = [
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection',
];
export const GEOMETRY_TYPE_NAME_SET: ReadonlySet<string> = new Set(GEOMETRY_TYPE_NAMES);
