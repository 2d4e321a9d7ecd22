import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { type BackfillStatus, backfillWorkflowId, initialLoadId } from '../../src/backfill/contract';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { dumpTable, samePipelineConfig, startPipeline, status, waitFor } from '../helpers/pipeline';
import { connectTo, freshDatabases, withWorker } from '../helpers/stack';

const ROWS = 1_000_000;

/** Count and CRC sum per 50k-id bucket: equal buckets mean equal row multisets (fast enough to poll). */
async function buckets(conn: mysql.Connection, db: string): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT id DIV 50000 AS g, COUNT(*) AS n, SUM(CRC32(CONCAT_WS('|', id, a, b, c, IFNULL(u, 'N')))) AS s
       FROM \`${db}\`.big GROUP BY g ORDER BY g`,
  );
  return rows.map((r) => `${r.g}:${r.n}:${r.s}`).join(',');
}

test('initial load of a 1,000,000-row table while inserts, updates and deletes keep hitting it: target equals source row by row', async (t) => {
  const db = await freshDatabases(t, 'bfm');
  const ddl = `CREATE TABLE big (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(32), c DECIMAL(12,2), u DATETIME(3) NULL)`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  await db.source.query(
    `INSERT INTO big SELECT seq, seq % 1000, CONCAT('row ', seq), seq / 100, NULL FROM seq_1_to_${ROWS}`,
  );
  const config = await samePipelineConfig(db.source, db.name, { options: { loadExistingData: true } });

  // The writer: single-row inserts, updates and deletes all over the key space, on its own connection.
  const writer = await connectTo('source', db.name);
  t.after(() => writer.end());
  const ops = { insert: 0, update: 0, delete: 0 };
  let writing = true;
  let nextId = ROWS + 1;
  const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
  const write = (async () => {
    while (writing) {
      const r = Math.random();
      if (r < 0.3) {
        await writer.query(`INSERT INTO big VALUES (?, ?, 'inserted', 1.5, NOW(3))`, [nextId++, rnd(1000)]);
        ops.insert++;
      } else if (r < 0.75) {
        const [res] = await writer.query<mysql.ResultSetHeader>(
          `UPDATE big SET a = a + 1, b = CONCAT('updated ', ?), u = NOW(3) WHERE id = ?`,
          [ops.update, rnd(nextId)],
        );
        ops.update += res.affectedRows;
      } else {
        const [res] = await writer.query<mysql.ResultSetHeader>('DELETE FROM big WHERE id = ?', [
          rnd(nextId),
        ]);
        ops.delete += res.affectedRows;
      }
    }
  })();

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    const name = config.name as string;
    const child = client.workflow.getHandle(backfillWorkflowId(initialLoadId(name)));
    const loaded = (await waitFor(
      'the initial load to finish',
      () => child.result(),
      600_000,
    )) as BackfillStatus;
    assert.equal(loaded.state, 'done');
    assert.ok(loaded.rowsCopied >= ROWS - ops.delete, JSON.stringify(loaded));
    // The pipeline streams the changes made during and after the load.
    await new Promise((r) => setTimeout(r, 3000));
    writing = false;
    await write;
    assert.ok(ops.insert > 50 && ops.update > 50 && ops.delete > 50, JSON.stringify(ops));
    await waitFor(
      'target to converge',
      async () => (await buckets(db.source, db.name)) === (await buckets(db.target, db.name)),
      300_000,
      async () => JSON.stringify(await status(handle)),
    );
    const [s, tg] = [await dumpTable(db.source, db.name, 'big'), await dumpTable(db.target, db.name, 'big')];
    assert.equal(tg.length, s.length);
    const firstDiff = s.findIndex((row, i) => row !== tg[i]);
    assert.equal(firstDiff, -1, `first different row: source ${s[firstDiff]} target ${tg[firstDiff]}`);
    assert.ok(s.length > ROWS - ops.delete - 1);
    await handle.executeUpdate(stopUpdate);
    t.diagnostic(`load: ${JSON.stringify(loaded)}; writer: ${JSON.stringify(ops)}`);
  });
});
