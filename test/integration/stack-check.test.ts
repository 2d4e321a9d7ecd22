import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DatasourceInspection } from '../../src/activities/inspect-datasource';
import { uniqueName, withWorker } from '../helpers/stack';

test('a workflow on the real Temporal dev server inspects both MariaDB instances through its activity', async () => {
  const result = await withWorker(({ client, taskQueue }) =>
    client.workflow.execute('stackCheckWorkflow', {
      taskQueue,
      workflowId: uniqueName('stack-check'),
      args: [['source', 'target']],
    }),
  );
  const [source, target] = result as DatasourceInspection[];
  assert.ok(source && target);
  assert.match(source.settings.version, /MariaDB/);
  assert.notEqual(
    source.settings.serverId,
    target.settings.serverId,
    'the two instances have distinct server ids',
  );
  // The source is usable for CDC: binlog on, ROW format, FULL image and metadata.
  assert.equal(source.settings.logBin, true);
  assert.equal(source.settings.binlogFormat, 'ROW');
  assert.equal(source.settings.binlogRowImage, 'FULL');
  assert.equal(source.settings.binlogRowMetadata, 'FULL');
  assert.equal(source.sourceReady, true, JSON.stringify(source.sourceChecks.filter((c) => !c.ok)));
});
