import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { stopUpdate, updateConfigUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor, waitForExactTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

async function tablesOf(conn: mysql.Connection, schema: string): Promise<string[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1',
    [schema],
  );
  return rows.map((r) => String(r.t));
}

async function columnsOf(conn: mysql.Connection, schema: string, table: string): Promise<string[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [schema, table],
  );
  return rows.map((r) => String(r.c));
}

test('ddl "apply": ALTER / CREATE / RENAME / TRUNCATE / DROP reach the target under the mapped names', async (t) => {
  const db = await freshDatabases(t, 'pddl');
  const db2 = `${db.name}_2`;
  await db.target.query(`CREATE DATABASE \`${db2}\``);
  t.after(() => db.target.query(`DROP DATABASE IF EXISTS \`${db2}\``).catch(() => {}));
  await db.source.query('CREATE TABLE src_t (id INT PRIMARY KEY, v VARCHAR(20))');
  await db.target.query(`CREATE TABLE \`${db2}\`.dst_t (id INT PRIMARY KEY, v VARCHAR(20))`);
  const config = await samePipelineConfig(db.source, db.name, {
    mappings: [
      { source: { schema: db.name, table: 'src_t' }, target: { schema: db2, table: 'dst_t' } },
      { source: { schema: db.name, table: 'shard_[1-3]' }, target: { schema: db2, table: 'copy_[1-3]' } },
    ],
    options: { ddl: 'apply' },
  });

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query(`INSERT INTO src_t VALUES (1, 'one'), (2, 'two')`);
    await db.source.query(`ALTER TABLE src_t ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'dflt' AFTER id`);
    await db.source.query(`INSERT INTO src_t VALUES (3, 'x3', 'three')`);
    await db.source.query(`UPDATE src_t SET extra = 'e1' WHERE id = 1`);
    await waitForExactTables(db.source, db.target, db.name, 'src_t', handle, 60_000, db2, 'dst_t');
    assert.deepEqual(await columnsOf(db.target, db2, 'dst_t'), ['id', 'extra', 'v']);

    // A new table that the shard mapping covers, an unmapped one, and a rename inside the mapping.
    await db.source.query('CREATE TABLE `shard_1` (id INT PRIMARY KEY, note TEXT)');
    await db.source.query('CREATE TABLE unmapped (id INT PRIMARY KEY)');
    await db.source.query(`INSERT INTO shard_1 VALUES (1, 'a'), (2, 'b')`);
    await waitForExactTables(db.source, db.target, db.name, 'shard_1', handle, 60_000, db2, 'copy_1');
    await db.source.query('RENAME TABLE shard_1 TO shard_2');
    await db.source.query(`INSERT INTO shard_2 VALUES (3, 'c')`);
    await waitForExactTables(db.source, db.target, db.name, 'shard_2', handle, 60_000, db2, 'copy_2');
    assert.deepEqual(await tablesOf(db.target, db2), ['copy_2', 'dst_t']);
    assert.deepEqual(await tablesOf(db.target, db.name), [], 'unmapped DDL does not reach the target');

    await db.source.query('TRUNCATE TABLE src_t');
    await db.source.query(`INSERT INTO src_t VALUES (10, 'after', 'truncate')`);
    await waitForExactTables(db.source, db.target, db.name, 'src_t', handle, 60_000, db2, 'dst_t');
    await db.source.query('DROP TABLE shard_2');
    await waitFor('copy_2 to be dropped on the target', async () => {
      const tables = await tablesOf(db.target, db2);
      return tables.length === 1 && tables[0] === 'dst_t';
    });

    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.equal(final.lastError, undefined);
    // ALTER, CREATE shard_1, RENAME, TRUNCATE, DROP (the unmapped CREATE is not ours).
    assert.equal(final.counters.ddlApplied, 5, JSON.stringify(final.counters));
  });
});

test('ddl "stop" fails the pipeline naming the statement; "skip" then passes it with a warning', async (t) => {
  const db = await freshDatabases(t, 'pddls');
  await db.source.query('CREATE TABLE items (id INT PRIMARY KEY, v INT)');
  await db.target.query('CREATE TABLE items (id INT PRIMARY KEY, v INT)');
  const config = await samePipelineConfig(db.source, db.name, { options: { ddl: 'stop' } });

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query('INSERT INTO items VALUES (1, 1)');
    const alter = 'ALTER TABLE items ADD COLUMN w INT NOT NULL DEFAULT 7';
    await db.source.query(alter);
    await db.source.query('INSERT INTO items VALUES (2, 2, 2)');
    const failed = await waitFor('the pipeline to fail on the DDL', async () => {
      const s = await status(handle);
      return s.state === 'failed' ? s : false;
    });
    assert.ok(failed.lastError?.message.includes(alter), JSON.stringify(failed.lastError));
    assert.equal(failed.lastError?.retryable, false);
    assert.match(failed.lastError?.where ?? '', /mysql-bin\.\d+:\d+/);
    // Everything before the DDL is on the target, nothing after it.
    assert.deepEqual((await db.target.query('SELECT id FROM items ORDER BY id'))[0], [{ id: 1 }]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await status(handle)).state, 'failed', 'a failed pipeline stays failed');

    // The operator applies the change by hand and tells the pipeline to skip the statement.
    await db.target.query(alter);
    const next = parsePipelineConfig({ ...config, options: { ...config.options, ddl: 'skip' } });
    const resumed = await handle.executeUpdate(updateConfigUpdate, { args: [next] });
    assert.equal(resumed.state, 'running');
    await waitForExactTables(db.source, db.target, db.name, 'items', handle);
    const warned = await waitFor('a warning about the skipped DDL', async () => {
      const s = await status(handle);
      return s.warnings.find((w) => w.includes('DDL skipped') && w.includes(alter));
    });
    assert.ok(warned);
    await handle.executeUpdate(stopUpdate);
    assert.equal((await handle.result()).counters.ddlApplied, 0);
  });
});

test('an UPDATE or DELETE whose row is missing on the target is counted and reported, not ignored', async (t) => {
  const db = await freshDatabases(t, 'pmiss');
  await db.source.query('CREATE TABLE items (id INT PRIMARY KEY, v INT)');
  await db.target.query('CREATE TABLE items (id INT PRIMARY KEY, v INT)');
  const config = await samePipelineConfig(db.source, db.name);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query('INSERT INTO items VALUES (1, 1), (2, 2), (3, 3)');
    await waitForExactTables(db.source, db.target, db.name, 'items', handle);
    await db.target.query('DELETE FROM items WHERE id IN (1, 2)'); // drift made by someone on the target
    await db.source.query('UPDATE items SET v = 10 WHERE id = 1');
    await db.source.query('DELETE FROM items WHERE id = 2');
    // options.missingRow "report": the update is written as an insert, so the tables converge.
    await waitForExactTables(db.source, db.target, db.name, 'items', handle);
    const reported = await waitFor(
      'the missing rows in the status',
      async () => {
        const s = await status(handle);
        return s.counters.missingOnUpdate >= 1 && s.counters.missingOnDelete >= 1 ? s : false;
      },
      90_000,
    );
    assert.equal(reported.counters.missingOnUpdate, 1, JSON.stringify(reported.counters));
    assert.equal(reported.counters.missingOnDelete, 1, JSON.stringify(reported.counters));
    assert.ok(
      reported.warnings.some(
        (w) => w.includes('rows missing on the target') && w.includes(`update ${db.name}.items {"id":"1"}`),
      ),
      JSON.stringify(reported.warnings),
    );
    await handle.executeUpdate(stopUpdate);
  });
});
