/**
 * Live MariaDB: every column type with its edge values goes through the binlog and our row-image
 * decoder. Checks (1) the decoded values against SELECT, and (2) the round-trip rule of
 * docs/value-representation.md: re-inserting the decoded values with mysql2 parameter binding under
 * time_zone '+00:00' stores the identical values (compared with SELECT … EXCEPT both ways).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import type { CellValue, RowImage } from '../../src/binlog/types';
import { walkBinlogRows } from '../helpers/binlog-values-event-walker';
import { freshDatabases, testStack } from '../helpers/stack';

const COLUMNS = `
  id INT PRIMARY KEY,
  ti TINYINT, uti TINYINT UNSIGNED, si SMALLINT, usi SMALLINT UNSIGNED, mi MEDIUMINT, umi MEDIUMINT UNSIGNED,
  i INT, ui INT UNSIGNED, bi BIGINT, ubi BIGINT UNSIGNED,
  d65 DECIMAL(65,30), d10 DECIMAL(10,4), d5 DECIMAL(5,0), d99 DECIMAL(9,9),
  f FLOAT, db DOUBLE, b1 BIT(1), b10 BIT(10), b64 BIT(64),
  dt0 DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), ts0 TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL,
  t0 TIME, t6 TIME(6), dte DATE, y YEAR,
  vc VARCHAR(100) CHARACTER SET utf8mb4, ch CHAR(10) CHARACTER SET latin1, l1 VARCHAR(300) CHARACTER SET latin1,
  big_ch CHAR(100) CHARACTER SET utf8mb4, txt TEXT CHARACTER SET utf8mb4, mtxt MEDIUMTEXT CHARACTER SET latin1,
  asc_ VARCHAR(10) CHARACTER SET ascii, u16 VARCHAR(10) CHARACTER SET utf16, u32 VARCHAR(10) CHARACTER SET utf32,
  ucs VARCHAR(10) CHARACTER SET ucs2, gb VARCHAR(10) CHARACTER SET gbk, cyr VARCHAR(10) CHARACTER SET cp1251,
  sj VARCHAR(10) CHARACTER SET sjis,
  bin8 BINARY(8), vb VARBINARY(20), bl BLOB, lbl LONGBLOB,
  e ENUM('a','b,c','it''s','say "hi"'), st SET('x','y''s','z'),
  j JSON, g GEOMETRY, pt POINT REF_SYSTEM_ID=4326,
  uu UUID, i4 INET4, i6 INET6`;

// Edge values as SQL literals, one row per array.
const ROWS = [
  `1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
   '-99999999999999999999999999999999999.999999999999999999999999999999', -0.01, -99999, 0.000000001,
   3.4028234e38, -1.7976931348623157e308, b'1', b'1010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
   '1000-01-01 00:00:00', '9999-12-31 23:59:59.999', '0000-00-00 00:00:00.000000', '1970-01-01 00:00:01', '2038-01-19 03:14:07.999999',
   '-838:59:59', '-00:00:00.000001', '1000-01-01', 1901,
   'emoji 😀 and ünïcödé', 'é€', CONCAT(UNHEX('808182838485868788898A8B8C8D8E8F'), REPEAT('x', 250)),
   REPEAT('ü', 100), 'tab\\there\\nnewline \\'quote\\' \\\\ backslash', UNHEX('0001027F80FF'),
   'plain', '😀A', '😀', 'Ωé', '中文', 'Привет', 'ソ\\\\',
   UNHEX('0102'), UNHEX('00FF00'), UNHEX('00'), UNHEX(REPEAT('AB', 1000)),
   'b,c', 'x,y''s,z',
   '{"a": [1, 2.5, "x", null, true], "b": {"c": 18446744073709551615}}', ST_GeomFromText('LINESTRING(0 0, 1 1, 2 5)'),
   ST_GeomFromText('POINT(1 2)', 4326),
   '123e4567-e89b-12d3-a456-426655440000', '255.255.255.255', '::ffff:1.2.3.4'`,
  `2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
   '99999999999999999999999999999999999.999999999999999999999999999999', 0.01, 0, -0.999999999,
   1.17549435e-38, 2.2250738585072014e-308, b'0', b'0', b'0',
   '0000-00-00 00:00:00', '0000-00-00 00:00:00.000', '2024-02-29 12:34:56.000001', 0, 0,
   '838:59:59', '123:45:06.123456', '0000-00-00', 0,
   '', '', '', '', '', '', '', '', '', '', '', '', '',
   UNHEX('00000000'), '', '', '',
   'it''s', '',
   '[]', ST_GeomFromText('POINT(0 0)'), ST_GeomFromText('POINT(-180 90)', 4326),
   '00000000-0000-0000-0000-000000000000', '0.0.0.0', '::'`,
  `3, 0, 1, -1, 1, -1, 1, -1, 1, -1, 1,
   '0', 123456.7890, 12345, 0,
   0.1, 0.1, b'1', b'1000000000', b'1000000000000000000000000000000000000000000000000000000000000000',
   '2000-01-01 00:00:00', '2000-01-01 00:00:00.5', '1000-01-01 00:00:00.000000', '2001-09-09 01:46:40', '2001-09-09 01:46:40.5',
   '00:00:00', '-12:34:56.780000', '9999-12-31', 2155,
   'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
   'a', 'a', 'a', 'a',
   'say "hi"', 'z',
   '{"k": "v", "n": -0.5e-10}', NULL, NULL,
   '6ccd780c-baba-1026-9564-5b8c656024db', '1.2.3.4', '2001:db8::ff00:42:8329'`,
];

/** Captures the binlog files from `file` on with mariadb-binlog (the independent reader). */
function captureBinlog(dir: string, file: string): string[] {
  const s = testStack();
  execFileSync('mariadb-binlog', [
    '--read-from-remote-server',
    '--raw',
    '--to-last-log',
    `-h${s.host}`,
    `-P${s.sourcePort}`,
    '-uroot',
    `--result-file=${dir}/`,
    file,
  ]);
  return readdirSync(dir)
    .sort()
    .map((f) => join(dir, f));
}

async function columnTypes(
  db: mysql.Connection,
  schema: string,
  table: string,
): Promise<Map<string, string>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    'SELECT COLUMN_NAME AS n, DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [schema, table],
  );
  return new Map(rows.map((r) => [String(r.n), String(r.t).toLowerCase()]));
}

/** Our value in the shape mysql2 (bigNumberStrings, dateStrings) returns for the same column. */
function asSelected(v: CellValue | undefined, dataType: string): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (dataType === 'float' && typeof v === 'number') return v;
  return v;
}

test('every type and edge value: decoded = SELECT, and re-inserting the decoded values stores identical rows', async (t) => {
  const { name, source } = await freshDatabases(t, 'binlog_values');
  await source.query("SET SESSION time_zone = '+00:00', SESSION sql_mode = ''");
  await source.query(`CREATE TABLE v (${COLUMNS})`);
  await source.query('CREATE TABLE v_copy LIKE v');
  const [[status]] = (await source.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string }>];
  assert.ok(status, 'the source has binary logging on');
  for (const row of ROWS) await source.query(`INSERT INTO v VALUES (${row})`);
  const [[columnCount]] = (await source.query(
    "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'v'",
  )) as unknown as [Array<{ n: number }>];
  const nulls = Array.from({ length: Number(columnCount?.n) - 1 }, () => 'NULL');
  await source.query(`INSERT INTO v VALUES (4, ${nulls.join(', ')})`);

  const dir = mkdtempSync(join(tmpdir(), 'binlog-values-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const types = await columnTypes(source, name, 'v');
  const decoded: RowImage[] = [];
  for (const file of captureBinlog(dir, status.File)) {
    for (const e of walkBinlogRows(file, {
      complete: (tbl) => {
        for (const c of tbl.columns) c.dataType = types.get(c.name);
      },
    })) {
      if (e.table.schema === name && e.table.table === 'v' && e.kind === 'insert') decoded.push(...e.rows);
    }
  }
  assert.equal(decoded.length, 4, 'four inserted rows found in the binlog');

  // (1) against SELECT: Buffers compare with HEX(), the rest with mysql2's exact (string) forms.
  const [selected] = await source.query<mysql.RowDataPacket[]>({
    sql: 'SELECT * FROM v ORDER BY id',
    rowsAsArray: true,
  });
  const names = [...types.keys()];
  const [cols] = await source.query<mysql.RowDataPacket[]>(
    'SELECT COLUMN_NAME AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [name, 'v'],
  );
  const ordered = cols.map((c) => String(c.n));
  assert.equal(ordered.length, names.length);
  const hexSql = ordered.map((c) => `HEX(\`${c}\`)`).join(', ');
  const [hexes] = await source.query<mysql.RowDataPacket[]>({
    sql: `SELECT ${hexSql} FROM v ORDER BY id`,
    rowsAsArray: true,
  });
  const [floats] = await source.query<mysql.RowDataPacket[]>({
    sql: 'SELECT CAST(f AS DOUBLE) FROM v ORDER BY id',
    rowsAsArray: true,
  });
  decoded.sort((a, b) => Number(a[0]) - Number(b[0]));
  const checkCell = (row: RowImage, r: number, c: string, i: number) => {
    {
      const ours = row[i];
      const sel = (selected[r] as unknown[])[i];
      const dataType = types.get(c) as string;
      const where = `row ${r + 1} column ${c}`;
      if (ours === null || sel === null) return assert.equal(ours, sel, where);
      if (dataType === 'bit') {
        // HEX() of a BIT prints the number without leading zeros.
        return assert.equal(
          BigInt(`0x${(ours as Buffer).toString('hex')}`),
          BigInt(`0x${(hexes[r] as unknown[])[i]}`),
          where,
        );
      }
      if (typeof ours === 'string' && typeof sel === 'object' && !Buffer.isBuffer(sel)) {
        // mysql2 parses JSON columns (losing 64-bit integers); compare the stored text instead.
        return assert.equal(
          Buffer.from(String(ours)).toString('hex').toUpperCase(),
          (hexes[r] as unknown[])[i],
          where,
        );
      }
      if (Buffer.isBuffer(ours))
        return assert.equal(ours.toString('hex').toUpperCase(), (hexes[r] as unknown[])[i], where);
      // FLOAT prints with 6 digits in SELECT; its exact value is what it widens to as a DOUBLE.
      if (dataType === 'float') return assert.equal(ours, Number((floats[r] as unknown[])[0]), where);
      if (dataType === 'double') return assert.equal(ours, Number(sel), where);
      assert.deepEqual(asSelected(ours, dataType), sel, where);
    }
  };
  for (const [r, row] of decoded.entries()) for (const [i, c] of ordered.entries()) checkCell(row, r, c, i);
  // Charsets we decode must give strings; the one we cannot map exactly (sjis) must give bytes.
  const first = decoded[0] as RowImage;
  for (const c of [
    'vc',
    'ch',
    'l1',
    'big_ch',
    'txt',
    'mtxt',
    'asc_',
    'u16',
    'u32',
    'ucs',
    'gb',
    'cyr',
    'j',
    'uu',
    'i4',
    'i6',
  ]) {
    assert.equal(typeof first[ordered.indexOf(c)], 'string', c);
  }
  assert.ok(Buffer.isBuffer(first[ordered.indexOf('sj')]));
  assert.equal(first[ordered.indexOf('y')], 1901);
  assert.equal((decoded[1] as RowImage)[ordered.indexOf('y')], 0, 'YEAR 0 stays 0');

  // (2) the round-trip rule: decoded values re-inserted with parameter binding store the same rows.
  const placeholders = ordered.map(() => '?').join(', ');
  for (const row of decoded) await source.query(`INSERT INTO v_copy VALUES (${placeholders})`, row);
  const [diff1] = await source.query<mysql.RowDataPacket[]>('SELECT * FROM v EXCEPT SELECT * FROM v_copy');
  const [diff2] = await source.query<mysql.RowDataPacket[]>('SELECT * FROM v_copy EXCEPT SELECT * FROM v');
  assert.deepEqual([diff1.length, diff2.length], [0, 0], 'v and v_copy hold identical rows');
  const [[counts]] = (await source.query(
    'SELECT (SELECT COUNT(*) FROM v) AS a, (SELECT COUNT(*) FROM v_copy) AS b',
  )) as unknown as [Array<{ a: number; b: number }>];
  assert.deepEqual([Number(counts?.a), Number(counts?.b)], [4, 4]);
  // EXCEPT compares by collation; also compare the bytes of every column.
  const [h1] = await source.query({ sql: `SELECT ${hexSql} FROM v ORDER BY id`, rowsAsArray: true });
  const [h2] = await source.query({ sql: `SELECT ${hexSql} FROM v_copy ORDER BY id`, rowsAsArray: true });
  assert.deepEqual(h2, h1);
});
