import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { chunksFromBoundaries, findBoundaries, integerRangeBoundaries } from '../../src/backfill/chunk-plan';
import { chunkSelect, openSourceReader, readSourceTable } from '../../src/backfill/source-table';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { freshDatabases, testStack } from '../helpers/stack';

// Chunk boundaries of a single integer key come from MIN/MAX arithmetic when the keys are dense
// (no index walk before the first chunk), and from the index walk otherwise. Either way the chunks
// must cover every row exactly once.

function sourceDatasource(): ResolvedDatasource {
  const s = testStack();
  return {
    name: 'src',
    kind: 'mariadb',
    host: s.host,
    port: s.sourcePort,
    user: 'root',
    password: '',
  } as ResolvedDatasource;
}

async function rowsPerChunk(reader: mysql.Connection, db: string, table: string, chunkSize: number) {
  const st = await readSourceTable(reader, { schema: db, table });
  const arithmetic = await integerRangeBoundaries(reader, st, chunkSize);
  const boundaries = arithmetic ?? (await findBoundaries(reader, st, chunkSize));
  const counts: number[] = [];
  for (const c of chunksFromBoundaries(boundaries)) {
    const q = chunkSelect(st, c);
    const [rows] = await reader.query<mysql.RowDataPacket[]>(q.sql, q.params);
    counts.push(rows.length);
  }
  return { arithmetic: arithmetic !== undefined, boundaries, counts };
}

test('dense integer keys are planned by arithmetic, sparse or non-integer keys by walking the index; the chunks cover every row once', async (t) => {
  const db = await freshDatabases(t, 'plan');
  const src = db.source;
  await src.query('CREATE TABLE dense (id INT PRIMARY KEY, v INT)');
  await src.query('INSERT INTO dense SELECT seq, seq FROM seq_1_to_2500');
  await src.query('DELETE FROM dense WHERE id BETWEEN 1200 AND 1500'); // a gap: uneven chunks, still covered
  await src.query('CREATE TABLE sparse (id INT PRIMARY KEY)');
  await src.query('INSERT INTO sparse SELECT seq * 1000 FROM seq_1_to_2500');
  await src.query('CREATE TABLE top (id BIGINT UNSIGNED PRIMARY KEY)');
  await src.query('INSERT INTO top SELECT 18446744073709551615 - seq + 1 FROM seq_1_to_25');
  await src.query('CREATE TABLE named (k VARCHAR(10) PRIMARY KEY)');
  await src.query("INSERT INTO named SELECT CONCAT('k', seq) FROM seq_1_to_25");
  await src.query('CREATE TABLE empty (id INT PRIMARY KEY)');
  await src.query('ANALYZE TABLE dense, sparse, top, named, empty');
  const reader = await openSourceReader(sourceDatasource());
  t.after(() => reader.end());

  const dense = await rowsPerChunk(reader, db.name, 'dense', 1000);
  assert.equal(dense.arithmetic, true);
  assert.deepEqual(dense.boundaries, [[1000], [2000]]);
  assert.deepEqual(dense.counts, [1000, 699, 500]);

  const sparse = await rowsPerChunk(reader, db.name, 'sparse', 1000);
  assert.equal(sparse.arithmetic, false);
  assert.deepEqual(sparse.counts, [1000, 1000, 500]);

  const top = await rowsPerChunk(reader, db.name, 'top', 10);
  assert.equal(top.arithmetic, true);
  assert.deepEqual(top.boundaries, [[18446744073709551600n], [18446744073709551610n]]); // max is …615: no boundary there
  assert.deepEqual(top.counts, [10, 10, 5]);

  const named = await rowsPerChunk(reader, db.name, 'named', 10);
  assert.equal(named.arithmetic, false);
  assert.deepEqual(named.counts, [10, 10, 5]);

  const empty = await rowsPerChunk(reader, db.name, 'empty', 10);
  assert.equal(empty.arithmetic, true);
  assert.deepEqual(empty.counts, [0]);
});
