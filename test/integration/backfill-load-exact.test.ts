import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { chunksFromBoundaries, findBoundaries } from '../../src/backfill/chunk-plan';
import { ChunkCopier } from '../../src/backfill/copy';
import {
  chunkCounts,
  ensureBackfillTables,
  pendingChunkNumbers,
  storePlan,
} from '../../src/backfill/progress-store';
import { openSourceReader, readSourceTable } from '../../src/backfill/source-table';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { openMysql } from '../../src/connectors/mysql/connection';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import { dumpTableExact } from '../helpers/pipeline';
import { freshDatabases, testStack } from '../helpers/stack';

// The initial load's LOAD DATA path must store every column type and edge value exactly as the
// source holds it: the rows of test/integration/pipeline-types.test.ts are copied chunk by chunk and
// compared byte for byte (dumpTableExact: text by HEX, TIMESTAMP by epoch, ENUM/SET by index and label).
// The copier's path counters prove the rows went through LOAD DATA and not the upsert fallback.

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

function datasource(port: number): ResolvedDatasource {
  const s = testStack();
  return {
    name: `ds${port}`,
    kind: 'mariadb',
    host: s.host,
    port,
    user: 'root',
    password: '',
  } as ResolvedDatasource;
}

/** Plans `tables` of `db` in chunks of `chunkSize` and copies every chunk with one ChunkCopier. */
async function backfill(
  db: { name: string; source: mysql.Connection; target: mysql.Connection },
  tables: string[],
  chunkSize: number,
  /** 'plain': the copier knows the mappings and skips the mapper; 'mapper': every row is mapped. */
  path: 'plain' | 'mapper' = 'plain',
): Promise<{ copier: ChunkCopier; backfillId: string; chunks: number }> {
  const s = testStack();
  const config = parsePipelineConfig({
    name: `${db.name}_p`,
    source: 'source',
    target: 'target',
    mappings: [{ source: { schema: db.name, table: '/.*/' } }],
  });
  const reader = await openSourceReader(datasource(s.sourcePort));
  const writer = await openMysql(datasource(s.targetPort));
  const backfillId = `${db.name}.initial.${path}`;
  await ensureBackfillTables(writer);
  const plan = [];
  for (const table of tables) {
    const st = await readSourceTable(reader, { schema: db.name, table });
    plan.push({
      table: st.ref,
      chunks: chunksFromBoundaries(await findBoundaries(reader, st, chunkSize, () => {})),
    });
  }
  await storePlan(writer, backfillId, config.name, plan, 0, { file: 'x', pos: 4 });
  const copier = new ChunkCopier(
    reader,
    writer,
    compileMapper(config),
    path === 'plain' ? { mappings: config.mappings } : {},
  );
  await copier.prepare();
  const pending = await pendingChunkNumbers(writer, backfillId);
  try {
    for (const no of pending) await copier.copy(backfillId, no);
    // Copying again skips every chunk: nothing is written twice.
    for (const no of pending) assert.equal((await copier.copy(backfillId, no)).skipped, true);
    const counts = await chunkCounts(writer, backfillId);
    assert.equal(counts.done, pending.length);
    assert.equal(counts.recopied, 0);
  } finally {
    await reader.end();
    await writer.end();
  }
  return { copier, backfillId, chunks: pending.length };
}

async function assertExact(
  db: { name: string; source: mysql.Connection; target: mysql.Connection },
  table: string,
) {
  const [s, t] = await Promise.all([
    dumpTableExact(db.source, db.name, table),
    dumpTableExact(db.target, db.name, table),
  ]);
  assert.ok(s.length > 0);
  assert.equal(t.length, s.length);
  for (let i = 0; i < s.length; i++) assert.equal(t[i], s[i], `row ${i} of ${table}`);
}

test('initial load through LOAD DATA: every column type and edge value arrives byte for byte', async (t) => {
  const db = await freshDatabases(t, 'bfload');
  await db.source.query(`CREATE TABLE all_types (${COLUMNS}) DEFAULT CHARSET=utf8mb4`);
  await db.target.query(`CREATE TABLE all_types (${COLUMNS}) DEFAULT CHARSET=utf8mb4`);
  await db.source.query(`SET SESSION sql_mode = ''`); // zero dates, as a lax application writes them
  for (const [id, values] of Object.entries(ROWS)) await db.source.query(insertSql(Number(id), values));
  // Strings that look like the load file's own syntax.
  const lookalikes: Array<[number, string, string, string, Buffer]> = [
    [7, 'NULL', '\\N', 'N', Buffer.from('\\N')],
    [8, '\\N', '\t\n\r\\', '\\', Buffer.from([0x5c])],
    [9, '', '', '', Buffer.alloc(0)],
    [10, ' lead and trail ', '"quoted"', 'x\ty', Buffer.from([0x0a, 0x09, 0x00])],
  ];
  for (const row of lookalikes)
    await db.source.query('INSERT INTO all_types (id, vc, tx, vl, vb) VALUES (?, ?, ?, ?, ?)', row);
  // Through the mapper (Map rows) first, then straight from the source row arrays.
  const viaMapper = await backfill(db, ['all_types'], 2, 'mapper');
  assert.ok(viaMapper.chunks >= 5, `chunks: ${viaMapper.chunks}`);
  assert.deepEqual(viaMapper.copier.stats, {
    loadedChunks: viaMapper.chunks,
    fallbackChunks: 0,
    upsertedChunks: 0,
  });
  await assertExact(db, 'all_types');
  await db.target.query('TRUNCATE all_types');
  const { copier, chunks } = await backfill(db, ['all_types'], 2, 'plain');
  assert.deepEqual(copier.stats, { loadedChunks: chunks, fallbackChunks: 0, upsertedChunks: 0 });
  await assertExact(db, 'all_types');

  // Literal spot checks, so that "equal but both wrong" cannot pass: YEAR 0 (the text '0' would be
  // 2000), zero dates, negative TIME, BIT(64), UUID/INET6 as text, the SRID, NULL versus 'NULL'.
  const [spot] = await db.target.query(
    `SELECT id, CAST(y AS CHAR) AS y, CAST(dt AS CHAR) AS dt, CAST(tm AS CHAR) AS tm, HEX(b64) AS b64,
            CAST(biu AS CHAR) AS biu, CAST(u AS CHAR) AS u, CAST(i6 AS CHAR) AS i6, ST_SRID(pt) AS srid,
            vc, HEX(vb) AS vb, HEX(vl) AS vl
       FROM all_types WHERE id IN (2, 3, 4, 5, 7) ORDER BY id`,
  );
  const byId = new Map((spot as Array<Record<string, unknown>>).map((r) => [r.id, r]));
  assert.equal(byId.get(3)?.y, '0000');
  assert.equal(byId.get(3)?.dt, '0000-00-00');
  assert.equal(byId.get(2)?.y, '2155');
  assert.equal(byId.get(2)?.b64, 'FFFFFFFFFFFFFFFF');
  assert.equal(byId.get(2)?.biu, '18446744073709551615');
  assert.equal(byId.get(2)?.i6, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  assert.equal(byId.get(5)?.tm, '-00:00:00.000001');
  assert.equal(byId.get(5)?.u, '123e4567-e89b-12d3-a456-426614174000');
  assert.equal(byId.get(5)?.srid, 4326);
  assert.equal(byId.get(4)?.vc, null);
  assert.equal(byId.get(7)?.vc, 'NULL');
  assert.equal(byId.get(7)?.vb, '5C4E');
  assert.equal(byId.get(5)?.vl, Buffer.from('naïve ¿ ¡ £ ©', 'latin1').toString('hex').toUpperCase());
});

test('initial load: a chunk whose rows collide on the target falls back to upserts; nothing is replaced', async (t) => {
  const db = await freshDatabases(t, 'bfcoll');
  const ddl = `CREATE TABLE items (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, n INT, UNIQUE KEY (code))`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  await db.source.query(`INSERT INTO items SELECT seq, CONCAT('c', seq), seq FROM seq_1_to_100`);
  // Already on the target: a stale copy of row 15 (same key, other values). LOAD DATA LOCAL skips
  // it with a warning, so its chunk rolls back and is upserted: the row gets the source's values.
  await db.target.query(`INSERT INTO items VALUES (15, 'c15', -1)`);
  const { copier, chunks } = await backfill(db, ['items'], 10);
  assert.equal(chunks, 11); // ten full chunks and the open-ended last one (empty)
  assert.deepEqual(copier.stats, { loadedChunks: 10, fallbackChunks: 1, upsertedChunks: 1 });
  await assertExact(db, 'items');
});

test('initial load: a row colliding on a secondary unique key is refused as by the upsert path, not replaced', async (t) => {
  const db = await freshDatabases(t, 'bfuniq');
  const ddl = `CREATE TABLE items (id INT PRIMARY KEY, code VARCHAR(20) NOT NULL, n INT, UNIQUE KEY (code))`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  await db.source.query(`INSERT INTO items SELECT seq, CONCAT('c', seq), seq FROM seq_1_to_30`);
  // A target row holding source row 17's unique code under another id: REPLACE would delete it.
  await db.target.query(`INSERT INTO items VALUES (1000, 'c17', -2)`);
  await assert.rejects(backfill(db, ['items'], 10), /secondary UNIQUE key/);
  const [rows] = await db.target.query('SELECT id, code, n FROM items WHERE id > 10 ORDER BY id');
  // Chunk 2 (ids 11..20) wrote nothing; the foreign row is untouched.
  assert.deepEqual(rows, [{ id: 1000, code: 'c17', n: -2 }]);
});
