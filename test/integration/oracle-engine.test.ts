import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import oracledb from 'oracledb';
import type { ResolvedDatasource } from '../../src/config/datasources';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { replicate } from '../../src/replication/replicator';
import { samePipelineConfig } from '../helpers/pipeline';
import {
  type CommittedStatement,
  oracleError,
  type RecordedCall,
  RecordingOracleDatabase,
} from '../helpers/recording-oracle';
import { freshDatabases, testStack } from '../helpers/stack';

/**
 * The real engine (binlog stream from the test stack's MariaDB, read loop, mapper, merger, batch
 * committer) writing into an Oracle target session whose connection records every call: no Oracle
 * server runs here. test/integration/oracle.test.ts runs the same kind of checks on a real Oracle
 * when ORACLE_URL is set.
 */

const stack = testStack();
const sourceDs: ResolvedDatasource = {
  name: 'source',
  kind: 'mariadb',
  host: stack.host,
  port: stack.sourcePort,
  user: 'root',
  password: '',
};
const oracleDs: ResolvedDatasource = {
  name: 'ora',
  kind: 'oracle',
  host: 'oracle.invalid',
  port: 1521,
  user: 'repl',
  password: 'never-used',
  serviceName: 'FREEPDB1',
};

const ITEMS = [
  { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
  { name: 'NAME', dataType: 'VARCHAR2' },
  { name: 'AMOUNT', dataType: 'NUMBER', precision: 10, scale: 2 },
  { name: 'NOTE', dataType: 'VARCHAR2' },
  { name: 'SEEN', dataType: 'TIMESTAMP(6)' },
];

async function setup(t: TestContext, options: Record<string, unknown> = {}) {
  const { name: db, source } = await freshDatabases(t, 'ora');
  await source.query(
    'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50), amount DECIMAL(10,2), note VARCHAR(20), seen DATETIME(6))',
  );
  await source.query('CREATE TABLE others (id INT PRIMARY KEY, v VARCHAR(10))');
  await source.query('CREATE TABLE log (at INT, msg VARCHAR(20))'); // no key
  const config = parsePipelineConfig(
    await samePipelineConfig(source, db, { target: oracleDs.name, options }),
  );
  const rdb = new RecordingOracleDatabase();
  const owner = db.toUpperCase();
  rdb.defineTable({ owner, table: 'ITEMS', columns: ITEMS, primaryKey: ['ID'] });
  rdb.defineTable({
    owner,
    table: 'OTHERS',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'V', dataType: 'VARCHAR2' },
    ],
    primaryKey: ['ID'],
  });
  rdb.defineTable({
    owner,
    table: 'LOG',
    columns: [
      { name: 'AT', dataType: 'NUMBER', precision: 10, scale: 0 },
      { name: 'MSG', dataType: 'VARCHAR2' },
    ],
  });
  const run = (signal?: AbortSignal) =>
    replicate({
      config,
      source: sourceDs,
      target: oracleDs,
      maxSeconds: 2,
      worker: 'test',
      targetConnector: new OracleTargetConnector(async () => rdb.connect()),
      ...(signal ? { signal } : {}),
    });
  return { db, source, config, rdb, run, owner };
}

/** The calls of `call`'s connection since that connection's previous COMMIT/ROLLBACK, and the call after it. */
function transactionAround(rdb: RecordingOracleDatabase, call: RecordedCall) {
  const mine = rdb.calls.filter((c) => c.connection === call.connection);
  const i = mine.indexOf(call);
  let start = i;
  while (start > 0 && !['commit', 'rollback'].includes(mine[start - 1]!.method)) start--;
  let end = i;
  while (end < mine.length - 1 && !['commit', 'rollback', 'close'].includes(mine[end]!.method)) end++;
  return mine.slice(start, end + 1);
}

/** Committed bind rows of MERGE statements into one table, first bind (the key) of each. */
function committedKeys(committed: CommittedStatement[], table: string): string[] {
  return committed
    .filter((s) => s.sql.startsWith(`MERGE INTO ${table}`))
    .flatMap((s) => s.binds.map((b) => String(b[0])));
}

test("Oracle session under the real engine: statement order, binds, checkpoint in the batch transaction, '' counted", async (t) => {
  const { db, source, rdb, run, owner, config } = await setup(t);
  await source.query(
    "INSERT INTO items VALUES (1, 'Zoë', 12.50, 'x', '2024-02-29 23:59:59.123456'), (2, 'two', -0.01, '', NULL), (3, NULL, NULL, NULL, NULL)",
  );
  const result = await run();

  assert.equal(result.inserted, 3);
  assert.equal(result.emptyAsNull, 1);
  assert.ok(
    result.warnings.some(
      (w) =>
        w ===
        `${db}.items.note: empty strings are stored as NULL (Oracle does not distinguish '' from NULL); counted in emptyAsNull`,
    ),
    JSON.stringify(result.warnings),
  );
  const merge = rdb.calls.find((c) => c.method === 'executeMany' && c.sql?.startsWith('MERGE'))!;
  const table = `"${owner}"."ITEMS"`;
  assert.equal(
    merge.sql,
    `MERGE INTO ${table} t USING (SELECT TO_NUMBER(:1) "ID", :2 "NAME", TO_NUMBER(:3) "AMOUNT", :4 "NOTE", ` +
      `TO_TIMESTAMP(:5, 'YYYY-MM-DD HH24:MI:SS.FF6') "SEEN" FROM dual) s ON (t."ID" = s."ID") ` +
      'WHEN MATCHED THEN UPDATE SET t."NAME" = s."NAME", t."AMOUNT" = s."AMOUNT", t."NOTE" = s."NOTE", t."SEEN" = s."SEEN" ' +
      'WHEN NOT MATCHED THEN INSERT ("ID", "NAME", "AMOUNT", "NOTE", "SEEN") VALUES (s."ID", s."NAME", s."AMOUNT", s."NOTE", s."SEEN")',
  );
  assert.deepEqual(merge.binds, [
    ['1', 'Zoë', '12.50', 'x', '2024-02-29 23:59:59.123456'],
    ['2', 'two', '-0.01', null, null],
    ['3', null, null, null, null],
  ]);
  assert.deepEqual(merge.options, {
    bindDefs: [
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 1 },
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 4 },
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 5 },
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 1 },
      { type: oracledb.DB_TYPE_VARCHAR, maxSize: 26 },
    ],
    batchErrors: true,
    dmlRowCounts: true,
    autoCommit: false,
  });
  // The table's key columns are read from the catalog before its first batch; then the batch's
  // transaction: the epoch fence writing the checkpoint first, constraints deferred, the rows, COMMIT —
  // all on one connection.
  const tx = transactionAround(rdb, merge);
  assert.deepEqual(
    tx.map((c) => (c.method === 'execute' ? c.sql!.split(' ').slice(0, 3).join(' ') : c.method)),
    [
      'SELECT column_name, data_type,',
      'SELECT c.constraint_name, c.constraint_type,',
      'UPDATE "OTTERFLOW_CHECKPOINTS" SET',
      'SET CONSTRAINTS ALL',
      'executeMany',
      'commit',
    ],
  );
  const fence = tx[2]!;
  assert.equal(fence.sql, rdb.checkpointSql.fence(true));
  const [file, pos, gtid, pipeline, epoch] = fence.binds as [string, number, unknown, string, number];
  assert.equal(pipeline, config.name);
  assert.equal(epoch, 1);
  assert.equal(gtid === null || typeof gtid === 'object', true);
  // The claim came first, in a transaction of its own; the last committed checkpoint is the run's end.
  const first = rdb.calls.filter((c) => c.connection === merge.connection).slice(0, 6);
  assert.deepEqual(
    first.map((c) => c.sql?.split(' ')[0] ?? c.method),
    ['ALTER', 'BEGIN', 'SELECT', 'rollback', 'INSERT', 'commit'],
  );
  const cp = rdb.checkpoints.get(config.name)!;
  assert.deepEqual(
    { file: cp.file, pos: cp.pos },
    { file: result.position?.file, pos: result.position?.pos },
  );
  assert.ok(cp.pos >= pos && cp.file! >= file);
  assert.equal(committedKeys(rdb.committedStatements(), table).join(), '1,2,3');
});

test('a batch failing halfway rolls back and leaves the checkpoint; the next run resumes from it', async (t) => {
  const { source, rdb, run, owner, config } = await setup(t);
  await source.query("INSERT INTO items (id, name) VALUES (1, 'a')");
  await run();
  const before = { ...rdb.checkpoints.get(config.name)! };

  await source.query('START TRANSACTION');
  await source.query("INSERT INTO items (id, name) VALUES (10, 'b'), (11, 'c')");
  await source.query("INSERT INTO others VALUES (1, 'o')");
  await source.query('COMMIT');
  // The batch's first table applies, the second fails: the connection is lost.
  rdb.failWhen(
    (c) => c.method === 'executeMany' && c.sql!.includes(`"${owner}"."OTHERS"`),
    oracleError('ORA-03113', 'end-of-file on communication channel'),
  );
  await assert.rejects(run(), /ORA-03113/);
  const failed = rdb.calls.find((c) => c.failed)!;
  const tx = transactionAround(rdb, failed).filter((c) => !c.sql?.startsWith('SELECT')); // catalog reads
  assert.deepEqual(
    tx.map((c) => (c.method === 'execute' ? c.sql!.split(' ')[0] : c.method)),
    ['UPDATE', 'SET', 'executeMany', 'executeMany', 'rollback'],
  );
  assert.equal(rdb.checkpoints.get(config.name)?.pos, before.pos);
  assert.equal(rdb.checkpoints.get(config.name)?.epoch, 2);
  assert.deepEqual(committedKeys(rdb.committedStatements(), `"${owner}"."ITEMS"`), ['1']);

  const again = await run();
  assert.ok(again.inserted >= 3);
  const committed = rdb.committedStatements();
  assert.deepEqual(committedKeys(committed, `"${owner}"."ITEMS"`), ['1', '10', '11']);
  assert.deepEqual(committedKeys(committed, `"${owner}"."OTHERS"`), ['1']);
  assert.equal(rdb.checkpoints.get(config.name)?.epoch, 3);
  assert.ok((rdb.checkpoints.get(config.name)?.pos ?? 0) > before.pos);
});

test('a worker that dies mid-batch commits nothing of it; the next run applies the batch once', async (t) => {
  const { source, rdb, run, owner, config } = await setup(t);
  await run(); // creates the checkpoint
  const before = { ...rdb.checkpoints.get(config.name)! };
  await source.query("INSERT INTO items (id, name) VALUES (20, 'x'), (21, 'y'), (22, 'z')");
  const abort = new AbortController();
  // The worker dies while the batch is on the wire: the signal fires and the connection is gone.
  rdb.failWhen(
    (c) => {
      if (c.method !== 'executeMany') return false;
      abort.abort();
      return true;
    },
    oracleError('ORA-03135', 'connection lost contact'),
  );
  await assert.rejects(run(abort.signal), /ORA-03135/);
  const failed = rdb.calls.find((c) => c.failed)!;
  const after = rdb.calls.filter((c) => c.connection === failed.connection && c.n > failed.n);
  assert.equal(
    after.some((c) => c.method === 'commit'),
    false,
  );
  assert.equal(after[0]?.method, 'rollback');
  assert.equal(rdb.checkpoints.get(config.name)?.pos, before.pos);

  await run();
  assert.deepEqual(committedKeys(rdb.committedStatements(), `"${owner}"."ITEMS"`), ['20', '21', '22']);
});

test('a row Oracle rejects (batchErrors) stops the pipeline naming the row; nothing of the batch commits', async (t) => {
  const { source, rdb, run, owner, config } = await setup(t);
  await run();
  const before = { ...rdb.checkpoints.get(config.name)! };
  await source.query("INSERT INTO items (id, name) VALUES (30, 'ok'), (31, 'too long for the column')");
  rdb.rejectRow(
    (c) => c.sql?.startsWith(`MERGE INTO "${owner}"."ITEMS"`) === true,
    1,
    oracleError('ORA-12899', 'value too large for column "NAME" (actual: 23, maximum: 10)'),
  );
  await assert.rejects(run(), (e: Error) => {
    assert.equal(e.name, 'PipelineHaltError');
    assert.match(
      e.message,
      /the target refused a row: upsert on .*items failed for key \{"id":"31"\}: ORA-12899/,
    );
    return true;
  });
  assert.equal(rdb.checkpoints.get(config.name)?.pos, before.pos);
  assert.deepEqual(committedKeys(rdb.committedStatements(), `"${owner}"."ITEMS"`), []);
});

test('missing rows: an UPDATE that finds no row is inserted and reported, a DELETE that finds none is reported', async (t) => {
  const { source, rdb, run, owner } = await setup(t);
  await source.query("INSERT INTO items (id, name) VALUES (1, 'a'), (2, 'b')");
  await run();
  // The Oracle rows were deleted behind the pipeline's back: UPDATE and DELETE count 0 rows.
  rdb.rowCounts = (sql, binds) =>
    binds.map(() => (sql.startsWith('UPDATE') || sql.startsWith('DELETE') ? 0 : 1));
  await source.query("UPDATE items SET name = 'a2' WHERE id = 1");
  await source.query('DELETE FROM items WHERE id = 2');
  const r = await run();
  assert.equal(r.missingOnUpdate, 1);
  assert.equal(r.missingOnDelete, 1);
  assert.ok(
    r.warnings.some((w) => /rows missing on the target/.test(w)),
    JSON.stringify(r.warnings),
  );
  const table = `"${owner}"."ITEMS"`;
  const committed = rdb.committedStatements().slice(1); // after the first run's MERGE
  assert.deepEqual(
    committed.map((c) => [c.sql.split(' (')[0], c.binds]),
    [
      [`DELETE FROM ${table} WHERE "ID" = TO_NUMBER(:1)`, [['2']]],
      [
        `UPDATE ${table} SET "NAME" = :1, "AMOUNT" = TO_NUMBER(:2), "NOTE" = :3, ` +
          `"SEEN" = TO_TIMESTAMP(:4, 'YYYY-MM-DD HH24:MI:SS.FF6') WHERE "ID" = TO_NUMBER(:5)`,
        [['a2', null, null, null, '1']],
      ],
      [`INSERT INTO ${table}`, [['1', 'a2', null, null, null]]],
    ],
  );
});

test('a key-less table: rows matched on all columns (NULL-safe DECODE), one row per UPDATE/DELETE, identical rows kept apart', async (t) => {
  const { source, rdb, run, owner } = await setup(t);
  await source.query("INSERT INTO log VALUES (1, 'x'), (1, 'x'), (2, NULL)");
  await source.query("UPDATE log SET msg = 'y' WHERE at = 2");
  await source.query('DELETE FROM log WHERE at = 1 LIMIT 1');
  const r = await run();
  assert.ok(
    r.warnings.some((w) => /has neither a primary nor a unique key/.test(w)),
    JSON.stringify(r.warnings),
  );
  const table = `"${owner}"."LOG"`;
  const one = `DELETE FROM ${table} WHERE ROWID IN (SELECT ROWID FROM ${table} WHERE DECODE("AT", TO_NUMBER(:1), 1, 0) = 1 AND DECODE("MSG", :2, 1, 0) = 1 AND ROWNUM = 1)`;
  const insert = `INSERT INTO ${table} ("AT", "MSG") VALUES (TO_NUMBER(:1), :2)`;
  const seen = rdb.committedStatements().map((c) => [c.sql, c.binds]);
  // Identical rows stay apart; an UPDATE removes one row equal to its before image and inserts the
  // after image; per table the batch's deletes (before images included) run before its inserts.
  const flat = seen.flatMap(([sql, binds]) =>
    (binds as unknown[][]).map((b) => [sql === one ? 'delete one' : sql === insert ? 'insert' : sql, b]),
  );
  assert.deepEqual(flat, [
    ['insert', ['1', 'x']],
    ['insert', ['1', 'x']],
    ['insert', ['2', null]],
    ['delete one', ['2', null]],
    ['delete one', ['1', 'x']],
    ['insert', ['2', 'y']],
  ]);
});

for (const ddl of ['stop', 'apply', 'skip'] as const) {
  test(`DDL on a mapped table with ddl ${ddl}: ${ddl === 'skip' ? 'skipped with a warning' : 'the pipeline stops saying why'}; the checkpoint stays before it unless skipped`, async (t) => {
    const { source, rdb, run, config } = await setup(t, { ddl });
    await source.query("INSERT INTO items (id, name) VALUES (1, 'a')");
    await run();
    const before = rdb.checkpoints.get(config.name)!.pos;
    await source.query('ALTER TABLE items ADD COLUMN extra INT');
    if (ddl === 'skip') {
      const r = await run();
      assert.ok(
        r.warnings.some((w) => /DDL skipped by policy/.test(w)),
        JSON.stringify(r.warnings),
      );
      assert.ok(rdb.checkpoints.get(config.name)!.pos > before);
      return;
    }
    await assert.rejects(run(), (e: Error) => {
      assert.equal(e.name, 'PipelineHaltError');
      assert.match(
        e.message,
        ddl === 'stop'
          ? /options\.ddl is "stop"/
          : /a oracle target cannot run MySQL DDL\. Apply the equivalent change on the target by hand/,
      );
      return true;
    });
    assert.equal(rdb.checkpoints.get(config.name)!.pos, before);
    assert.equal(
      rdb.calls.some((c) => c.sql?.startsWith('ALTER TABLE')),
      false,
      'no DDL sent to Oracle',
    );
  });
}
