import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor, waitForExactTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

const TABLES = [
  // No primary key, a unique key: rows are matched by (a, b).
  'CREATE TABLE uk (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, UNIQUE KEY ab (a, b))',
  // A unique key over a NULLable column does not identify rows (NULLs repeat).
  'CREATE TABLE un (a INT NULL, v INT, UNIQUE KEY ua (a))',
  // No key at all: identical rows may repeat, and each copy counts.
  'CREATE TABLE nk (a INT, b VARCHAR(10), v DOUBLE)',
];

test('tables without a primary key: matched by unique key, or by the full row (with a warning)', async (t) => {
  const db = await freshDatabases(t, 'pnokey');
  for (const ddl of TABLES) {
    await db.source.query(ddl);
    await db.target.query(ddl);
  }
  const config = await samePipelineConfig(db.source, db.name);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query(`INSERT INTO uk VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3)`);
    await db.source.query(`UPDATE uk SET v = 20 WHERE a = 1 AND b = 'y'`);
    await db.source.query(`UPDATE uk SET b = 'z' WHERE a = 2`); // the unique key itself changes
    await db.source.query(`DELETE FROM uk WHERE a = 1 AND b = 'x'`);

    await db.source.query('INSERT INTO un VALUES (NULL, 1), (NULL, 1), (NULL, 2), (5, 5)');
    await db.source.query('UPDATE un SET v = 9 WHERE a IS NULL AND v = 1 LIMIT 1');
    await db.source.query('DELETE FROM un WHERE a IS NULL AND v = 2');
    await db.source.query('UPDATE un SET a = 6 WHERE a = 5');

    await db.source.query(
      `INSERT INTO nk VALUES (1, 'dup', 0.5), (1, 'dup', 0.5), (1, 'dup', 0.5), (NULL, NULL, NULL), (NULL, NULL, NULL), (2, 'one', -0.25)`,
    );
    // One of three identical rows changes; one of two all-NULL rows goes; one identical copy goes.
    await db.source.query(`UPDATE nk SET v = 1.5 WHERE a = 1 LIMIT 1`);
    await db.source.query('DELETE FROM nk WHERE a IS NULL LIMIT 1');
    await db.source.query(`DELETE FROM nk WHERE a = 1 AND v = 0.5 LIMIT 1`);
    await db.source.query(`UPDATE nk SET b = 'ONE' WHERE a = 2`);
    // A transaction that inserts then deletes an identical copy: net nothing.
    await db.source.query(
      `START TRANSACTION; INSERT INTO nk VALUES (1, 'dup', 0.5); DELETE FROM nk WHERE a = 1 AND v = 0.5 LIMIT 1; COMMIT`,
    );

    for (const table of ['uk', 'un', 'nk'])
      await waitForExactTables(db.source, db.target, db.name, table, handle);
    const [nk] = await db.target.query('SELECT a, b, v FROM nk ORDER BY a, b, v');
    assert.deepEqual(nk, [
      { a: null, b: null, v: null },
      { a: 1, b: 'dup', v: 0.5 },
      { a: 1, b: 'dup', v: 1.5 },
      { a: 2, b: 'ONE', v: -0.25 },
    ]);
    const [un] = await db.target.query('SELECT a, v FROM un ORDER BY a, v');
    assert.deepEqual(un, [
      { a: null, v: 1 },
      { a: null, v: 9 },
      { a: 6, v: 5 },
    ]);

    const warned = await waitFor(
      'warnings about the keyless tables',
      async () => {
        const s = await status(handle);
        return s.warnings.length >= 2 ? s.warnings : false;
      },
      90_000,
    );
    assert.ok(
      warned.some((w) => w.includes(`${db.name}.uk`) && w.includes('unique key (a, b)')),
      JSON.stringify(warned),
    );
    assert.ok(
      warned.some((w) => w.includes(`${db.name}.nk`) && w.includes('neither a primary nor a unique key')),
      JSON.stringify(warned),
    );
    assert.ok(
      warned.some((w) => w.includes(`${db.name}.un`) && w.includes('neither a primary nor a unique key')),
      `a unique key over a NULLable column does not identify rows: ${JSON.stringify(warned)}`,
    );
    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.equal(final.counters.missingOnUpdate, 0, JSON.stringify(final.counters));
    assert.equal(final.counters.missingOnDelete, 0, JSON.stringify(final.counters));
  });
});
