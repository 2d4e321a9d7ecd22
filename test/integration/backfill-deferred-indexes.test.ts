import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type mysql from 'mysql2/promise';
import { type BackfillInput, type BackfillStatus, backfillStatusQuery } from '../../src/backfill/contract';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { pendingIndexRebuild } from '../../src/service/backfills';
import { dumpTable, startBackfill, waitFor } from '../helpers/pipeline';
import { connectTo, freshDatabases, uniqueName, withWorker } from '../helpers/stack';

async function indexNames(conn: mysql.Connection, schema: string, table: string): Promise<string[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? `,
    [schema, table],
  );
  return rows.map((r) => String(r.name)).sort();
}

async function showCreate(conn: mysql.Connection, table: string): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SHOW CREATE TABLE \`${table}\``);
  return String(rows[0]?.['Create Table']);
}

async function binlogPosition(conn: mysql.Connection): Promise<{ file: string; pos: number }> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
  return { file: String(rows[0]?.File), pos: Number(rows[0]?.Position) };
}

// Every index kind that must survive the round trip word for word: prefix, DESC, a comment with a
// comma, IGNORED, USING BTREE, a backtick in a name; unique and full-text ones are never taken off.
const ORDERS_DDL = `CREATE TABLE orders (
  id INT PRIMARY KEY, customer INT NOT NULL, \`no\`\`te\` VARCHAR(60), created DATETIME(3), ref INT, body TEXT,
  KEY by_customer (customer, created DESC) COMMENT 'by customer, newest first',
  KEY \`by_no\`\`te\` (\`no\`\`te\`(8)) IGNORED,
  KEY by_created (created) USING BTREE,
  UNIQUE KEY by_ref (ref),
  FULLTEXT KEY ft_body (body))`;

async function ordersTables(db: { source: mysql.Connection; target: mysql.Connection }, rows: number) {
  const ddl = [
    ORDERS_DDL,
    'CREATE TABLE accounts (id INT PRIMARY KEY, v INT, KEY by_v (v))',
    'CREATE TABLE filled (id INT PRIMARY KEY, v INT, KEY by_v (v))',
    'CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20), KEY by_name (name))',
    `CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, v INT, KEY by_v (v),
       CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES parent (id))`,
  ];
  for (const d of ddl) {
    await db.source.query(d);
    await db.target.query(d);
  }
  await db.source.query(
    `INSERT INTO orders SELECT seq, seq % 97, CONCAT('note ', seq), '2024-05-06 07:08:09.123' + INTERVAL seq SECOND,
       seq * 3, IF(seq % 10 = 0, 'otter 🦦', NULL) FROM seq_1_to_${rows}`,
  );
  await db.source.query('INSERT INTO accounts SELECT seq, seq % 5 FROM seq_1_to_300');
  await db.source.query('INSERT INTO filled SELECT seq, seq FROM seq_1_to_50');
  await db.target.query('INSERT INTO filled VALUES (1, 1)');
}

/** An initial load of `tables` of `schema` (same names on the target), with `options`. */
function initialLoadOf(
  schema: string,
  tables: string[],
  options: Omit<BackfillInput, 'id' | 'kind' | 'config'>,
): BackfillInput {
  const config = parsePipelineConfig({
    name: uniqueName('p'),
    source: 'source',
    target: 'target',
    mappings: tables.map((table) => ({ source: { schema, table } })),
  });
  return { id: uniqueName('load'), kind: 'initial', config, ...options };
}

test('initial load: plain secondary indexes of empty target tables are off during the copy, rebuilt per table, back word for word, unlogged', async (t) => {
  const db = await freshDatabases(t, 'bfx');
  await ordersTables(db, 30_000);
  const tables = ['accounts', 'orders', 'filled', 'parent', 'child'];
  const before = new Map<string, string>();
  for (const table of tables) before.set(table, await showCreate(db.target, table));
  const input = initialLoadOf(db.name, tables, { chunkSize: 1000, parallelism: 2, maxRowsPerSecond: 6000 });
  const binlogStart = await binlogPosition(db.target);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startBackfill(client, taskQueue, input);
    // The plan takes tables in name order: accounts' one chunk is done first, and its index is back
    // while orders still loads without its own.
    let seen: BackfillStatus | undefined;
    await waitFor('accounts rebuilt while orders loads', async () => {
      seen = await handle.query(backfillStatusQuery);
      return seen.state === 'copying' && (seen.secondaryIndexes?.restored ?? 0) >= 1;
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
    });
    assert.deepEqual(await indexNames(db.target, db.name, 'accounts'), ['PRIMARY', 'by_v'].sort());
    assert.deepEqual(await indexNames(db.target, db.name, 'orders'), ['PRIMARY', 'by_ref', 'ft_body'].sort());
    // Kept, and why: a non-empty table, a table with a foreign key, a table a foreign key references.
    assert.deepEqual(await indexNames(db.target, db.name, 'filled'), ['PRIMARY', 'by_v'].sort());
    const live = await handle.query(backfillStatusQuery);
    assert.deepEqual(live.secondaryIndexes?.tables, [`${db.name}.accounts`, `${db.name}.orders`]);
    assert.equal(live.secondaryIndexes?.deferred, 4);
    assert.deepEqual(live.secondaryIndexes?.kept, [
      `${db.name}.child: it has foreign keys`,
      `${db.name}.filled: it is not empty`,
      `${db.name}.parent: a foreign key references it`,
    ]);

    const done = (await handle.result()) as BackfillStatus;
    assert.equal(done.state, 'done');
    assert.equal(done.secondaryIndexes?.restored, 4);
  });
  for (const table of tables) assert.equal(await showCreate(db.target, table), before.get(table), table);
  assert.deepEqual(
    await dumpTable(db.target, db.name, 'orders'),
    await dumpTable(db.source, db.name, 'orders'),
  );
  assert.deepEqual(
    await dumpTable(db.target, db.name, 'accounts'),
    await dumpTable(db.source, db.name, 'accounts'),
  );
  // The records say restored, and the target's binlog never saw an index go or come.
  const [records] = await db.target.query<mysql.RowDataPacket[]>(
    'SELECT status, COUNT(*) AS n FROM otterflow.backfill_deferred_indexes WHERE backfill_id = ? GROUP BY status',
    [input.id],
  );
  assert.deepEqual(
    records.map((r) => [r.status, Number(r.n)]),
    [['restored', 4]],
  );
  const [events] = await db.target.query<mysql.RowDataPacket[]>(
    `SHOW BINLOG EVENTS IN '${binlogStart.file}' FROM ${binlogStart.pos}`,
  );
  assert.ok(events.length > 0);
  assert.deepEqual(
    events.filter((e) => /\bALTER\s+TABLE\b/i.test(String(e.Info))).map((e) => e.Info),
    [],
  );
});

test('initial load with secondaryIndexes keep: the indexes stay on during the copy', async (t) => {
  const db = await freshDatabases(t, 'bfk');
  await ordersTables(db, 6000);
  const input = initialLoadOf(db.name, ['orders'], {
    chunkSize: 500,
    maxRowsPerSecond: 3000,
    secondaryIndexes: 'keep',
  });
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startBackfill(client, taskQueue, input);
    await waitFor('copying', async () => (await handle.query(backfillStatusQuery)).rowsCopied > 0);
    assert.equal((await indexNames(db.target, db.name, 'orders')).length, 6);
    const done = (await handle.result()) as BackfillStatus;
    assert.deepEqual(done.secondaryIndexes, {
      deferred: 0,
      restored: 0,
      tables: [],
      kept: ['all tables: secondaryIndexes is keep'],
    });
  });
  assert.deepEqual(
    await dumpTable(db.target, db.name, 'orders'),
    await dumpTable(db.source, db.name, 'orders'),
  );
});

test('a cancelled initial load puts the deferred indexes back', async (t) => {
  const db = await freshDatabases(t, 'bfy');
  await ordersTables(db, 20_000);
  const before = await showCreate(db.target, 'orders');
  const input = initialLoadOf(db.name, ['orders'], { chunkSize: 500, maxRowsPerSecond: 2000 });
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startBackfill(client, taskQueue, input);
    await waitFor('copying', async () => (await handle.query(backfillStatusQuery)).rowsCopied >= 1000);
    assert.deepEqual(await indexNames(db.target, db.name, 'orders'), ['PRIMARY', 'by_ref', 'ft_body'].sort());
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    const last = await handle.query(backfillStatusQuery);
    assert.equal(last.state, 'cancelled');
    assert.equal(last.secondaryIndexes?.restored, 3);
    assert.equal(last.lastError, undefined);
  });
  assert.equal(await showCreate(db.target, 'orders'), before);
});

test("across continue-as-new the indexes stay off until their table is done, and the first run's decisions carry over", async (t) => {
  const db = await freshDatabases(t, 'bfn');
  await ordersTables(db, 3000);
  const tables = ['accounts', 'orders', 'filled'];
  const before = new Map<string, string>();
  for (const table of tables) before.set(table, await showCreate(db.target, table));
  const input = initialLoadOf(db.name, tables, {
    chunkSize: 100,
    parallelism: 2,
    maxRowsPerSecond: 1000,
    chunksPerRun: 4,
  });
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startBackfill(client, taskQueue, input);
    const first = handle.firstExecutionRunId;
    const latest = client.workflow.getHandle(handle.workflowId);
    await waitFor('a second run', async () => (await latest.describe()).runId !== first);
    // Continue-as-new is not an ending: orders (30 chunks) is far from done and still without its indexes.
    assert.deepEqual(await indexNames(db.target, db.name, 'orders'), ['PRIMARY', 'by_ref', 'ft_body'].sort());
    const done = (await handle.result()) as BackfillStatus;
    assert.equal(done.state, 'done');
    assert.equal(done.rowsCopied, 300 + 3000 + 50);
    assert.equal(done.chunksDone, done.chunksTotal);
    assert.deepEqual(done.secondaryIndexes, {
      deferred: 4,
      restored: 4,
      tables: [`${db.name}.accounts`, `${db.name}.orders`],
      kept: [`${db.name}.filled: it is not empty`],
    });
  });
  for (const table of tables) assert.equal(await showCreate(db.target, table), before.get(table), table);
  assert.deepEqual(
    await dumpTable(db.target, db.name, 'orders'),
    await dumpTable(db.source, db.name, 'orders'),
  );
});

test('while a rebuild waits for the table (a reader holds it open) the load says indexing and the rebuild reports the wait; it finishes once the reader is done', async (t) => {
  const db = await freshDatabases(t, 'bfw');
  await ordersTables(db, 3000);
  const before = await showCreate(db.target, 'orders');
  const input = initialLoadOf(db.name, ['orders'], { chunkSize: 500, maxRowsPerSecond: 1000 });
  const reader = await connectTo('target', db.name);
  t.after(() => reader.end());
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startBackfill(client, taskQueue, input);
    await waitFor('copying without the indexes', async () => {
      const s = await handle.query(backfillStatusQuery);
      return s.state === 'copying' && s.secondaryIndexes?.deferred === 3;
    });
    // An open transaction that read the table holds its metadata lock: the ALTER must wait for it.
    await reader.query('START TRANSACTION');
    await reader.query('SELECT COUNT(*) FROM orders');
    await waitFor('indexing', async () => (await handle.query(backfillStatusQuery)).state === 'indexing');
    // The rebuild's heartbeat says why it takes long (what the API and the Web UI show).
    const rebuild = await waitFor(
      'the rebuild to report its wait',
      async () => {
        const r = pendingIndexRebuild((await handle.describe()).raw, defaultPayloadConverter);
        return r && /metadata lock/i.test(r.state) ? r : undefined;
      },
      30_000,
    );
    assert.match(rebuild.statement, /^ALTER TABLE .*ADD KEY `by_customer`/);
    await new Promise((r) => setTimeout(r, 1500));
    const waiting = await handle.query(backfillStatusQuery);
    assert.equal(waiting.state, 'indexing');
    assert.equal(waiting.chunksDone, waiting.chunksTotal);
    assert.equal(waiting.secondaryIndexes?.restored, 0);
    await reader.query('COMMIT');
    const done = (await handle.result()) as BackfillStatus;
    assert.equal(done.state, 'done');
    assert.equal(done.secondaryIndexes?.restored, 3);
  });
  assert.equal(await showCreate(db.target, 'orders'), before);
});
