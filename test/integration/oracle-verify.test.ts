import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringifyKey } from '../../src/backfill/keys';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';
import { OracleVerificationTarget } from '../../src/connectors/oracle/verification/session';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { REPAIR_WORKFLOW_TYPE, type RepairStatus, repairWorkflowId } from '../../src/verification/contract';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitFor } from '../helpers/pipeline';
import { RecordingOracleDatabase } from '../helpers/recording-oracle';
import { RecordingBackfillTables } from '../helpers/recording-oracle-backfill';
import { RecordingTableRows } from '../helpers/recording-oracle-rows';
import { RecordingVerificationTables } from '../helpers/recording-oracle-verification';
import { freshDatabases, testStack, withWorker } from '../helpers/stack';
import { runVerification } from '../helpers/verify';

/**
 * Verification and repair of a pipeline whose target is Oracle, on a real worker and Temporal server
 * with a real MariaDB source. The Oracle connections record every call (no Oracle server runs here);
 * the checkpoint, the backfill and verification bookkeeping and the target table's rows are modelled
 * (test/helpers/recording-oracle*.ts), so divergence is made in the modelled rows behind the pipeline.
 */
test('Oracle target: equal tables verify clean; rows changed, deleted and added behind the pipeline (identity, renamed and column-filtered, two shards merged) are found exactly while the source is written; repair; a second verification finds nothing', async (t) => {
  const { name: db, source } = await freshDatabases(t, 'oraver');
  await source.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50), price DECIMAL(8,2))');
  await source.query(
    'CREATE TABLE src_people (id BIGINT PRIMARY KEY, name VARCHAR(40), secret VARCHAR(40), age INT)',
  );
  for (const i of [0, 1]) await source.query(`CREATE TABLE s_${i} (id INT PRIMARY KEY, v INT)`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-oraver-'));
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
  const rows = new RecordingTableRows();
  rdb.models.push(new RecordingBackfillTables(), new RecordingVerificationTables(), rows);
  const owner = db.toUpperCase();
  const table = `"${owner}"."ITEMS"`;
  rdb.defineTable({
    owner,
    table: 'ITEMS',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'NAME', dataType: 'VARCHAR2' },
      { name: 'PRICE', dataType: 'NUMBER', precision: 8, scale: 2 },
    ],
    primaryKey: ['ID'],
  });
  rows.define(table, ['ID'], { ID: 'number', NAME: 'text', PRICE: 'number' });
  rdb.defineTable({
    owner,
    table: 'PEOPLE',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 19, scale: 0, nullable: false },
      { name: 'FULL_NAME', dataType: 'VARCHAR2' },
      { name: 'AGE', dataType: 'NUMBER', precision: 10, scale: 0 },
    ],
    primaryKey: ['ID'],
  });
  const people = `"${owner}"."PEOPLE"`;
  rows.define(people, ['ID'], { ID: 'number', FULL_NAME: 'text', AGE: 'number' });
  rdb.defineTable({
    owner,
    table: 'S_ALL',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'V', dataType: 'NUMBER', precision: 10, scale: 0 },
    ],
    primaryKey: ['ID'],
  });
  const shards = `"${owner}"."S_ALL"`;
  rows.define(shards, ['ID'], { ID: 'number', V: 'number' });
  const config = parsePipelineConfig(
    await samePipelineConfig(source, db, {
      target: 'ora',
      mappings: [
        { source: { schema: db, table: 'items' } },
        {
          source: { schema: db, table: 'src_people' },
          target: { table: 'people' },
          columns: { include: ['id', { from: 'name', to: 'full_name' }, 'age'] },
        },
        { source: { schema: db, table: 's_[0-1]' }, target: { table: 's_all' } },
      ],
    }),
  );
  const report = () => new OracleVerificationTarget(rdb.connect(), config.name);
  const differences = async (id: string) => {
    const store = report();
    try {
      const { differences } = await store.readDifferences(id, 0, 10_000);
      return differences
        .map((d) => `${d.kind} ${d.table.table} ${stringifyKey(d.key)} ${d.columns.join(',')}`.trim())
        .sort();
    } finally {
      await store.close();
    }
  };

  await withWorker(
    async ({ client, taskQueue }) => {
      const handle = await startPipeline(client, taskQueue, config);
      await source.query("INSERT INTO items SELECT seq, CONCAT('item ', seq), seq / 4 FROM seq_1_to_400");
      await source.query(
        "INSERT INTO src_people SELECT seq, CONCAT('name ', seq), 'pw', seq % 90 FROM seq_1_to_50",
      );
      for (const i of [0, 1])
        await source.query(`INSERT INTO s_${i} SELECT seq + ${i * 1000}, seq FROM seq_1_to_100`);
      await waitFor(
        'every row in Oracle',
        async () =>
          (rows.rows(table).length === 400 &&
            rows.rows(people).length === 50 &&
            rows.rows(shards).length === 200) ||
          undefined,
        60_000,
      );

      const clean = await runVerification(client, taskQueue, config, { chunkSize: 100 });
      assert.equal(clean.state, 'done', JSON.stringify(clean));
      assert.equal(clean.differences, 0, JSON.stringify(clean));
      assert.equal(clean.rowsCompared, 650);
      const stored = report();
      const cleanReport = await stored.readReport(clean.id).finally(() => stored.close());
      assert.equal(cleanReport?.state, 'done');
      assert.deepEqual(
        cleanReport?.tables.map((x) => [
          x.table,
          x.sources,
          x.rowsSource,
          x.rowsTarget,
          x.chunks === x.chunksDone,
        ]),
        [
          [`${db}.items`, [`${db}.items`], 400, 400, true],
          [`${db}.people`, [`${db}.src_people`], 50, 50, true],
          [`${db}.s_all`, [`${db}.s_0`, `${db}.s_1`], 200, 200, true],
        ],
      );

      // Behind the pipeline's back: a name and a price changed, a row deleted, a row added.
      rows.put(table, { ID: 5, NAME: 'changed' });
      rows.put(table, { ID: 9, PRICE: '99.99' });
      assert.ok(rows.remove(table, [7]));
      rows.put(table, { ID: 1000, NAME: 'only in Oracle', PRICE: '1' });
      rows.put(people, { ID: 3, FULL_NAME: 'renamed column changed' });
      rows.put(shards, { ID: 1002, V: 0 });
      assert.ok(rows.remove(shards, [5]));

      // The source keeps changing other rows while the verification runs.
      let writing = true;
      const writes = (async () => {
        for (let i = 0; writing; i++) {
          await source.query('UPDATE items SET name = CONCAT(name, ?) WHERE id = ?', ['+', 100 + (i % 200)]);
          await source.query('INSERT INTO items VALUES (?, ?, 1.25)', [2000 + i, `new ${i}`]);
        }
      })();
      const found = await runVerification(client, taskQueue, config, { chunkSize: 100 }).finally(
        () => (writing = false),
      );
      await writes;
      assert.equal(found.state, 'done', JSON.stringify(found));
      assert.deepEqual(await differences(found.id), [
        'different items [5] name',
        'different items [9] price',
        'different people [3] full_name',
        'different s_all [1002] v',
        'extra items [1000]',
        'missing items [7]',
        'missing s_all [5]',
      ]);

      const repair = (await client.workflow.execute(REPAIR_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: repairWorkflowId(found.id),
        args: [{ verificationId: found.id, config }],
      })) as RepairStatus;
      assert.equal(repair.state, 'done', JSON.stringify(repair));
      // The missing and different keys re-synced, the extra row deleted; all seven compared equal after.
      assert.equal(repair.remaining, 0, JSON.stringify(repair));
      assert.equal(repair.repaired, 7, JSON.stringify(repair));
      assert.equal(
        rows.rows(table).find((r) => r.ID === '1000'),
        undefined,
        'the extra row was deleted in Oracle',
      );
      assert.deepEqual(
        rows.rows(table).filter((r) => ['5', '7', '9'].includes(String(r.ID))),
        [
          { ID: '5', NAME: 'item 5', PRICE: '1.25' },
          { ID: '7', NAME: 'item 7', PRICE: '1.75' },
          { ID: '9', NAME: 'item 9', PRICE: '2.25' },
        ],
      );
      assert.deepEqual(rows.rows(people)[2], { ID: '3', FULL_NAME: 'name 3', AGE: '3' });
      assert.deepEqual(
        rows.rows(shards).filter((r) => ['5', '1002'].includes(String(r.ID))),
        [
          { ID: '5', V: '5' },
          { ID: '1002', V: '2' },
        ],
      );

      const again = await runVerification(client, taskQueue, config, { chunkSize: 100 });
      assert.equal(again.state, 'done', JSON.stringify(again));
      assert.equal(again.differences, 0, JSON.stringify(again));
      const [[n]] = (await source.query('SELECT COUNT(*) FROM items')) as unknown as [
        [Record<string, number>],
      ];
      assert.equal(again.rowsCompared, Number(Object.values(n ?? {})[0]) + 250);

      await handle.executeUpdate(stopUpdate);
    },
    { home, targetConnector: new OracleTargetConnector(async () => rdb.connect()) },
  );
});
