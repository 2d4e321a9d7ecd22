import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { type BackfillStatus, backfillWorkflowId, initialLoadId } from '../../src/backfill/contract';
import { resumeUpdate, stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor, waitForExactTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

/**
 * A row the target refuses for what it is (here a value too long for a narrower target column, under
 * the applier's strict sql_mode) fails the initial load at once, naming the row, instead of being
 * retried forever; once the target is fixed, resuming the pipeline finishes the load without copying
 * the chunks that were done again.
 */
test('initial load: a row the target refuses fails the load naming its key; after the fix, resume finishes it', async (t) => {
  const db = await freshDatabases(t, 'bfref');
  await db.source.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)');
  await db.target.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(10) NOT NULL)');
  await db.source.query(`INSERT INTO items SELECT seq, CONCAT('n', seq) FROM seq_1_to_60000`);
  await db.source.query(`UPDATE items SET name = 'a name far too long' WHERE id = 55555`);
  const config = await samePipelineConfig(db.source, db.name, { options: { loadExistingData: true } });

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    const failed = await waitFor('the pipeline to fail', async () => {
      const st = await status(handle as WorkflowHandle);
      return st.state === 'failed' ? st : undefined;
    });
    const message = failed.lastError?.message ?? '';
    assert.match(message, /key \{"id":"55555"\}/, message);
    assert.match(message, /too long/i, message);
    const load = client.workflow.getHandle(backfillWorkflowId(initialLoadId(config.name as string)));
    const loadErr = await load.result().then(
      () => assert.fail('the load should have failed'),
      (e: unknown) => e,
    );
    assert.ok(loadErr);
    // Not retried: the failing chunk's activity ran once.
    const history = await load.fetchHistory();
    const failures = (history.events ?? []).filter((e) => e.activityTaskFailedEventAttributes);
    assert.equal(failures.length, 1, 'one failed chunk activity, no retries');
    const [rows] = (await db.target.query('SELECT COUNT(*) AS n FROM items')) as unknown as [{ n: number }[]];
    const beforeFix = rows[0]?.n;
    assert.ok(Number(beforeFix) < 60000);

    await db.target.query('ALTER TABLE items MODIFY name VARCHAR(40) NOT NULL');
    await handle.executeUpdate(resumeUpdate);
    await waitForExactTables(db.source, db.target, db.name, 'items', handle);
    const done: BackfillStatus = await client.workflow
      .getHandle(backfillWorkflowId(initialLoadId(config.name as string)))
      .result();
    assert.equal(done.state, 'done');
    // The second run copied only what the first had not.
    assert.ok(done.rowsCopied <= 60000 - Number(beforeFix), JSON.stringify(done));
    await handle.executeUpdate(stopUpdate);
  });
});
