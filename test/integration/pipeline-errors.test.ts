import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { resumeUpdate, updateConfigUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor, waitForEqualTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

// The target has a unique key the source lacks: the source's second 'dup' row violates it.
const SOURCE_DDL = 'CREATE TABLE t (id INT PRIMARY KEY, code VARCHAR(10))';
const TARGET_DDL = 'CREATE TABLE t (id INT PRIMARY KEY, code VARCHAR(10), UNIQUE KEY (code))';

test('a row the target refuses stops the pipeline with a clear error (onError: stop)', async (t) => {
  const db = await freshDatabases(t, 'err');
  await db.source.query(SOURCE_DDL);
  await db.target.query(TARGET_DDL);
  const config = await samePipelineConfig(db.source, db.name);
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query(`INSERT INTO t VALUES (1, 'a'), (2, 'dup'), (3, 'dup'), (4, 'b')`);
    const failed = await waitFor('the pipeline to fail', async () => {
      const s = await status(handle);
      return s.state === 'failed' ? s : undefined;
    });
    assert.match(
      failed.lastError?.message ?? '',
      /target refused a row: a row for err_\w+\.t collides with a DIFFERENT existing row on a secondary UNIQUE key/,
    );
    assert.match(failed.lastError?.message ?? '', /retryRowByRow/);
    assert.match(failed.lastError?.where ?? '', /mysql-bin\.\d+:\d+/);
    const [rows] = await db.target.query('SELECT COUNT(*) AS n FROM t');
    assert.deepEqual(rows, [{ n: '0' }], 'nothing of the refused batch was applied');

    // The operator switches to row-by-row: the good rows land, the bad one is reported.
    const next = parsePipelineConfig({ ...config, options: { onError: 'retryRowByRow' } });
    await handle.executeUpdate(updateConfigUpdate, { args: [next] });
    await handle.executeUpdate(resumeUpdate);
    await waitFor('the good rows on the target', async () => {
      const [r] = await db.target.query('SELECT id FROM t ORDER BY id');
      return JSON.stringify(r) === JSON.stringify([{ id: 1 }, { id: 2 }, { id: 4 }]);
    });
    await db.source.query(`INSERT INTO t VALUES (5, 'c')`);
    await waitFor('later rows flow again', async () => {
      const [r] = await db.target.query<import('mysql2').RowDataPacket[]>('SELECT COUNT(*) AS n FROM t');
      return Number(r[0]?.n) === 4;
    });
    await handle.terminate();
  });
});

test('with onError retryRowByRow a refused row is skipped and reported, the others applied', async (t) => {
  const db = await freshDatabases(t, 'err');
  await db.source.query(SOURCE_DDL);
  await db.target.query(TARGET_DDL);
  const config = await samePipelineConfig(db.source, db.name, { options: { onError: 'retryRowByRow' } });
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query(`INSERT INTO t VALUES (1, 'a'), (2, 'dup'), (3, 'dup'), (4, 'b')`);
    await db.source.query(`UPDATE t SET code = 'x' WHERE id = 1`);
    await waitFor('the good rows on the target', async () => {
      const [r] = await db.target.query('SELECT id, code FROM t ORDER BY id');
      return (
        JSON.stringify(r) ===
        JSON.stringify([
          { id: 1, code: 'x' },
          { id: 2, code: 'dup' },
          { id: 4, code: 'b' },
        ])
      );
    });
    const final = await handle.executeUpdate(updateConfigUpdate, { args: [parsePipelineConfig(config)] });
    await waitFor(
      'the run that skipped the row to report',
      async () => {
        const s = await status(handle);
        return s.warnings.some((w) =>
          /row skipped at .*"id":"3".*collides with a DIFFERENT existing row/.test(w),
        )
          ? s
          : undefined;
      },
      60_000,
      async () => JSON.stringify(await status(handle)),
    );
    assert.equal(final.name, config.name);
    await handle.terminate();
  });
  // The source still has the row: the target differs by exactly that refused row.
  await assert.rejects(waitForEqualTables(db.source, db.target, db.name, 't', undefined, 1000));
});
