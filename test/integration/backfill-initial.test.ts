import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import {
  type BackfillStatus,
  backfillStatusQuery,
  backfillWorkflowId,
  initialLoadId,
} from '../../src/backfill/contract';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitForExactTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

test('loadExistingData: existing rows of every mapped table are copied first, then CDC streams from the recorded position', async (t) => {
  const db = await freshDatabases(t, 'bfi');
  const ddl = [
    `CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(100) CHARACTER SET utf8mb4, price DECIMAL(20,4),
       at DATETIME(3), ts TIMESTAMP(6) NULL, raw VARBINARY(16), flag BIT(3), kind ENUM('a','b,c'), f FLOAT, note TEXT)`,
    `CREATE TABLE pairs (a VARCHAR(20) NOT NULL, b INT NOT NULL, v INT, PRIMARY KEY (a, b))`,
  ];
  for (const d of ddl) {
    await db.source.query(d);
    await db.target.query(d);
  }
  await db.source.query(
    `INSERT INTO items SELECT seq, CONCAT('name ', seq, IF(seq % 7 = 0, ' 🦦', '')), seq / 3, '2024-01-02 03:04:05.678',
       IF(seq % 5 = 0, NULL, '2038-01-19 03:14:07.999999'), UNHEX(HEX(seq)), seq % 8, IF(seq % 2, 'a', 'b,c'), 0.1, NULL
     FROM seq_1_to_2500`,
  );
  await db.source.query(
    `INSERT INTO items VALUES (18446744073709551615, 'max', -0.0001, NULL, NULL, NULL, NULL, NULL, NULL, '')`,
  );
  await db.source.query(`INSERT INTO pairs SELECT CONCAT('k', seq % 13), seq, seq * 2 FROM seq_1_to_1200`);
  const config = await samePipelineConfig(db.source, db.name, { options: { loadExistingData: true } });

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    // Written while the load may still run: CDC from the recorded position brings them.
    await db.source.query(`UPDATE items SET name = 'changed' WHERE id = 10`);
    await db.source.query(`DELETE FROM items WHERE id = 11`);
    await db.source.query(`INSERT INTO pairs VALUES ('new', 1, 1)`);
    await waitForExactTables(db.source, db.target, db.name, 'items', handle);
    await waitForExactTables(db.source, db.target, db.name, 'pairs', handle);

    const child = client.workflow.getHandle(backfillWorkflowId(initialLoadId(config.name as string)));
    const loaded: BackfillStatus = await child.result();
    assert.equal(loaded.state, 'done');
    assert.equal(loaded.kind, 'initial');
    assert.ok(loaded.rowsCopied >= 2500 + 1200, JSON.stringify(loaded));
    assert.equal(loaded.chunksDone, loaded.chunksTotal);
    const st = await status(handle as WorkflowHandle);
    assert.equal(st.initialLoadDone, true);
    // CDC keeps going after the load.
    await db.source.query(`UPDATE items SET price = 1 WHERE id = 12`);
    await waitForExactTables(db.source, db.target, db.name, 'items', handle);
    await handle.executeUpdate(stopUpdate);
    assert.equal((await child.query(backfillStatusQuery)).state, 'done');
  });
});
