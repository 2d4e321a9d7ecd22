import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { chunksFromBoundaries, findBoundaries } from '../../src/backfill/chunk-plan';
import { openSourceReader, readSourceTable } from '../../src/backfill/source-table';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { ChunkCopier } from '../../src/connectors/mysql/backfill/copy';
import {
  chunkCounts,
  ensureBackfillTables,
  pendingChunkNumbers,
  storePlan,
} from '../../src/connectors/mysql/backfill/progress-store';
import { openMysql } from '../../src/connectors/mysql/connection';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import { COLUMNS, insertSql, ROWS } from '../helpers/every-type-table';
import { dumpTableExact } from '../helpers/pipeline';
import { freshDatabases, testStack } from '../helpers/stack';

// The initial load's LOAD DATA path must store every column type and edge value exactly as the
// source holds it: the rows of test/integration/pipeline-types.test.ts are copied chunk by chunk and
// compared byte for byte (dumpTableExact: text by HEX, TIMESTAMP by epoch, ENUM/SET by index and label).
// The copier's path counters prove the rows went through LOAD DATA and not the upsert fallback.

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
  /**
   * 'raw': the copier knows the mappings and reads plain tables as raw text rows (the fast path);
   * 'plain': it knows the mappings, reads JS values and skips the mapper; 'mapper': every row is mapped.
   */
  path: 'raw' | 'plain' | 'mapper' = 'raw',
  mappings: unknown[] = [{ source: { schema: db.name, table: '/.*/' } }],
): Promise<{ copier: ChunkCopier; backfillId: string; chunks: number }> {
  const s = testStack();
  const config = parsePipelineConfig({
    name: `${db.name}_p`,
    source: 'source',
    target: 'target',
    mappings,
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
    path === 'mapper' ? {} : { mappings: config.mappings, rawRows: path === 'raw' },
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
    rawChunks: 0,
    fallbackChunks: 0,
    upsertedChunks: 0,
  });
  await assertExact(db, 'all_types');
  await db.target.query('TRUNCATE all_types');
  const plain = await backfill(db, ['all_types'], 2, 'plain');
  assert.deepEqual(plain.copier.stats, {
    loadedChunks: plain.chunks,
    rawChunks: 0,
    fallbackChunks: 0,
    upsertedChunks: 0,
  });
  await assertExact(db, 'all_types');
  await db.target.query('TRUNCATE all_types');
  // The fast path: raw text rows transcoded into the load file (every chunk, none fell back).
  const { copier, chunks } = await backfill(db, ['all_types'], 2, 'raw');
  assert.deepEqual(copier.rawRefusals, new Map());
  assert.deepEqual(copier.stats, {
    loadedChunks: chunks,
    rawChunks: chunks,
    fallbackChunks: 0,
    upsertedChunks: 0,
  });
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
  assert.deepEqual(copier.stats, { loadedChunks: 10, rawChunks: 10, fallbackChunks: 1, upsertedChunks: 1 });
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
