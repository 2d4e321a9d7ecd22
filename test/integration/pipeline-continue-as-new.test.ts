import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitFor, waitForEqualTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

test('continue-as-new keeps replicating and carries counters across runs of the workflow', async (t) => {
  const db = await freshDatabases(t, 'can');
  await db.source.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
  await db.target.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
  const config = await samePipelineConfig(db.source, db.name);
  await withWorker(async ({ client, taskQueue }) => {
    // One-second activity runs and a new workflow run every 3 activity runs.
    const handle = await startPipeline(client, taskQueue, config, { runSeconds: 1, runsPerHistory: 3 });
    const firstRunId = (await handle.describe()).runId;
    const rows = 60;
    for (let i = 1; i <= rows; i++) {
      await db.source.query('INSERT INTO t VALUES (?, ?)', [i, `row ${i}`]);
      await new Promise((r) => setTimeout(r, 150)); // spread over ~9 s: several workflow runs
    }
    await waitForEqualTables(db.source, db.target, db.name, 't', handle);
    const latest = client.workflow.getHandle(handle.workflowId);
    const runs = await waitFor('at least two continue-as-new', async () => {
      let n = 0;
      for await (const w of client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
        if (w.status.name === 'CONTINUED_AS_NEW') n++;
      }
      return n >= 2 ? n : undefined;
    });
    assert.ok(runs >= 2);
    const described = await latest.describe();
    assert.notEqual(described.runId, firstRunId, 'the pipeline runs in a newer workflow run');
    await latest.executeUpdate(stopUpdate);
    const final = await latest.result();
    // Distinct inserts never merge: every row counted exactly once across all runs.
    assert.equal(final.counters.inserted, rows, JSON.stringify(final.counters));
    assert.equal(final.counters.rowsApplied, rows);
    assert.equal(final.counters.sourceRowChanges, rows);
  });
});
