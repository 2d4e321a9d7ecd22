import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { replicationMetrics } from '../../src/replication/metrics';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitForExactTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

/** Polls the row count of `table` until stopped; `stop` resolves with every count seen. */
function watchRowCounts(conn: mysql.Connection, table: string): { stop(): Promise<Set<number>> } {
  const seen = new Set<number>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const [[c]] = await conn.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`);
      seen.add(Number(c?.n));
    }
  })();
  return {
    async stop() {
      watching = false;
      await watcher;
      return seen;
    },
  };
}

async function slicesOf(pipeline: string): Promise<number> {
  const m = await replicationMetrics.slices.get();
  return m.values.find((v) => v.labels.pipeline === pipeline)?.value ?? 0;
}

test('maxBatchBytes: a transaction of wide rows far below batchSize is applied in slices, and appears whole', async (t) => {
  const db = await freshDatabases(t, 'bbytes');
  const ddl = 'CREATE TABLE wide (id INT PRIMARY KEY, body MEDIUMBLOB, note VARCHAR(20))';
  await db.source.query(ddl);
  await db.target.query(ddl);
  // 128 KiB of row events at most per slice; batchSize stays at its default (25,000 rows).
  const config = await samePipelineConfig(db.source, db.name, { options: { maxBatchBytes: 128 * 1024 } });
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    // 40 rows of 32 KiB in ONE source transaction: about 1.3 MB of row events, 40 rows.
    await db.source.query(
      "INSERT INTO wide SELECT seq, REPEAT(UNHEX(SHA2(seq, 256)), 1024), 'r' FROM seq_1_to_40",
    );
    // Slices go into one open target transaction: a reader sees none of the rows or all 40.
    const watch = watchRowCounts(db.target, 'wide');
    await waitForExactTables(db.source, db.target, db.name, 'wide', handle);
    const seen = await watch.stop();
    assert.deepEqual(
      [...seen].filter((n) => n !== 0 && n !== 40),
      [],
      'no partial transaction visible',
    );
    const slices = await slicesOf(config.name as string);
    assert.ok(slices >= 5, `applied in ${slices} slices`);
    // Small rows keep going as usual afterwards.
    await db.source.query(`UPDATE wide SET note = 'changed' WHERE id <= 20`);
    await waitForExactTables(db.source, db.target, db.name, 'wide', handle);
    await handle.executeUpdate(stopUpdate);
  });
  const [[n]] = await db.target.query<mysql.RowDataPacket[]>(
    'SELECT COUNT(*) AS n, SUM(LENGTH(body)) AS b FROM wide',
  );
  assert.deepEqual([Number(n?.n), Number(n?.b)], [40, 40 * 32 * 1024]);
});

test('a batch that fills up in the middle of a small source transaction waits for its end: no slice, and it appears whole', async (t) => {
  const db = await freshDatabases(t, 'bfill');
  const ddl = 'CREATE TABLE items (id INT PRIMARY KEY, txn INT NOT NULL)';
  await db.source.query(ddl);
  await db.target.query(ddl);
  // The start position is taken now, so the transactions below are a backlog the pipeline reads in one go.
  const config = await samePipelineConfig(db.source, db.name, { options: { batchSize: 10 } });
  // 40 transactions of 3 rows: a 10-change batch is full at the first row of every fourth transaction.
  for (let txn = 0; txn < 40; txn++) {
    await db.source.beginTransaction();
    await db.source.query('INSERT INTO items VALUES (?, ?), (?, ?), (?, ?)', [
      txn * 3,
      txn,
      txn * 3 + 1,
      txn,
      txn * 3 + 2,
      txn,
    ]);
    await db.source.commit();
  }
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    const watch = watchRowCounts(db.target, 'items');
    await waitForExactTables(db.source, db.target, db.name, 'items', handle);
    const seen = await watch.stop();
    assert.deepEqual(
      [...seen].filter((n) => n % 3 !== 0),
      [],
      'only whole source transactions visible',
    );
    // Slices are for a transaction larger than a batch; these batches commit at transaction ends.
    assert.equal(await slicesOf(config.name as string), 0);
    await handle.executeUpdate(stopUpdate);
  });
});
