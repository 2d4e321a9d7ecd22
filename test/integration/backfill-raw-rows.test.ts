import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { chunksFromBoundaries, findBoundaries } from '../../src/backfill/chunk-plan';
import { openSourceReader, readSourceTable } from '../../src/backfill/source-table';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { ChunkCopier } from '../../src/connectors/mysql/backfill/copy';
import {
  ensureBackfillTables,
  pendingChunkNumbers,
  storePlan,
} from '../../src/connectors/mysql/backfill/progress-store';
import { openMysql } from '../../src/connectors/mysql/connection';
import { rawTextQuery } from '../../src/connectors/mysql/raw-text-query';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import { freshDatabases, testStack } from '../helpers/stack';

// The raw-row fast path of the initial load (src/backfill/raw-chunk.ts) beyond the every-type table
// of backfill-load-exact.test.ts: FLOAT/DOUBLE values compared through the binary protocol (the
// text dump prints FLOAT with 6 digits and would hide a wrong value), renamed/excluded columns into
// a target with other character sets, a row larger than one 16 MB packet, and the reader's errors.

function datasource(port: number): ResolvedDatasource {
  return {
    name: `ds${port}`,
    kind: 'mariadb',
    host: testStack().host,
    port,
    user: 'root',
    password: '',
  } as ResolvedDatasource;
}

let runs = 0;

async function copyAll(
  db: { name: string },
  table: string,
  chunkSize: number,
  mappings: unknown[] = [{ source: { schema: db.name, table: '/.*/' } }],
): Promise<ChunkCopier> {
  const s = testStack();
  const config = parsePipelineConfig({ name: `${db.name}_p`, source: 'source', target: 'target', mappings });
  const reader = await openSourceReader(datasource(s.sourcePort));
  const writer = await openMysql(datasource(s.targetPort));
  const backfillId = `${db.name}.${table}.raw${++runs}`;
  try {
    await ensureBackfillTables(writer);
    const st = await readSourceTable(reader, { schema: db.name, table });
    const chunks = chunksFromBoundaries(await findBoundaries(reader, st, chunkSize, () => {}));
    await storePlan(writer, backfillId, config.name, [{ table: st.ref, chunks }], 0, { file: 'x', pos: 4 });
    const copier = new ChunkCopier(reader, writer, compileMapper(config), {
      mappings: config.mappings,
      rawRows: true,
    });
    await copier.prepare();
    for (const no of await pendingChunkNumbers(writer, backfillId)) await copier.copy(backfillId, no);
    return copier;
  } finally {
    await reader.end();
    await writer.end();
  }
}

/** Rows read with the binary protocol (execute): FLOAT and DOUBLE arrive as their exact values. */
async function exactRows(conn: mysql.Connection, sql: string): Promise<unknown[][]> {
  const [rows] = await conn.execute({ sql, rowsAsArray: true });
  return rows as unknown[][];
}

/** A random finite double from random bits (every exponent, denormals included). */
function randomDouble(): number {
  for (;;) {
    const v = randomBytes(8).readDoubleLE(0);
    if (Number.isFinite(v)) return v;
  }
}

/** A double literal (an `e` makes the server read it as a DOUBLE, not as a DECIMAL). */
function dbl(v: number): string {
  const s = String(v);
  return s.includes('e') ? s : `${s}e0`;
}

function randomFloat(): number {
  for (;;) {
    const v = randomBytes(4).readFloatLE(0);
    if (Number.isFinite(v)) return v;
  }
}

test('fast path: FLOAT and DOUBLE values arrive exactly (random bit patterns, extremes, denormals)', async (t) => {
  const db = await freshDatabases(t, 'bfrawfl');
  const ddl = `CREATE TABLE nums (id INT PRIMARY KEY, f FLOAT, d DOUBLE, fp FLOAT(10,3), dp DOUBLE(14,4), fu FLOAT UNSIGNED)`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  const fixed: Array<[number, number]> = [
    [16777217, 0.30000000000000004],
    [3.4028234663852886e38, 1.7976931348623157e308],
    [-3.4028234663852886e38, -1.7976931348623157e308],
    [1.401298464324817e-45, 5e-324],
    [1.1754943508222875e-38, 2.2250738585072014e-308],
    [0.1, 0.1],
    [-0, -0],
  ];
  const rows: string[] = [];
  for (let i = 0; i < 1500; i++) {
    const [f, d] = fixed[i] ?? [randomFloat(), randomDouble()];
    const fp = (Math.random() * 2e6 - 1e6).toFixed(3);
    const dp = (Math.random() * 2e9 - 1e9).toFixed(4);
    rows.push(`(${i + 1}, ${dbl(f)}, ${dbl(d)}, ${fp}, ${dp}, ${dbl(Math.abs(randomFloat()))})`);
  }
  await db.source.query(`INSERT INTO nums VALUES ${rows.join(', ')}`);
  const copier = await copyAll(db, 'nums', 200);
  assert.deepEqual(copier.rawRefusals, new Map());
  assert.equal(copier.stats.rawChunks, copier.stats.loadedChunks);
  assert.ok(copier.stats.rawChunks >= 8);
  assert.equal(copier.stats.upsertedChunks, 0);
  const sql = `SELECT id, f, d, fp, dp, fu FROM ${db.name}.nums ORDER BY id`;
  const [s, g] = await Promise.all([exactRows(db.source, sql), exactRows(db.target, sql)]);
  assert.equal(g.length, 1500);
  for (let i = 0; i < s.length; i++) {
    const a = s[i] as unknown[];
    const b = g[i] as unknown[];
    for (let c = 0; c < a.length; c++)
      assert.ok(Object.is(a[c], b[c]), `row ${a[0]} column ${c}: ${a[c]} vs ${b[c]}`);
  }
  // The widened FLOAT really was needed: the server's own FLOAT text of 16777217 is 16777200.
  const [txt] = await db.source.query<mysql.RowDataPacket[]>(
    `SELECT CONCAT(f) AS f FROM ${db.name}.nums WHERE id = 1`,
  );
  assert.equal(txt[0]?.f, '16777200');
});

test('fast path: renamed and excluded columns, text into other character sets, a filter keeps the value path', async (t) => {
  const db = await freshDatabases(t, 'bfrawcs');
  await db.source.query(`CREATE TABLE people (
    id INT PRIMARY KEY, name VARCHAR(50) CHARACTER SET latin1, note TEXT CHARACTER SET utf8mb4,
    secret VARCHAR(20), city CHAR(20) CHARACTER SET utf8mb3, tag ENUM('x','ÿ') CHARACTER SET latin1)`);
  // Target: renamed columns, no `secret`, other character sets, other column order.
  await db.target.query(`CREATE TABLE folks (
    tag ENUM('x','ÿ') CHARACTER SET utf8mb4, pid BIGINT PRIMARY KEY, note TEXT CHARACTER SET latin1,
    full_name VARCHAR(50) CHARACTER SET utf8mb4, city VARCHAR(20) CHARACTER SET utf8mb4, extra INT DEFAULT 7)`);
  await db.source.query(
    `INSERT INTO people VALUES (1, 'Zoë ÿ €', 'naïve\\ttab', 's1', 'Köln', 'ÿ'), (2, NULL, NULL, NULL, NULL, NULL),
       (3, '', '', '', '', 'x'), (4, 'a\\\\b\\nc', 'x\\0y', 's', 'Zürich  ', 'x')`,
  );
  const mappings = [
    {
      source: { schema: db.name, table: 'people' },
      target: { table: 'folks' },
      columns: {
        include: [{ from: 'id', to: 'pid' }, { from: 'name', to: 'full_name' }, 'note', 'city', 'tag'],
      },
    },
  ];
  const copier = await copyAll(db, 'people', 2, mappings);
  assert.deepEqual(copier.rawRefusals, new Map());
  assert.equal(copier.stats.rawChunks, copier.stats.loadedChunks);
  assert.equal(copier.stats.upsertedChunks, 0);
  const [src] = await db.source.query<mysql.RowDataPacket[]>(
    `SELECT id, HEX(CONVERT(name USING utf8mb4)) AS n, HEX(CONVERT(note USING utf8mb4)) AS o,
            HEX(CONVERT(city USING utf8mb4)) AS c, HEX(CONVERT(tag USING utf8mb4)) AS t FROM people ORDER BY id`,
  );
  const [tgt] = await db.target.query<mysql.RowDataPacket[]>(
    `SELECT pid AS id, HEX(CONVERT(full_name USING utf8mb4)) AS n, HEX(CONVERT(note USING utf8mb4)) AS o,
            HEX(CONVERT(city USING utf8mb4)) AS c, HEX(CONVERT(tag USING utf8mb4)) AS t, extra FROM folks ORDER BY pid`,
  );
  assert.deepEqual(
    tgt.map((r) => ({ ...r, id: Number(r.id) })),
    src.map((r) => ({ ...r, extra: 7 })),
  );
  assert.equal(tgt[0]?.n, Buffer.from('Zoë ÿ €').toString('hex').toUpperCase());

  // With a filter the mapper must see the values: the table keeps the value path.
  await db.target.query('TRUNCATE folks');
  const filtered = await copyAll(db, 'people', 2, [
    { ...mappings[0], filter: { column: 'id', op: '>', value: 1 } },
  ]);
  assert.match(filtered.rawRefusals.get(`${db.name}.people`) ?? '', /filter or a transform/);
  assert.equal(filtered.stats.rawChunks, 0);
});

test('fast path: a row larger than one 16 MB packet, and the raw reader after an error', async (t) => {
  const db = await freshDatabases(t, 'bfrawbig');
  const ddl = 'CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT, n INT)';
  await db.source.query(ddl);
  await db.target.query(ddl);
  const bytes = `X'${Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex')}'`;
  // 17 MB of every byte value (escapes included) and 1 MB of text: the row packet is over 16 MB, so
  // the server splits it and sends the blob's length as 0xFE + 8 bytes.
  await db.source.query(
    `INSERT INTO big VALUES (1, 'a', 'b', 1), (2, REPEAT(${bytes}, 17 * 4096), REPEAT('é\\t', 500000), 2), (3, NULL, '', 3)`,
  );
  const copier = await copyAll(db, 'big', 1);
  assert.equal(copier.stats.rawChunks, copier.stats.loadedChunks);
  assert.equal(copier.stats.upsertedChunks, 0);
  const sql = (d: string) => `SELECT id, LENGTH(b), MD5(b), MD5(t), n FROM ${d}.big ORDER BY id`;
  const [[s], [g]] = await Promise.all([db.source.query(sql(db.name)), db.target.query(sql(db.name))]);
  assert.deepEqual(g, s);
  assert.equal((s as mysql.RowDataPacket[])[1]?.['LENGTH(b)'], 17 * 1024 * 1024);

  // An ERR from the server rejects with its error; the connection stays usable.
  const conn = await openSourceReader(datasource(testStack().sourcePort));
  try {
    await assert.rejects(
      rawTextQuery(conn, `SELECT id FROM ${db.name}.no_such_table`, 1, () => {}),
      (err: { errno?: number }) => err.errno === 1146,
    );
    // A sink that throws: the result is read to its end, then the error comes back.
    await assert.rejects(
      rawTextQuery(conn, `SELECT id FROM ${db.name}.big`, 1, () => {
        throw new Error('sink refused');
      }),
      /sink refused/,
    );
    await assert.rejects(
      rawTextQuery(conn, `SELECT id, n FROM ${db.name}.big`, 1, () => {}),
      /2 result columns/,
    );
    let rows = 0;
    assert.equal(await rawTextQuery(conn, `SELECT id FROM ${db.name}.big`, 1, () => rows++), 3);
    assert.equal(rows, 3);
    const [ok] = await conn.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
    assert.equal(ok[0]?.one, 1);
  } finally {
    await conn.end();
  }
});
