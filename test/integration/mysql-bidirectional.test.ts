import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { metricOf, rowsOf, sleep } from '../helpers/bidi';
import { startPipeline, waitFor } from '../helpers/pipeline';
import { freshDatabases, mysqlSkipReason, uniqueName, withWorker } from '../helpers/stack';

// A bidirectional channel between a MySQL 9 site (the stack's "mysql-source") and a MariaDB site
// (the stack's "target"): two opposite pipelines on one channel converge and nothing loops.
const skip = mysqlSkipReason();

async function converged(
  a: mysql.Connection,
  b: mysql.Connection,
  db: string,
  want: string[],
): Promise<void> {
  await waitFor(`${db}.items to be ${JSON.stringify(want)} on both sites`, async () => {
    const [ra, rb] = await Promise.all([rowsOf(a, db), rowsOf(b, db)]);
    return JSON.stringify(ra) === JSON.stringify(want) && JSON.stringify(rb) === JSON.stringify(want);
  });
}

test('MySQL 9 ↔ MariaDB on one channel: changes on either site converge, none comes back', {
  skip,
}, async (t) => {
  const db = await freshDatabases(t, 'mybidi', { source: 'mysql-source', target: 'target' });
  const ddl = 'CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(50), ts BIGINT)';
  await db.source.query(ddl);
  await db.target.query(ddl);
  const startA = await readServerBinlogState(db.source);
  const startB = await readServerBinlogState(db.target);
  const channel = uniqueName('ch');
  const mappings = [{ source: { schema: db.name, table: 'items' } }];
  const ab = uniqueName('ab');
  const ba = uniqueName('ba');

  await withWorker(async ({ client, taskQueue }) => {
    const tuning = { runSeconds: 4 };
    const hAB = await startPipeline(
      client,
      taskQueue,
      {
        name: ab,
        source: 'mysql-source',
        target: 'target',
        mappings,
        start: { file: startA.file, pos: startA.pos },
        options: { channel: { id: channel } },
      },
      tuning,
    );
    const hBA = await startPipeline(
      client,
      taskQueue,
      {
        name: ba,
        source: 'target',
        target: 'mysql-source',
        mappings,
        start: { file: startB.file, pos: startB.pos },
        options: { channel: { id: channel } },
      },
      tuning,
    );
    try {
      await db.source.query(`INSERT INTO items VALUES (1, 'from MySQL', 1)`);
      await converged(db.source, db.target, db.name, ['1:from MySQL:1']);
      await db.target.query(`UPDATE items SET v = 'changed on MariaDB', ts = 2 WHERE id = 1`);
      await converged(db.source, db.target, db.name, ['1:changed on MariaDB:2']);
      await db.target.query(`INSERT INTO items VALUES (2, 'from MariaDB', 3)`);
      await converged(db.source, db.target, db.name, ['1:changed on MariaDB:2', '2:from MariaDB:3']);
      await db.source.query('DELETE FROM items WHERE id = 2');
      await converged(db.source, db.target, db.name, ['1:changed on MariaDB:2']);

      // ab: insert 1, delete 2; ba: update 1, insert 2 — and nothing more while both sites are idle.
      const applied = async () => ({
        ab: await metricOf('otterflow_rows_applied_total', ab),
        ba: await metricOf('otterflow_rows_applied_total', ba),
      });
      const after = await applied();
      assert.deepEqual(after, { ab: 2, ba: 2 });
      await sleep(9000);
      assert.deepEqual(await applied(), after, 'nothing applied while both sites are idle');
      assert.ok((await metricOf('otterflow_channel_dropped_transactions_total', ab)) >= 1);
      assert.ok((await metricOf('otterflow_channel_dropped_transactions_total', ba)) >= 1);
    } finally {
      await Promise.all([hAB.executeUpdate(stopUpdate), hBA.executeUpdate(stopUpdate)]);
    }
  });
});
