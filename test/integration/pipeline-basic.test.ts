import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { register } from 'prom-client';
import { pauseUpdate, resumeUpdate, stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor, waitForEqualTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

test('a pipeline replicates inserts, updates, deletes, key changes and multi-statement transactions', async (t) => {
  const db = await freshDatabases(t, 'pipe');
  const ddl = `CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(100) CHARACTER SET utf8mb4, price DECIMAL(20,4), note TEXT)`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  const config = await samePipelineConfig(db.source, db.name);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query(
      `INSERT INTO items VALUES (1, 'one', 1.5, NULL), (2, 'two 🦦', 2.25, 'x'), (18446744073709551615, 'max', -0.0001, '')`,
    );
    await db.source.query(`UPDATE items SET price = price * 2 WHERE id = 1`);
    await db.source.query(`DELETE FROM items WHERE id = 2`);
    await db.source.query(`UPDATE items SET id = 3 WHERE id = 1`); // primary key change
    await db.source.query(
      `START TRANSACTION; INSERT INTO items VALUES (10, 'ten', 10, 'a'); UPDATE items SET name = 'TEN' WHERE id = 10; INSERT INTO items VALUES (11, 'eleven', 11, 'b'); DELETE FROM items WHERE id = 11; COMMIT`,
    );
    await waitForEqualTables(db.source, db.target, db.name, 'items', handle);
    const [rows] = await db.target.query('SELECT id, name, price FROM items ORDER BY id');
    assert.deepEqual(rows, [
      { id: '3', name: 'one', price: '3.0000' },
      { id: '10', name: 'TEN', price: '10.0000' },
      { id: '18446744073709551615', name: 'max', price: '-0.0001' },
    ]);

    // The status query answers while the pipeline runs (counters move when a run completes;
    // the API merges the running activity's heartbeat for live figures).
    const st = await status(handle);
    assert.equal(st.state, 'running');
    assert.equal(st.name, config.name);

    // The Web UI (and the API's listing) find it by search attributes.
    await waitFor('visibility by search attributes', async () => {
      const query = `OtterflowPipeline = '${config.name}' AND OtterflowKind = 'pipeline' AND OtterflowStatus = 'running'`;
      for await (const w of client.workflow.list({ query }))
        if (w.workflowId === handle.workflowId) return true;
      return undefined;
    });

    // The same name cannot run twice.
    await assert.rejects(startPipeline(client, taskQueue, config), WorkflowExecutionAlreadyStartedError);

    const paused = await handle.executeUpdate(pauseUpdate);
    assert.equal(paused.state, 'paused');
    await db.source.query(`INSERT INTO items VALUES (20, 'while paused', 0, NULL)`);
    await new Promise((r) => setTimeout(r, 1500));
    const [none] = await db.target.query('SELECT id FROM items WHERE id = 20');
    assert.deepEqual(none, [], 'nothing is applied while paused');
    const resumed = await handle.executeUpdate(resumeUpdate);
    assert.equal(resumed.state, 'running');
    await waitForEqualTables(db.source, db.target, db.name, 'items', handle);

    const stopped = await handle.executeUpdate(stopUpdate);
    assert.equal(stopped.state, 'stopped');
    const final = await handle.result();
    assert.equal(final.state, 'stopped');
    // Merged per key: the 5 row changes of the first batches collapse; row 20 comes after the pause.
    assert.ok(final.counters.rowsApplied >= 4, JSON.stringify(final.counters));
    assert.ok(final.counters.sourceRowChanges >= 10, JSON.stringify(final.counters));

    // The worker's Prometheus registry saw the same work (the test runs the worker in-process).
    const metrics = await register.getMetricsAsJSON();
    const applied = metrics.find((m) => m.name === 'otterflow_rows_applied_total');
    const ours = (applied?.values ?? []).filter((v) => v.labels.pipeline === config.name);
    assert.equal(
      ours.reduce((n, v) => n + v.value, 0),
      final.counters.rowsApplied,
      'metrics and workflow counters agree',
    );
    assert.ok(final.counters.transactions >= 6, JSON.stringify(final.counters));
  });
});
