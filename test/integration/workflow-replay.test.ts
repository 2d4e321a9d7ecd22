import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { workflowsPath } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';
import {
  pauseUpdate,
  resumeUpdate,
  stopUpdate,
  updateConfigUpdate,
} from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitForEqualTables } from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

// Recorded histories of earlier workflow code. Replaying them against today's code proves a change
// is deterministic-compatible with pipelines already running in production (PeerDB does the same).
const dir = path.join(__dirname, '..', 'fixtures', 'histories');

test('recorded pipeline and backfill histories replay against the current workflow code', async (t) => {
  installRuntime();
  if (process.env.OTTERFLOW_RECORD_HISTORY === '1') await recordHistory(t);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length > 0, 'at least one recorded history');
  for (const f of files) {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    await Worker.runReplayHistory({ workflowsPath }, history, f);
  }
});

/** Runs a pipeline through every handler (pause, resume, config update, stop) and saves its history. */
async function recordHistory(t: import('node:test').TestContext): Promise<void> {
  const db = await freshDatabases(t, 'replay');
  await db.source.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)');
  await db.target.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)');
  const config = await samePipelineConfig(db.source, db.name);
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config, { runSeconds: 2 });
    await db.source.query('INSERT INTO t VALUES (1, 1), (2, 2)');
    await waitForEqualTables(db.source, db.target, db.name, 't');
    await handle.executeUpdate(pauseUpdate);
    await handle.executeUpdate(resumeUpdate);
    await handle.executeUpdate(updateConfigUpdate, {
      args: [parsePipelineConfig({ ...config, options: { batchSize: 100 } })],
    });
    await db.source.query('UPDATE t SET v = 3 WHERE id = 1');
    await waitForEqualTables(db.source, db.target, db.name, 't');
    await handle.executeUpdate(stopUpdate);
    await handle.result();
    const history = await handle.fetchHistory();
    fs.writeFileSync(path.join(dir, 'pipeline-v1.json'), historyToJSON(history));
  });
}
