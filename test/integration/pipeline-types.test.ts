import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import {
  dumpTableExact,
  samePipelineConfig,
  startPipeline,
  status,
  waitForExactTables,
} from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

// Every MariaDB column type with its edge values goes through a real pipeline (binlog → decoder →
// mapper → merger → applier) and must arrive byte for byte: text by its stored bytes, TIMESTAMP by
// its epoch value, ENUM/SET by index and label, geometry by SRID + WKB.

const COLUMNS = `
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

const COLUMN_NAMES = [...COLUMNS.matchAll(/^\s*(\w+) |,\s*(\w+) /gm)].map((m) => m[1] ?? m[2]);

/** All 256 byte values, as a SQL hex literal. */
const ALL_BYTES = `X'${Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex')}'`;
const ALL_BYTES_REVERSED = `X'${Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)).toString('hex')}'`;
const DEC_MAX = `${'9'.repeat(35)}.${'9'.repeat(30)}`;
const JSON_DOC = JSON.stringify({
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
const ROWS: Record<number, string[]> = {
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

function insertSql(id: number, values: string[]): string {
  return `INSERT INTO all_types VALUES (${id}, ${values.join(', ')})`;
}

function updateSql(id: number, values: string[]): string {
  const sets = COLUMN_NAMES.slice(1).map((c, i) => `\`${c}\` = ${values[i]}`);
  return `UPDATE all_types SET ${sets.join(', ')} WHERE id = ${id}`;
}

test('every column type and edge value round-trips through a pipeline (insert, update, delete)', async (t) => {
  const db = await freshDatabases(t, 'ptypes');
  await db.source.query(`CREATE TABLE all_types (${COLUMNS}) DEFAULT CHARSET=utf8mb4`);
  await db.target.query(`CREATE TABLE all_types (${COLUMNS}) DEFAULT CHARSET=utf8mb4`);
  // A key made of awkward types: updates and deletes must find these rows by exact key.
  const keyed = `CREATE TABLE keyed (biu BIGINT UNSIGNED, vb VARBINARY(16), dtm DATETIME(6), c VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, n INT, PRIMARY KEY (biu, vb, dtm, c))`;
  await db.source.query(keyed);
  await db.target.query(keyed);
  const config = await samePipelineConfig(db.source, db.name);
  // Zero dates and the like are written the way a lax application would.
  await db.source.query(`SET SESSION sql_mode = ''`);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    for (const [id, values] of Object.entries(ROWS)) await db.source.query(insertSql(Number(id), values));
    await db.source.query(insertSql(6, ROWS[5]!));
    await db.source.query(
      `INSERT INTO keyed VALUES (18446744073709551615, X'00ff', '9999-12-31 23:59:59.999999', '🦦', 1),
        (0, '', '0000-00-00 00:00:00', '', 2), (1, X'00', '2024-01-01 00:00:00.000001', 'A', 3),
        (1, X'00', '2024-01-01 00:00:00.000001', 'a', 4), (1, X'0000', '2024-01-01 00:00:00', 'a ', 5)`,
    );
    const afterInsert = await waitForExactTables(db.source, db.target, db.name, 'all_types', handle);
    assert.equal(afterInsert.length, 6);

    // Updates in every direction: min → max, max → NULL, NULL → zero, zero → typical, typical → min.
    await db.source.query(updateSql(1, ROWS[2]!));
    await db.source.query(updateSql(2, ROWS[4]!));
    await db.source.query(updateSql(4, ROWS[3]!));
    await db.source.query(updateSql(3, ROWS[5]!));
    await db.source.query(updateSql(5, ROWS[1]!));
    await db.source.query('DELETE FROM all_types WHERE id = 6');
    // A key change to the maximum and back through a multi-row transaction.
    await db.source.query(
      'START TRANSACTION; UPDATE all_types SET id = 2147483647 WHERE id = 5; UPDATE all_types SET id = -2147483648 WHERE id = 1; COMMIT',
    );
    await db.source.query(`UPDATE keyed SET n = n + 10 WHERE c = 'a'`); // exact key: 'a' only, not 'A' or 'a '
    await db.source.query(`UPDATE keyed SET vb = X'ff00ff', n = 99 WHERE biu = 18446744073709551615`);
    await db.source.query(`DELETE FROM keyed WHERE biu = 0`);

    const rows = await waitForExactTables(db.source, db.target, db.name, 'all_types', handle);
    assert.deepEqual(
      rows.map((r) => Number(r.split('|')[0])).sort((a, b) => a - b),
      [-2147483648, 2, 3, 4, 2147483647],
    );
    const keyedRows = await waitForExactTables(db.source, db.target, db.name, 'keyed', handle);
    assert.equal(keyedRows.length, 4);
    const [nums] = await db.target.query('SELECT n FROM keyed ORDER BY n');
    assert.deepEqual(
      (nums as Array<{ n: number }>).map((r) => r.n),
      [3, 14, 15, 99],
    );

    // Spot checks against literal expectations: equal-but-both-wrong would otherwise pass.
    const [spot] = await db.target.query(
      `SELECT CAST(biu AS CHAR) AS biu, CAST(d AS CHAR) AS d, HEX(b64) AS b64, CAST(tm AS CHAR) AS tm,
              CAST(dt AS CHAR) AS dt, CAST(y AS CHAR) AS y, e, st, CAST(u AS CHAR) AS u, CAST(i6 AS CHAR) AS i6,
              CAST(ST_SRID(pt) AS CHAR) AS srid, ST_AsText(pt) AS ptxt, CAST(LENGTH(lb) AS CHAR) AS lbl, CAST(CHAR_LENGTH(tx) AS CHAR) AS txl, JSON_VALUE(j, '$.big') AS big
         FROM all_types WHERE id = -2147483648`,
    );
    assert.deepEqual((spot as unknown[])[0], {
      biu: '18446744073709551615',
      d: DEC_MAX,
      b64: 'FFFFFFFFFFFFFFFF',
      tm: '838:59:59.000000',
      dt: '9999-12-31',
      y: '2155',
      e: '',
      st: `a,b'c,d"e,f`,
      u: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
      i6: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      srid: '4326',
      ptxt: 'POINT(180 90)',
      lbl: '10240000',
      txl: '20000',
      big: '18446744073709551616123',
    });
    const [zero] = await db.target.query(
      `SELECT CAST(dt AS CHAR) AS dt, CAST(dtm AS CHAR) AS dtm, CAST(ts AS CHAR) AS ts, CAST(y AS CHAR) AS y, CAST(tm AS CHAR) AS tm FROM all_types WHERE id = 4`,
    );
    assert.deepEqual((zero as unknown[])[0], {
      dt: '0000-00-00',
      dtm: '0000-00-00 00:00:00.000000',
      ts: '0000-00-00 00:00:00.000000',
      y: '0000',
      tm: '00:00:00.000000',
    });
    const [neg] = await db.target.query(
      `SELECT CAST(tm AS CHAR) AS tm, CAST(d AS CHAR) AS d, HEX(bl) AS bl FROM all_types WHERE id = 2147483647`,
    );
    assert.deepEqual((neg as unknown[])[0], {
      tm: '-838:59:59.000000',
      d: `-${DEC_MAX}`,
      bl: '',
    });

    const st = await status(handle);
    assert.equal(st.state, 'running', JSON.stringify(st));
    assert.equal(st.lastError, undefined);
    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.equal(final.counters.missingOnUpdate, 0, JSON.stringify(final.counters));
    assert.equal(final.counters.missingOnDelete, 0, JSON.stringify(final.counters));
  });
});

test('TIMESTAMPs written in a +05:30 source session do not shift (otter complaint 11)', async (t) => {
  const db = await freshDatabases(t, 'ptz');
  const ddl = `CREATE TABLE events (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL, dtm DATETIME(6))`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  const config = await samePipelineConfig(db.source, db.name);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query(`SET time_zone = '+05:30'`);
    await db.source.query(
      `INSERT INTO events VALUES (1, '2024-01-01 12:00:00.250000', '2024-01-01 05:29:59', '2024-01-01 12:00:00.250000'),
        (2, '2024-07-01 00:00:00', '1970-01-01 05:30:01', '2024-07-01 00:00:00'),
        (3, '2038-01-19 08:44:07.999999', '2038-01-19 08:44:07', '2038-01-19 08:44:07.999999')`,
    );
    await db.source.query(`UPDATE events SET ts = '2024-03-31 02:30:00.5' WHERE id = 2`);
    await waitForExactTables(db.source, db.target, db.name, 'events', handle);

    // The instant is the same whatever session reads it: check the epoch seconds literally.
    const [epochs] = await db.target.query(
      'SELECT id, CAST(UNIX_TIMESTAMP(ts) AS CHAR) AS ts, CAST(UNIX_TIMESTAMP(ts0) AS CHAR) AS ts0, CAST(dtm AS CHAR) AS dtm FROM events ORDER BY id',
    );
    assert.deepEqual(epochs, [
      { id: 1, ts: '1704090600.250000', ts0: '1704067199', dtm: '2024-01-01 12:00:00.250000' },
      { id: 2, ts: '1711832400.500000', ts0: '1', dtm: '2024-07-01 00:00:00.000000' },
      { id: 3, ts: '2147483647.999999', ts0: '2147483647', dtm: '2038-01-19 08:44:07.999999' },
    ]);
    // Read back in the writer's zone, the target shows what the writer wrote.
    await db.target.query(`SET time_zone = '+05:30'`);
    const [local] = await db.target.query(`SELECT CAST(ts AS CHAR) AS ts FROM events WHERE id = 1`);
    assert.deepEqual(local, [{ ts: '2024-01-01 12:00:00.250000' }]);
    await handle.executeUpdate(stopUpdate);
  });
});

test('dumpTableExact tells apart values that look alike as text', async (t) => {
  // Guards the comparison itself: a latin1 'é' and a utf8mb4 'é' look the same through CAST but not HEX.
  const db = await freshDatabases(t, 'pdump');
  await db.source.query(
    `CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(5) CHARACTER SET latin1); CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(5) CHARACTER SET utf8mb4)`,
  );
  await db.source.query(`INSERT INTO a VALUES (1, 'é'); INSERT INTO b VALUES (1, 'é')`);
  const [a, b] = [
    await dumpTableExact(db.source, db.name, 'a'),
    await dumpTableExact(db.source, db.name, 'b'),
  ];
  assert.notDeepEqual(a, b);
});
