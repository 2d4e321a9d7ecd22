import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { type PipelineConfigInput, parsePipelineConfig } from '../../src/pipeline/config';
import { verificationWorkflowId } from '../../src/verification/contract';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitFor } from '../helpers/pipeline';
import { startWriteLoop } from '../helpers/source-writer';
import { connectTo, type FreshDatabases, freshDatabases, withWorker } from '../helpers/stack';
import { differencesOf, reportOf, runVerification } from '../helpers/verify';

const ROWS = 3000;

/**
 * Tables of every mapping kind, equal on both sides before the pipeline starts:
 * `a` identity; `src_people` → `people` renamed and column-filtered; shards `s_0..s_2` → `s_all`;
 * `f` filtered by a row filter (only kind 'keep' reaches the target).
 */
async function createTables(db: FreshDatabases): Promise<PipelineConfigInput['mappings']> {
  const both = async (sql: string) => {
    await db.source.query(sql);
    await db.target.query(sql);
  };
  await both(
    'CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(40), n INT NULL, d DECIMAL(12,3), t DATETIME(3))',
  );
  await both(
    `INSERT INTO a SELECT seq, CONCAT('v', seq), IF(seq % 3, seq, NULL), seq / 7, '2024-01-02 03:04:05.678' FROM seq_1_to_${ROWS}`,
  );
  await db.source.query(
    'CREATE TABLE src_people (id BIGINT PRIMARY KEY, name VARCHAR(40) CHARACTER SET latin1, secret VARCHAR(40), age INT)',
  );
  await db.source.query(
    `INSERT INTO src_people SELECT seq, CONCAT('name ', seq), 'pw', seq % 90 FROM seq_1_to_${ROWS}`,
  );
  await db.target.query(
    "CREATE TABLE people (id BIGINT PRIMARY KEY, full_name VARCHAR(40), age INT, note VARCHAR(20) DEFAULT 'x')",
  );
  await db.target.query(
    `INSERT INTO people (id, full_name, age) SELECT seq, CONCAT('name ', seq), seq % 90 FROM seq_1_to_${ROWS}`,
  );
  for (const i of [0, 1, 2]) {
    await db.source.query(`CREATE TABLE s_${i} (id INT PRIMARY KEY, v INT)`);
    await db.source.query(`INSERT INTO s_${i} SELECT seq + ${i * 1000}, seq FROM seq_1_to_1000`);
  }
  await db.target.query('CREATE TABLE s_all (id INT PRIMARY KEY, v INT)');
  await db.target.query('INSERT INTO s_all SELECT seq, (seq - 1) % 1000 + 1 FROM seq_1_to_3000');
  await both('CREATE TABLE f (id INT PRIMARY KEY, kind VARCHAR(10), v INT)');
  await db.source.query("INSERT INTO f SELECT seq, IF(seq % 2, 'keep', 'drop'), seq FROM seq_1_to_1000");
  await db.target.query("INSERT INTO f SELECT seq, 'keep', seq FROM seq_1_to_1000 WHERE seq % 2 = 1");
  return [
    { source: { schema: db.name, table: 'a' } },
    {
      source: { schema: db.name, table: 'src_people' },
      target: { table: 'people' },
      columns: { include: ['id', { from: 'name', to: 'full_name' }, 'age'] },
    },
    { source: { schema: db.name, table: 's_[0-2]' }, target: { table: 's_all' } },
    { source: { schema: db.name, table: 'f' }, filter: { column: 'kind', op: '=', value: 'keep' } },
  ];
}

/** Random writes on the source away from the keys the test diverges (ids ≤ 100 and 1001–1100). */
function startWriter(db: string) {
  let nextId = 100_000;
  const rnd = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
  return startWriteLoop(
    () => connectTo('source', db),
    async (w) => {
      const x = Math.random();
      if (x < 0.2) await w.query("INSERT INTO a VALUES (?, 'new', 1, 1.5, NOW(3))", [nextId++]);
      else if (x < 0.45)
        await w.query("UPDATE a SET v = CONCAT(v, '+'), n = n + 1 WHERE id = ?", [rnd(200, ROWS)]);
      else if (x < 0.5) await w.query('DELETE FROM a WHERE id = ?', [rnd(200, ROWS)]);
      else if (x < 0.65)
        await w.query('UPDATE src_people SET age = age + 1, secret = ? WHERE id = ?', [
          String(x),
          rnd(200, ROWS),
        ]);
      else if (x < 0.8) await w.query(`UPDATE s_${rnd(0, 2)} SET v = v + 1 WHERE id = ?`, [rnd(1200, 3000)]);
      else if (x < 0.9)
        await w.query("UPDATE f SET kind = IF(kind = 'keep', 'drop', 'keep') WHERE id = ?", [rnd(200, 1000)]);
      else await w.query('UPDATE f SET v = v + 1 WHERE id = ?', [rnd(200, 1000)]);
    },
  );
}

test('a verification under a source write load finds exactly the rows changed behind the pipeline, and never an in-flight change', async (t) => {
  const db = await freshDatabases(t, 'vfy');
  const mappings = await createTables(db);
  const config = parsePipelineConfig({ ...(await samePipelineConfig(db.source, db.name)), mappings });
  const writer = startWriter(db.name);
  t.after(() => writer.stop());

  await withWorker(async ({ client, taskQueue }) => {
    const pipeline = await startPipeline(client, taskQueue, config);
    await waitFor('writes to flow', async () => writer.writes() > 50);
    const clean = await runVerification(client, taskQueue, config, { chunkSize: 500 });
    assert.equal(clean.state, 'done');
    assert.deepEqual(await differencesOf(clean.id), [], 'nothing differs before the target is touched');

    // Behind the pipeline's back: the target's own session, not logged.
    const tgt = await connectTo('target', db.name);
    t.after(() => tgt.end());
    await tgt.query('SET SESSION sql_log_bin = 0');
    await tgt.query("UPDATE a SET v = 'changed' WHERE id = 5");
    await tgt.query('UPDATE a SET n = NULL WHERE id = 10');
    await tgt.query('DELETE FROM a WHERE id = 7');
    await tgt.query("INSERT INTO a VALUES (5000000, 'only here', 1, 0, NULL)");
    await tgt.query('UPDATE people SET age = age + 100 WHERE id = 11');
    await tgt.query("UPDATE people SET full_name = 'renamed', note = 'not compared' WHERE id = 12");
    await tgt.query("UPDATE people SET note = 'not compared' WHERE id = 13");
    await tgt.query('DELETE FROM s_all WHERE id = 1005');
    await tgt.query('UPDATE s_all SET v = -1 WHERE id = 2010');
    await tgt.query("INSERT INTO f VALUES (2, 'drop', 2)");
    await tgt.query('DELETE FROM f WHERE id = 3');

    const found = await runVerification(client, taskQueue, config, { chunkSize: 500 });
    assert.equal(found.state, 'done');
    assert.deepEqual(await differencesOf(found.id), [
      'different a [10] n',
      'different a [5] v',
      'different people [{"b":"11"}] age',
      'different people [{"b":"12"}] full_name',
      'different s_all [2010] v',
      'extra a [5000000]',
      'extra f [2]',
      'missing a [7]',
      'missing f [3]',
      'missing s_all [1005]',
    ]);
    const writes = await writer.stop();
    await pipeline.executeUpdate(stopUpdate);
    t.diagnostic(`source writes during the test: ${writes}; rows compared: ${found.rowsCompared}`);
  });
});

test('ten verifications under continuous source writes (hot keys included) report no difference', async (t) => {
  const db = await freshDatabases(t, 'vfq');
  const mappings = await createTables(db);
  const config = parsePipelineConfig({ ...(await samePipelineConfig(db.source, db.name)), mappings });
  const writer = startWriter(db.name);
  t.after(() => writer.stop());
  let hot = true;
  let hotWrites = 0;
  const hotWriter = (async () => {
    const w = await connectTo('source', db.name);
    try {
      while (hot) {
        // The same few rows of every table over and over: always in flight somewhere.
        await w.query(
          'UPDATE a SET n = COALESCE(n, 0) + 1 WHERE id IN (2500, 2501); UPDATE src_people SET age = age + 1 WHERE id = 2500; UPDATE s_2 SET v = v + 1 WHERE id = 2999',
        );
        hotWrites++;
      }
    } finally {
      await w.end();
    }
  })();

  await withWorker(async ({ client, taskQueue }) => {
    const pipeline = await startPipeline(client, taskQueue, config);
    await waitFor('writes to flow', async () => writer.writes() > 50);
    let rows = 0;
    let unsettled = 0;
    for (let i = 0; i < 10; i++) {
      // Two of them small per run (continue-as-new between chunks) and one chunk at a time.
      const extra =
        i < 2 ? { chunkSize: 300, chunksPerRun: 3, parallelism: 1 } : { chunkSize: 300 + i * 100 };
      const r = await runVerification(client, taskQueue, config, extra);
      assert.equal(r.state, 'done');
      assert.deepEqual(await differencesOf(r.id), [], `verification ${i} reported a difference`);
      const report = await reportOf(r.id);
      assert.equal(report?.state, 'done');
      assert.equal(report?.chunksDone, report?.chunksTotal);
      rows += report?.rowsCompared ?? 0;
      unsettled += report?.tables.reduce((n, x) => n + x.unsettled, 0) ?? 0;
    }
    hot = false;
    await hotWriter;
    const writes = await writer.stop();
    await pipeline.executeUpdate(stopUpdate);
    t.diagnostic(
      `10 verifications: ${rows} rows compared; source writes ${writes} + ${hotWrites} hot; unsettled keys ${unsettled}`,
    );
  });
});

test('a cancelled verification keeps its compared chunks; run again under its id it compares only the rest', async (t) => {
  const db = await freshDatabases(t, 'vfc');
  const mappings = await createTables(db);
  const config = parsePipelineConfig({ ...(await samePipelineConfig(db.source, db.name)), mappings });
  await withWorker(async ({ client, taskQueue }) => {
    const pipeline = await startPipeline(client, taskQueue, config);
    const id = `${config.name}.verify-resume`;
    const start = (extra: object) =>
      client.workflow.start('verificationWorkflow', {
        taskQueue,
        workflowId: verificationWorkflowId(id),
        args: [{ id, config, chunkSize: 200, parallelism: 1, ...extra }],
      });
    const slow = await start({ maxRowsPerSecond: 400 });
    const partial = await waitFor('a few chunks compared', async () => {
      const r = await reportOf(id);
      return r && r.chunksDone >= 2 ? r : undefined;
    });
    await slow.cancel();
    await assert.rejects(slow.result(), WorkflowFailedError);
    const cancelled = await reportOf(id);
    assert.equal(cancelled?.state, 'cancelled');
    assert.ok((cancelled?.chunksDone ?? 0) >= partial.chunksDone);
    assert.ok((cancelled?.chunksDone ?? 0) < (cancelled?.chunksTotal ?? 0), JSON.stringify(cancelled));

    const resumed = await start({});
    const status = (await resumed.result()) as {
      chunksDone: number;
      chunksTotal: number;
      tables: { chunksDone: number }[];
    };
    const report = await reportOf(id);
    assert.equal(report?.state, 'done');
    assert.equal(report?.chunksDone, report?.chunksTotal);
    assert.equal(report?.differences, 0);
    // The second run compared only what the first had not: its own chunk count is the rest.
    const comparedNow = status.tables.reduce((n, x) => n + x.chunksDone, 0);
    assert.equal(comparedNow, (report?.chunksTotal ?? 0) - (cancelled?.chunksDone ?? 0));
    await pipeline.executeUpdate(stopUpdate);
  });
});
