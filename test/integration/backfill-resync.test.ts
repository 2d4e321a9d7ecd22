import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type mysql from 'mysql2/promise';
import { type BackfillInput, type BackfillStatus, backfillWorkflowId } from '../../src/backfill/contract';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitForEqualTables } from '../helpers/pipeline';
import { connectTo, freshDatabases, uniqueName, withWorker } from '../helpers/stack';

const ROWS = 60_000;

test('online re-sync repairs a diverged target while the pipeline streams and the source keeps changing', async (t) => {
  const db = await freshDatabases(t, 'bfr');
  const ddl = `CREATE TABLE r (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(40))`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  await db.source.query(`INSERT INTO r SELECT seq, seq % 100, CONCAT('row ', seq) FROM seq_1_to_${ROWS}`);
  // The target starts with the same rows, then drifts: some rows lost, some altered (what a re-sync is for).
  await db.target.query(`INSERT INTO r SELECT seq, seq % 100, CONCAT('row ', seq) FROM seq_1_to_${ROWS}`);
  await db.target.query(`DELETE FROM r WHERE id % 7 = 0`);
  await db.target.query(`UPDATE r SET b = 'drifted' WHERE id % 10 = 3`);
  const config = await samePipelineConfig(db.source, db.name);

  const writer = await connectTo('source', db.name);
  t.after(() => writer.end());
  const ops = { insert: 0, update: 0, delete: 0 };
  let writing = true;
  let nextId = ROWS + 1;
  const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
  const write = (async () => {
    while (writing) {
      const x = Math.random();
      if (x < 0.3) {
        await writer.query(`INSERT INTO r VALUES (?, 1, 'new')`, [nextId++]);
        ops.insert++;
      } else if (x < 0.7) {
        const [res] = await writer.query<mysql.ResultSetHeader>(
          `UPDATE r SET a = a + 1, b = 'upd' WHERE id = ?`,
          [rnd(nextId)],
        );
        ops.update += res.affectedRows;
      } else {
        const [res] = await writer.query<mysql.ResultSetHeader>('DELETE FROM r WHERE id = ?', [rnd(nextId)]);
        ops.delete += res.affectedRows;
      }
    }
  })();

  await withWorker(async ({ client, taskQueue }) => {
    const pipeline = await startPipeline(client, taskQueue, config);
    const id = uniqueName('resync');
    const input: BackfillInput = {
      id,
      kind: 'resync',
      config: parsePipelineConfig(config),
      tables: [{ schema: db.name, table: 'r' }],
      chunkSize: 3000,
    };
    const result = (await client.workflow.execute('backfillWorkflow', {
      taskQueue,
      workflowId: backfillWorkflowId(id),
      args: [input],
    })) as BackfillStatus;
    writing = false;
    await write;
    assert.equal(result.state, 'done');
    const req = result.requests?.[0];
    assert.equal(req?.status, 'done');
    assert.ok(ops.update > 20 && ops.delete > 20, JSON.stringify(ops));
    // Every source row was either copied from its chunk or dropped because the stream changed it in the window.
    assert.ok((req?.rowsCopied ?? 0) + (req?.rowsSkipped ?? 0) >= ROWS - ops.delete, JSON.stringify(result));
    await waitForEqualTables(db.source, db.target, db.name, 'r', pipeline, 120_000);
    await pipeline.executeUpdate(stopUpdate);
    t.diagnostic(`resync: ${JSON.stringify(result.requests)}; writer: ${JSON.stringify(ops)}`);
  });
});

test('re-sync by WHERE condition and by keys; an invalid condition is rejected before anything runs', async (t) => {
  const db = await freshDatabases(t, 'bfw');
  const ddl = `CREATE TABLE w (id BIGINT UNSIGNED PRIMARY KEY, status VARCHAR(10), v INT)`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  await db.source.query(`INSERT INTO w SELECT seq, IF(seq % 2, 'open', 'closed'), seq FROM seq_1_to_500`);
  await db.source.query(`INSERT INTO w VALUES (18446744073709551615, 'open', 0)`);
  const config = await samePipelineConfig(db.source, db.name);
  const parsed = parsePipelineConfig(config);

  await withWorker(async ({ client, taskQueue }) => {
    const pipeline = await startPipeline(client, taskQueue, config);
    const run = (extra: Partial<BackfillInput>) => {
      const id = uniqueName('rs');
      return {
        id,
        result: client.workflow.execute('backfillWorkflow', {
          taskQueue,
          workflowId: backfillWorkflowId(id),
          args: [{ id, kind: 'resync', config: parsed, tables: [{ schema: db.name, table: 'w' }], ...extra }],
        }) as Promise<BackfillStatus>,
      };
    };
    const byWhere = await run({ where: "status = 'open' AND v BETWEEN 1 AND 100", chunkSize: 7 }).result;
    assert.equal(byWhere.requests?.[0]?.rowsCopied, 50);
    const [open] = await db.target.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n, MAX(v) AS m FROM w');
    assert.deepEqual(
      [Number(open[0]?.n), Number(open[0]?.m)],
      [50, 99],
      'only the matching rows were copied',
    );

    const byKeys = await run({ keys: [[2], ['18446744073709551615'], [999_999]] }).result;
    assert.equal(byKeys.requests?.[0]?.rowsCopied, 2, 'a key absent from the source copies nothing');
    const [keyed] = await db.target.query<mysql.RowDataPacket[]>(
      `SELECT CAST(id AS CHAR) AS id FROM w WHERE id IN (2, 18446744073709551615) ORDER BY w.id`,
    );
    assert.deepEqual(
      keyed.map((r) => r.id),
      ['2', '18446744073709551615'],
    );

    for (const bad of [
      'no_such_column = 1',
      "status = 'open' ORDER",
      '1=1; DROP TABLE w',
      'id IN (SELECT 1)',
    ]) {
      const { id, result } = run({ where: bad });
      await assert.rejects(result, (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        let msg = '';
        for (let e: unknown = err; e instanceof Error; e = e.cause) msg += ` ${e.message}`;
        assert.match(msg, /invalid WHERE condition/, msg);
        return true;
      });
      const [reqs] = await db.target.query<mysql.RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM otterflow.resync_requests WHERE backfill_id = ?',
        [id],
      );
      assert.equal(Number(reqs[0]?.n), 0, `nothing was requested for ${bad}`);
    }
    await pipeline.executeUpdate(stopUpdate);
  });
});
