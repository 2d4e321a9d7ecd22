import assert from 'node:assert/strict';

/**
 * A table with every MariaDB column type and edge value, shared by the tests that prove values arrive
 * byte for byte (the pipeline round-trip and the backfill's LOAD DATA path): its DDL, its rows as SQL
 * literals, and statements to insert or update them.
 */
export const COLUMNS = `
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), d0 DECIMAL(10,0), d4 DECIMAL(7,4) UNSIGNED, fl FLOAT, db DOUBLE,
  b1 BIT(1), b64 BIT(64), b13 BIT(13),
  dt DATE, dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(6) NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL,
  tm TIME(6), tm0 TIME, y YEAR,
  c CHAR(10) CHARACTER SET utf8mb4, vc VARCHAR(300) CHARACTER SET utf8mb4, tx TEXT CHARACTER SET utf8mb4,
  cl CHAR(10) CHARACTER SET latin1, vl VARCHAR(300) CHARACTER SET latin1, tl MEDIUMTEXT CHARACTER SET latin1,
  bn BINARY(16), vb VARBINARY(300), bl BLOB, lb LONGBLOB,
  e ENUM('a,b', 'it''s', 'x"y', 'plain', ''), st SET('a', 'b''c', 'd"e', 'f'),
  j JSON,
  g GEOMETRY, pt POINT REF_SYSTEM_ID=4326, pg POLYGON,
  u UUID, i4 INET4, i6 INET6`;

export const COLUMN_NAMES = [...COLUMNS.matchAll(/^\s*(\w+) |,\s*(\w+) /gm)].map((m) => m[1] ?? m[2]);

/** All 256 byte values, as a SQL hex literal. */
export const ALL_BYTES = `X'${Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex')}'`;
export const ALL_BYTES_REVERSED = `X'${Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)).toString('hex')}'`;
export const DEC_MAX = `${'9'.repeat(35)}.${'9'.repeat(30)}`;
export const JSON_DOC = JSON.stringify({
  a: [1, 2, { b: null, c: [true, false] }],
  'ключ 🦦': 'ünïcødé "quoted" \\ back\nline',
  big: '__BIG__',
  neg: '__NEG__',
  f: 1.5e300,
  deep: { x: { y: { z: [[], {}] } } },
})
  .replace('"__BIG__"', '18446744073709551616123')
  .replace('"__NEG__"', '-9223372036854775809');

/** Row values in column order (SQL expressions), without the id. */
export const ROWS: Record<number, string[]> = {
  // Minimums.
  1: [
    '-128',
    '0',
    '-32768',
    '0',
    '-8388608',
    '0',
    '-2147483648',
    '0',
    '-9223372036854775808',
    '0',
    `-${DEC_MAX}`,
    '-9999999999',
    '0.0000',
    '-3.40282e38',
    '-1.7976931348623157e308',
    "b'0'",
    "b'0'",
    "b'0'",
    "'1000-01-01'",
    "'1000-01-01 00:00:00.000000'",
    "'1000-01-01 00:00:00'",
    "'1970-01-01 00:00:01.000000'",
    "'1970-01-01 00:00:01.000'",
    "'-838:59:59.000000'",
    "'-838:59:59'",
    '1901',
    "''",
    "''",
    "''",
    "''",
    "''",
    "''",
    "X'00000000000000000000000000000000'",
    "''",
    "''",
    "''",
    "'a,b'",
    "''",
    "'[]'",
    "ST_GeomFromText('POINT(-180 -90)', 4326)",
    "ST_GeomFromText('POINT(-180 -90)', 4326)",
    "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 3857)",
    "'00000000-0000-0000-0000-000000000000'",
    "'0.0.0.0'",
    "'::'",
  ],
  // Maximums.
  2: [
    '127',
    '255',
    '32767',
    '65535',
    '8388607',
    '16777215',
    '2147483647',
    '4294967295',
    '9223372036854775807',
    '18446744073709551615',
    DEC_MAX,
    '9999999999',
    '999.9999',
    '3.40282e38',
    '1.7976931348623157e308',
    "b'1'",
    "b'1111111111111111111111111111111111111111111111111111111111111111'",
    "b'1111111111111'",
    "'9999-12-31'",
    "'9999-12-31 23:59:59.999999'",
    "'9999-12-31 23:59:59'",
    "'2038-01-19 03:14:07.999999'",
    "'2038-01-19 03:14:07.999'",
    "'838:59:59.000000'",
    "'838:59:59'",
    '2155',
    `'${'🦦'.repeat(10)}'`,
    `'${'𝄞'.repeat(300)}'`,
    `REPEAT('ü🦦', 10000)`,
    "'ÿÿÿÿÿÿÿÿÿÿ'",
    `'${'é'.repeat(300)}'`,
    `REPEAT('ß', 100000)`,
    "X'ffffffffffffffffffffffffffffffff'",
    `${ALL_BYTES}`,
    `REPEAT(${ALL_BYTES}, 200)`,
    `REPEAT(${ALL_BYTES_REVERSED}, 40000)`,
    "''",
    "'a,b''c,d\"e,f'",
    `'${JSON_DOC.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`,
    "ST_GeomFromText('MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 3,2 2)))', 4326)",
    "ST_GeomFromText('POINT(180 90)', 4326)",
    "ST_GeomFromText('POLYGON((-1.5 -1.5,10000000000.5 0,0 0.0000000001,-1.5 -1.5))', 0)",
    "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
    "'255.255.255.255'",
    "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'",
  ],
  // Zeros and zero dates (allowed by the source session's empty sql_mode).
  3: [
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '0',
    '-0',
    '-0',
    "b'0'",
    "b'0'",
    "b'0'",
    "'0000-00-00'",
    "'0000-00-00 00:00:00.000000'",
    "'0000-00-00 00:00:00'",
    "'0000-00-00 00:00:00'",
    "'0000-00-00 00:00:00'",
    "'00:00:00'",
    "'00:00:00'",
    '0',
    "'0'",
    "'0'",
    "'0'",
    "'0'",
    "'0'",
    "'0'",
    "X'00'",
    "X'00'",
    "X'00'",
    "X'00'",
    "'x\"y'",
    "'b''c'",
    "'0'",
    "ST_GeomFromText('POINT(0 0)')",
    "ST_GeomFromText('POINT(0 0)')",
    "ST_GeomFromText('POLYGON((0 0,0 0,0 0,0 0))')",
    "'00000000-0000-0000-0000-000000000001'",
    "'0.0.0.1'",
    "'::1'",
  ],
  // NULL everywhere.
  4: Array(45).fill('NULL'),
  // Typical values with fractions, small denormals, mixed text and bytes.
  5: [
    '-1',
    '1',
    '-2',
    '2',
    '-3',
    '3',
    '-4',
    '4',
    '-5',
    '5',
    '-0.000000000000000000000000000001',
    '-1',
    '0.0001',
    '0.1',
    '5e-324',
    "b'1'",
    "b'1000000000000000000000000000000000000000000000000000000000000001'",
    "b'1010101010101'",
    "'2024-02-29'",
    "'2024-02-29 12:34:56.000001'",
    "'2024-02-29 12:34:56'",
    "'2024-02-29 12:34:56.123456'",
    "'2000-01-01 00:00:00.5'",
    "'-00:00:00.000001'",
    "'-12:00:01'",
    '2024',
    "'a b  '",
    "'trailing spaces   '",
    "'tab\\tnew\\nline\\0nul'",
    "'café'",
    "'naïve ¿ ¡ £ ©'",
    "'\\\\ backslash'",
    "X'00ff00ff'",
    "X'0a0d00'",
    ALL_BYTES,
    ALL_BYTES,
    "'it''s'",
    "'a,f'",
    '\'{"n":1.0,"e":1e2,"s":"\\\\u00e9","arr":[]}\'',
    "ST_GeomFromText('LINESTRING(0 0,1 1,2 0.5)', 2154)",
    "ST_GeomFromText('POINT(1.5 -2.25)', 4326)",
    "ST_GeomFromText('POLYGON((0 0,4 0,4 4,0 4,0 0),(1 1,2 1,2 2,1 2,1 1))', 4326)",
    "'123e4567-e89b-12d3-a456-426614174000'",
    "'192.168.1.254'",
    "'2001:db8::ff00:42:8329'",
  ],
};
for (const row of Object.values(ROWS)) {
  assert.equal(row.length, COLUMN_NAMES.length - 1, `one value per column: ${row.join(', ')}`);
}

export function insertSql(id: number, values: string[]): string {
  return `INSERT INTO all_types VALUES (${id}, ${values.join(', ')})`;
}

export function updateSql(id: number, values: string[]): string {
  const sets = COLUMN_NAMES.slice(1).map((c, i) => `\`${c}\` = ${values[i]}`);
  return `UPDATE all_types SET ${sets.join(', ')} WHERE id = ${id}`;
}

/** Columns that exist on MariaDB only (MySQL has no UUID, INET4 or INET6 type). */
export const MARIADB_ONLY_COLUMNS = ['u', 'i4', 'i6'];

export type Flavour = 'mariadb' | 'mysql';

/**
 * The every-type table for a source/target flavour pair: MariaDB-only columns are left out when
 * either side is MySQL, and the DDL and values are spelled for the server they run on (MySQL reads
 * geographic WKT as longitude latitude only when told so). MySQL enforces a column SRID where MariaDB's REF_SYSTEM_ID is advisory,
 * so the MySQL spelling of `pt` has none (the table holds points of SRID 0 too).
 */
export function everyTypeTableFor(source: Flavour, target: Flavour) {
  const drop = source === 'mysql' || target === 'mysql' ? new Set(MARIADB_ONLY_COLUMNS) : new Set<string>();
  const keep = COLUMN_NAMES.slice(1).map((c) => !drop.has(c!));
  const definitions = COLUMNS.split(/,(?![^(]*\))/)
    .map((d) => d.trim())
    .filter((d) => !drop.has(d.split(/\s+/)[0]!));
  const ddl = (flavour: Flavour) =>
    `CREATE TABLE all_types (${definitions
      .map((d) => (flavour === 'mysql' ? d.replace(' REF_SYSTEM_ID=4326', '') : d))
      .join(', ')}) DEFAULT CHARSET=utf8mb4`;
  const spell = (v: string) =>
    source === 'mysql'
      ? v.replace(/ST_GeomFromText\(('[^']*'), 4326\)/, "ST_GeomFromText($1, 4326, 'axis-order=long-lat')")
      : v;
  const rows = Object.fromEntries(
    Object.entries(ROWS).map(([id, values]) => [Number(id), values.filter((_, i) => keep[i]).map(spell)]),
  ) as Record<number, string[]>;
  const names = COLUMN_NAMES.slice(1).filter((_, i) => keep[i]) as string[];
  // MySQL's own VECTOR type where both sides are MySQL 9: float32 values, NaN-free, incl. the extremes.
  if (source === 'mysql' && target === 'mysql') {
    definitions.push('vec VECTOR(3)');
    names.push('vec');
    const vectors: Record<number, string> = {
      1: "TO_VECTOR('[-3.4028235e38, -1.17549435e-38, -0]')",
      2: "TO_VECTOR('[3.4028234e38, 1.17549435e-38, 1]')",
      3: "TO_VECTOR('[0, 0, 0]')",
      4: 'NULL',
      5: "TO_VECTOR('[0.1, -2.5, 1e10]')",
    };
    for (const [id, values] of Object.entries(rows)) values.push(vectors[Number(id)] ?? 'NULL');
  }
  return {
    ddl,
    rows,
    insertSql: (id: number, values: string[]) => `INSERT INTO all_types VALUES (${id}, ${values.join(', ')})`,
    updateSql: (id: number, values: string[]) =>
      `UPDATE all_types SET ${names.map((c, i) => `\`${c}\` = ${values[i]}`).join(', ')} WHERE id = ${id}`,
  };
}
