import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';
import { parsePipelineConfig } from '../../src/pipeline/config';
import {
  pauseUpdate,
  resumeUpdate,
  stopUpdate,
  updateConfigUpdate,
} from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor } from '../helpers/pipeline';
import { RecordingOracleDatabase } from '../helpers/recording-oracle';
import { freshDatabases, testStack, withWorker } from '../helpers/stack';

/**
 * A pipeline whose target is an Oracle datasource, run by the pipeline workflow on a real worker and
 * Temporal server: start, pause, resume, config update, stop. The Oracle session's connection records
 * every call (no Oracle server runs here).
 */
test("an Oracle pipeline on Temporal: start, pause, resume, config update and stop; every row committed once; '' counted in the status", async (t) => {
  const { name: db, source } = await freshDatabases(t, 'orapipe');
  await source.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50))');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-ora-'));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const s = testStack();
  const catalog = new DatasourceCatalog(catalogFile(home));
  catalog.put({ name: 'source', kind: 'mariadb', host: s.host, port: s.sourcePort, user: 'root' });
  catalog.put({
    name: 'ora',
    kind: 'oracle',
    host: 'oracle.invalid',
    port: 1521,
    user: 'repl',
    serviceName: 'FREEPDB1',
  });
  const rdb = new RecordingOracleDatabase();
  rdb.defineTable({
    owner: db.toUpperCase(),
    table: 'ITEMS',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'NAME', dataType: 'VARCHAR2' },
    ],
    primaryKey: ['ID'],
  });
  const input = await samePipelineConfig(source, db, { target: 'ora' });
  const table = `"${db.toUpperCase()}"."ITEMS"`;
  const committedIds = () =>
    rdb
      .committedStatements()
      .filter((c) => c.sql.startsWith(`MERGE INTO ${table}`))
      .flatMap((c) => c.binds.map((b) => Number(b[0])))
      .sort((a, b) => a - b);
  const until = (ids: number[]) =>
    waitFor(
      `ids ${ids.join(',')} committed in Oracle`,
      async () => committedIds().join() === ids.join() || undefined,
      30_000,
    );

  await withWorker(
    async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, input);
      await source.query("INSERT INTO items VALUES (1, 'a'), (2, 'b')");
      await until([1, 2]);
      assert.equal((await status(handle)).state, 'running');

      const paused = await handle.executeUpdate(pauseUpdate);
      assert.equal(paused.state, 'paused');
      await source.query("INSERT INTO items VALUES (3, 'while paused')");
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(committedIds(), [1, 2], 'nothing applied while paused');
      const resumed = await handle.executeUpdate(resumeUpdate);
      assert.equal(resumed.state, 'running');
      await until([1, 2, 3]);

      // A config update resumes from the committed position with the new settings.
      const next = parsePipelineConfig({ ...input, options: { batchSize: 100 } });
      const updated = await handle.executeUpdate(updateConfigUpdate, { args: [next] });
      assert.equal(updated.state, 'running');
      await source.query("INSERT INTO items VALUES (4, '')"); // stored as NULL by Oracle: counted
      await until([1, 2, 3, 4]);

      const stopped = await handle.executeUpdate(stopUpdate);
      assert.equal(stopped.state, 'stopped');
      const final = await handle.result();
      assert.equal(final.counters.inserted, 4, JSON.stringify(final.counters));
      assert.equal(final.counters.emptyAsNull, 1, JSON.stringify(final.counters));
      assert.ok(
        final.warnings.some((w) => w.startsWith(`${db}.items.name: empty strings are stored as NULL`)),
        JSON.stringify(final.warnings),
      );
      // The run after the pause claimed a new epoch: the fence moved on.
      const epochs = rdb.calls.filter(
        (c) => c.sql === rdb.checkpointSql.bumpEpoch() || c.sql === rdb.checkpointSql.insert(),
      ).length;
      assert.ok(
        epochs >= 2,
        `${epochs} claims, checkpoint ${JSON.stringify(rdb.checkpoints.get(input.name))}`,
      );
      assert.equal(rdb.checkpoints.get(input.name)?.pos, final.position?.pos);
    },
    { home, targetConnector: new OracleTargetConnector(async () => rdb.connect()) },
  );
});
