import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { countKinds, loggedRows, metricOf, rowsOf, sleep } from '../helpers/bidi';
import { startPipeline, waitFor } from '../helpers/pipeline';
import { freshDatabases, testStack, uniqueName, withWorker } from '../helpers/stack';

// Sites A and B are the test stack's "source" (port 23306) and "target" (23307); both log ROW/FULL.
// Pipeline ab: A → B, pipeline ba: B → A, one channel.

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

test('two opposite pipelines on one channel converge and nothing loops; * suppresses sync', async (t) => {
  const db = await freshDatabases(t, 'bidi');
  const ddl = 'CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(50), ts BIGINT)';
  await db.source.query(ddl);
  await db.target.query(ddl);
  const s = testStack();
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
        source: 'source',
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
        target: 'source',
        mappings,
        start: { file: startB.file, pos: startB.pos },
        options: { channel: { id: channel } },
      },
      tuning,
    );
    try {
      // One change at a time, each converged before the next, alternating sites.
      await db.source.query(`INSERT INTO items VALUES (1, 'from A', 1)`);
      await converged(db.source, db.target, db.name, ['1:from A:1']);
      await db.target.query(`UPDATE items SET v = 'changed on B', ts = 2 WHERE id = 1`);
      await converged(db.source, db.target, db.name, ['1:changed on B:2']);
      await db.target.query(`INSERT INTO items VALUES (2, 'from B', 3)`);
      await converged(db.source, db.target, db.name, ['1:changed on B:2', '2:from B:3']);
      await db.source.query('DELETE FROM items WHERE id = 2');
      await converged(db.source, db.target, db.name, ['1:changed on B:2']);

      // Suppress sync: an application transaction writing channel '*' is replicated by no channel,
      // whether the marker comes first or last in the transaction.
      await db.source.query(
        "START TRANSACTION; INSERT INTO otterflow.marks (channel, pipeline, seq) VALUES ('*', 'app', 1) ON DUPLICATE KEY UPDATE seq = seq + 1; INSERT INTO items VALUES (50, 'suppressed first', 0); COMMIT",
      );
      await db.target.query(
        "START TRANSACTION; INSERT INTO items VALUES (60, 'suppressed last', 0); INSERT INTO otterflow.marks (channel, pipeline, seq) VALUES ('*', 'app', 1) ON DUPLICATE KEY UPDATE seq = seq + 1; COMMIT",
      );
      // Later ordinary transactions still flow, so the suppressed ones were read and dropped.
      await db.source.query(`INSERT INTO items VALUES (51, 'after marker A', 0)`);
      await db.target.query(`INSERT INTO items VALUES (61, 'after marker B', 0)`);
      await waitFor('rows 51 and 61 on both sites', async () => {
        const [ra, rb] = await Promise.all([rowsOf(db.source, db.name), rowsOf(db.target, db.name)]);
        return ra.some((r) => r.startsWith('61:')) && rb.some((r) => r.startsWith('51:'));
      });
      assert.deepEqual(await rowsOf(db.source, db.name), [
        '1:changed on B:2',
        '50:suppressed first:0',
        '51:after marker A:0',
        '61:after marker B:0',
      ]);
      assert.deepEqual(await rowsOf(db.target, db.name), [
        '1:changed on B:2',
        '51:after marker A:0',
        '60:suppressed last:0',
        '61:after marker B:0',
      ]);

      // Exact work per direction (rows applied after per-key merging), and flat when idle.
      const applied = async () => ({
        ab: await metricOf('otterflow_rows_applied_total', ab),
        ba: await metricOf('otterflow_rows_applied_total', ba),
      });
      const after = await applied();
      // ab: insert 1, delete 2, insert 51; ba: update 1, insert 2, insert 61.
      assert.deepEqual(after, { ab: 3, ba: 3 });
      await sleep(9000); // two runs of each pipeline, with source heartbeats, checkpoints and marks
      assert.deepEqual(await applied(), after, 'nothing applied while both sites are idle');
      assert.ok((await metricOf('otterflow_channel_dropped_transactions_total', ab)) >= 1);
      assert.ok((await metricOf('otterflow_channel_dropped_transactions_total', ba)) >= 1);

      // Each server's binlog (read by mariadb-binlog) shows every change once: the application's
      // writes plus the other direction's, never an echo.
      const onA = countKinds(await loggedRows(s.sourcePort, startA, db.name, 'items'));
      const onB = countKinds(await loggedRows(s.targetPort, startB, db.name, 'items'));
      // A: insert 1 (app), update 1 (from B), insert 2 (from B), delete 2 (app), insert 50, 51 (app), 61 (from B)
      assert.deepEqual(onA, { insert: 5, update: 1, delete: 1 });
      // B: insert 1 (from A), update 1 (app), insert 2 (app), delete 2 (from A), insert 60, 61 (app), 51 (from A)
      assert.deepEqual(onB, { insert: 5, update: 1, delete: 1 });
      // The applied transactions carry the channel's mark rows.
      const marksOnB = await loggedRows(s.targetPort, startB, 'otterflow', 'marks');
      assert.ok(
        marksOnB.some((r) => r.after?.get(0)?.text === `'${channel}'`),
        'ab wrote its mark rows into B',
      );
    } finally {
      await Promise.all([hAB.executeUpdate(stopUpdate), hBA.executeUpdate(stopUpdate)]);
    }
  });
});
