import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { type PipelineConfigInput, parsePipelineConfig } from '../../src/pipeline/config';
import { REPAIR_WORKFLOW_TYPE, type RepairStatus, repairWorkflowId } from '../../src/verification/contract';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { everyTypeTableFor } from '../helpers/every-type-table';
import { samePipelineConfig, startPipeline, waitFor } from '../helpers/pipeline';
import { startWriteLoop } from '../helpers/source-writer';
import { connectTo, type FreshDatabases, freshDatabases, uniqueName, withWorker } from '../helpers/stack';
import { differencesOf, reportOf, runVerification } from '../helpers/verify';

const ROWS = 2000;
const TRANSFORM = path.resolve(__dirname, '../fixtures/transforms/verify-people.ts');

/**
 * `people` mapped through a pure transform (name upper-cased, a computed `name_len`, rows of kind
 * `hidden` dropped) and the every-type table through the same transform (unchanged by it): both are
 * compared in the worker, since the servers cannot run a transform. Equal on both sides at the start.
 */
async function createTables(db: FreshDatabases): Promise<PipelineConfigInput['mappings']> {
  await db.source.query(
    'CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40), kind VARCHAR(10), age INT)',
  );
  await db.source.query(
    `INSERT INTO people SELECT seq, CONCAT('name ', seq), IF(seq % 10 = 8, 'hidden', 'shown'), seq % 90 FROM seq_1_to_${ROWS}`,
  );
  await db.target.query(
    'CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40), kind VARCHAR(10), age INT, name_len INT)',
  );
  await db.target.query(
    `INSERT INTO people SELECT seq, UPPER(CONCAT('name ', seq)), 'shown', seq % 90, CHAR_LENGTH(CONCAT('name ', seq)) FROM seq_1_to_${ROWS} WHERE seq % 10 <> 8`,
  );
  const types = everyTypeTableFor('mariadb', 'mariadb');
  for (const conn of [db.source, db.target]) {
    await conn.query(types.ddl('mariadb'));
    for (const [id, values] of Object.entries(types.rows))
      await conn.query(types.insertSql(Number(id), values));
  }
  return [
    { source: { schema: db.name, table: 'people' }, transform: TRANSFORM, verify: 'pure' },
    { source: { schema: db.name, table: 'all_types' }, transform: TRANSFORM, verify: 'pure' },
  ];
}

/** Source writes away from the keys the test diverges (people ids ≤ 100, all_types row 3). */
function startWriter(db: string) {
  let nextId = 100_000;
  const rnd = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  return startWriteLoop(
    () => connectTo('source', db),
    async (w) => {
      const x = Math.random();
      if (x < 0.15)
        await w.query(
          "INSERT INTO people VALUES (?, CONCAT('new ', ?), IF(RAND() < 0.2, 'hidden', 'shown'), 1)",
          [nextId, nextId++],
        );
      else if (x < 0.4)
        await w.query(
          "UPDATE people SET name = IF(CHAR_LENGTH(name) > 30, 'reset', CONCAT(name, 'x')) WHERE id = ?",
          [rnd(200, ROWS)],
        );
      else if (x < 0.55)
        await w.query("UPDATE people SET kind = IF(kind = 'hidden', 'shown', 'hidden') WHERE id = ?", [
          rnd(200, ROWS),
        ]);
      else if (x < 0.7) await w.query('UPDATE people SET age = age + 1 WHERE id = ?', [rnd(200, ROWS)]);
      else if (x < 0.75) await w.query('DELETE FROM people WHERE id = ?', [rnd(200, ROWS)]);
      else if (x < 0.9)
        // Rows 4 and 5 only: rows 1-3 hold megabytes, and every update logs the whole row.
        await w.query(
          "UPDATE all_types SET vc = IF(CHAR_LENGTH(vc) > 200, 'é', CONCAT(COALESCE(vc, ''), 'é')), i = COALESCE(i, 0) + 1 WHERE id = ?",
          [rnd(4, 5)],
        );
      else await w.query('UPDATE all_types SET dtm = NOW(6), vb = REVERSE(vb) WHERE id IN (4, 5)');
    },
  );
}

test('pure transforms and every column type compared in the worker: divergence found exactly under writes, repaired, then nothing', async (t) => {
  const db = await freshDatabases(t, 'vfw');
  const mappings = await createTables(db);
  const config = parsePipelineConfig({ ...(await samePipelineConfig(db.source, db.name)), mappings });
  const writer = startWriter(db.name);
  t.after(() => writer.stop());

  await withWorker(async ({ client, taskQueue }) => {
    const pipeline = await startPipeline(client, taskQueue, config);
    await waitFor('writes to flow', async () => writer.writes() > 50);
    // A hot row that the transform keeps hiding and showing: always in flight, never a difference.
    let hot = true;
    const hotWriter = (async () => {
      const w = await connectTo('source', db.name);
      try {
        while (hot)
          await w.query("UPDATE people SET kind = IF(kind = 'hidden', 'shown', 'hidden') WHERE id = 150");
      } finally {
        await w.end();
      }
    })();
    for (const extra of [
      { chunkSize: 400 },
      { chunkSize: 250, chunksPerRun: 3, parallelism: 1 },
      { chunkSize: 900 },
    ]) {
      const clean = await runVerification(client, taskQueue, config, extra);
      assert.equal(clean.state, 'done');
      assert.deepEqual(
        await differencesOf(clean.id),
        [],
        `nothing differs before the target is touched (${JSON.stringify(extra)})`,
      );
      const report = await reportOf(clean.id);
      assert.equal(report?.chunksDone, report?.chunksTotal);
      assert.ok((report?.rowsCompared ?? 0) >= ROWS * 0.9 - 200, JSON.stringify(report));
    }
    hot = false;
    await hotWriter;

    // Behind the pipeline's back: the target's own session, not logged.
    const tgt = await connectTo('target', db.name);
    t.after(() => tgt.end());
    await tgt.query('SET SESSION sql_log_bin = 0');
    await tgt.query("UPDATE people SET name = 'name 5' WHERE id = 5"); // not upper-cased
    await tgt.query('UPDATE people SET name_len = 99 WHERE id = 6'); // the computed column
    await tgt.query('DELETE FROM people WHERE id = 7');
    await tgt.query("INSERT INTO people VALUES (18, 'NAME 18', 'hidden', 18, 7)"); // a row the transform drops
    await tgt.query("INSERT INTO people VALUES (5000000, 'ONLY HERE', 'shown', 1, 9)");
    await tgt.query('UPDATE all_types SET d = 1 WHERE id = 3');
    await tgt.query("UPDATE all_types SET bl = X'01' WHERE id = 3");

    const found = await runVerification(client, taskQueue, config, { chunkSize: 400 });
    assert.equal(found.state, 'done');
    assert.deepEqual(await differencesOf(found.id), [
      'different all_types [3] d,bl',
      'different people [5] name',
      'different people [6] name_len',
      'extra people [18]',
      'extra people [5000000]',
      'missing people [7]',
    ]);

    const repair = (await client.workflow.execute(REPAIR_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: repairWorkflowId(`${found.id}-${uniqueName('r')}`),
      args: [{ verificationId: found.id, config }],
    })) as RepairStatus;
    assert.deepEqual(
      [repair.state, repair.repaired, repair.remaining],
      ['done', 6, 0],
      JSON.stringify(repair),
    );
    const again = await runVerification(client, taskQueue, config, { chunkSize: 700 });
    assert.equal(again.state, 'done');
    assert.deepEqual(await differencesOf(again.id), [], 'nothing differs after the repair');

    const writes = await writer.stop();
    await pipeline.executeUpdate(stopUpdate);
    t.diagnostic(`source writes during the test: ${writes}; rows compared: ${found.rowsCompared}`);
  });
});

test('a verification of a mapping whose transform is not declared pure fails at planning, naming the mapping', async (t) => {
  const db = await freshDatabases(t, 'vfn');
  const mappings = (await createTables(db)).map((m) => ({ ...m, verify: undefined }));
  const config = parsePipelineConfig({ ...(await samePipelineConfig(db.source, db.name)), mappings });
  await withWorker(async ({ client, taskQueue }) => {
    const err = await runVerification(client, taskQueue, config).then(
      () => assert.fail('the verification should have failed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const messages: string[] = [];
    for (let c: unknown = err; c; c = (c as { cause?: unknown }).cause)
      messages.push(String((c as Error).message));
    assert.match(
      messages.join(' | '),
      /mappings\.[01] \(.*→.*\): the mapping has a transform \(.*verify-people\.ts\) that is not declared pure/,
    );
  });
});
