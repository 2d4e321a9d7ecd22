import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OracleCheckpointSql } from '../../src/connectors/oracle/checkpoint';
import { OracleVerificationSql } from '../../src/connectors/oracle/verification/report-sql';
import { OracleVerificationTarget } from '../../src/connectors/oracle/verification/session';
import { oracleError, RecordingOracleDatabase } from '../helpers/recording-oracle';
import { RecordingVerificationTables } from '../helpers/recording-oracle-verification';

const V = '"OTTERFLOW_VERIFICATIONS"';
const C = '"OTTERFLOW_VERIFY_CHUNKS"';
const D = '"OTTERFLOW_VERIFY_DIFFERENCES"';
const NOW = 'SYS_EXTRACT_UTC(SYSTIMESTAMP)';

test('verification report SQL (golden): plan, chunk record, differences page, report; schema and identifier case', () => {
  const q = new OracleVerificationSql();
  assert.equal(
    q.insertVerification(),
    `INSERT INTO ${V} (verification_id, pipeline, state, request_json) VALUES (:1, :2, 'planning', :3)`,
  );
  assert.equal(
    q.insertChunk(),
    `INSERT INTO ${C} (verification_id, chunk_no, target_schema, target_table, sources, key_columns, after_key, up_to_key) ` +
      'VALUES (:1, :2, :3, :4, :5, :6, :7, :8)',
  );
  assert.equal(
    q.markChunkDone(),
    `UPDATE ${C} SET status = 'done', rows_source = :1, rows_target = :2, unsettled = :3, done_at = ${NOW} ` +
      'WHERE verification_id = :4 AND chunk_no = :5',
  );
  assert.equal(q.deleteDifferences(), `DELETE FROM ${D} WHERE verification_id = :1 AND chunk_no = :2`);
  assert.equal(
    q.differencesPage(),
    'SELECT d.chunk_no, d.seq, d.target_schema, d.target_table, d.key_json, d.kind, d.columns_json, d.repair, ' +
      `c.key_columns FROM ${D} d JOIN ${C} c ON c.verification_id = d.verification_id AND c.chunk_no = d.chunk_no ` +
      'WHERE d.verification_id = :1 ORDER BY d.chunk_no, d.seq OFFSET :2 ROWS FETCH NEXT :3 ROWS ONLY',
  );
  assert.equal(
    q.readHead(),
    `SELECT pipeline, state, error, repair_json, TO_CHAR(started_at, 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"'), ` +
      `TO_CHAR(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"'), TO_CHAR(finished_at, 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"') ` +
      `FROM ${V} WHERE verification_id = :1`,
  );
  assert.equal(
    q.finish(),
    `UPDATE ${V} SET state = :1, error = :2, finished_at = ${NOW}, updated_at = ${NOW} WHERE verification_id = :3`,
  );
  const create = q.create();
  assert.equal(create.length, 4);
  for (const s of create)
    assert.match(
      s,
      /^BEGIN EXECUTE IMMEDIATE 'CREATE .*'; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 AND SQLCODE != -1408 THEN RAISE; END IF; END;$/,
    );
  assert.match(create[0]!, /started_at TIMESTAMP\(6\) DEFAULT SYS_EXTRACT_UTC\(SYSTIMESTAMP\) NOT NULL/);
  assert.match(
    create[1]!,
    /CREATE INDEX "OTTERFLOW_VERIFY_BY_PIPELINE" ON "OTTERFLOW_VERIFICATIONS" \(pipeline, started_at\)/,
  );
  assert.match(create[2]!, /CHECK \(status IN \(''pending'', ''done''\)\)/);
  assert.match(create[3]!, /CHECK \(kind IN \(''missing'', ''extra'', ''different''\)\)/);
  assert.match(create[3]!, /PRIMARY KEY \(verification_id, chunk_no, seq\)/);
  assert.equal(new OracleVerificationSql('otterflow').chunks, `"OTTERFLOW".${C}`);
  assert.equal(new OracleVerificationSql('meta', 'exact').differences, `"meta".${D}`);
});

function recordingTarget(pipeline = 'p1') {
  const db = new RecordingOracleDatabase();
  const tables = new RecordingVerificationTables();
  db.models.push(tables);
  const open = () => new OracleVerificationTarget(db.connect(), pipeline);
  return { db, tables, open };
}

const T = { schema: 'shop', table: 'items' };

test('the report round trip on Oracle: begin once, plan in one commit, chunks recorded with their differences, report, pages, repair marks', async () => {
  const { db, open } = recordingTarget();
  const a = open();
  const b = open();
  await a.beginVerification('v1', 'p1', { where: 'id > 3' });
  await a.beginVerification('v1', 'p1', { where: 'ignored' }); // a retried activity: the row stays
  assert.deepEqual(await b.readRequest('v1'), { where: 'id > 3' });
  assert.equal(await b.hasPlan('v1'), false);

  await a.storeChunks('v1', [
    { table: T, sources: [{ schema: 'src', table: 'items' }], keyColumns: ['id'], upTo: [100n] },
    { table: T, sources: [{ schema: 'src', table: 'items' }], keyColumns: ['id'], after: [100n] },
    {
      table: { schema: 'shop', table: 'tags' },
      sources: [{ schema: 'src', table: 'tags' }],
      keyColumns: ['a', 'b'],
    },
  ]);
  const plan = db.of((c) => c.connection === 1 && c.sql === new OracleVerificationSql().insertChunk());
  assert.equal(plan.length, 1, 'one executeMany for the plan');
  assert.equal((plan[0]!.binds as unknown[][]).length, 3);
  assert.equal(await b.hasPlan('v1'), true);
  assert.deepEqual(await b.pendingChunks('v1'), { pending: [0, 1, 2], total: 3 });
  assert.deepEqual(await b.readStoredChunk('v1', 1), {
    chunkNo: 1,
    table: T,
    sources: [{ schema: 'src', table: 'items' }],
    keyColumns: ['id'],
    after: [100n],
    done: false,
  });

  const chunk0 = (await b.readStoredChunk('v1', 0))!;
  await a.recordChunk('v1', chunk0, { rowsSource: 100, rowsTarget: 101, unsettled: 1 }, [
    { key: [7], kind: 'different', columns: ['name'] },
    { key: [9], kind: 'missing', columns: [] },
    { key: [12], kind: 'extra', columns: [] },
  ]);
  // Recorded again (a retried activity): the differences are replaced, not added.
  await a.recordChunk('v1', chunk0, { rowsSource: 100, rowsTarget: 101, unsettled: 1 }, [
    { key: [7], kind: 'different', columns: ['name'] },
    { key: [9], kind: 'missing', columns: [] },
    { key: [12], kind: 'extra', columns: [] },
  ]);
  const tags = (await b.readStoredChunk('v1', 2))!;
  await a.recordChunk('v1', tags, { rowsSource: 5, rowsTarget: 5, unsettled: 0 }, [
    { key: ['x', 2], kind: 'different', columns: ['note', 'qty'] },
  ]);
  assert.deepEqual(await b.pendingChunks('v1'), { pending: [1], total: 3 });

  const page = await b.readDifferences('v1', 1, 2);
  assert.equal(page.total, 4);
  assert.deepEqual(
    page.differences.map((d) => [d.chunkNo, d.seq, d.table.table, d.keyColumns, d.key, d.kind, d.columns]),
    [
      [0, 1, 'items', ['id'], [9], 'missing', []],
      [0, 2, 'items', ['id'], [12], 'extra', []],
    ],
  );
  await a.markRepair('v1', [
    { chunkNo: 0, seq: 0, repaired: true },
    { chunkNo: 2, seq: 0, repaired: false },
  ]);
  await a.storeRepairStatus('v1', {
    state: 'done',
    requested: 2,
    repaired: 1,
    remaining: 1,
    startedAt: '2026-12-06T10:00:00.000Z',
  });
  await a.finishVerification('v1', 'done');
  const report = (await b.readReport('v1'))!;
  assert.equal(report.state, 'done');
  assert.equal(report.pipeline, 'p1');
  assert.deepEqual(
    report.tables.map((t) => [
      t.table,
      t.sources,
      t.chunks,
      t.chunksDone,
      t.rowsSource,
      t.rowsTarget,
      t.missing,
      t.extra,
      t.different,
      t.unsettled,
    ]),
    [
      ['shop.items', ['src.items'], 2, 1, 100, 101, 1, 1, 1, 1],
      ['shop.tags', ['src.tags'], 1, 1, 5, 5, 0, 0, 1, 0],
    ],
  );
  assert.equal(report.differences, 4);
  assert.equal(report.chunksTotal, 3);
  assert.equal(report.repair?.repaired, 1);
  assert.match(report.finishedAt ?? '', /^\d{4}-\d\d-\d\dT/);
  const all = await b.readDifferences('v1', 0, 100);
  assert.deepEqual(
    all.differences.map((d) => d.repair),
    ['repaired', undefined, undefined, 'remaining'],
  );
  assert.equal(await b.readReport('nope'), undefined);

  await a.resumeVerification('v1');
  assert.equal((await b.readReport('v1'))?.state, 'comparing');
  assert.equal((await b.readReport('v1'))?.finishedAt, undefined);
});

test('a chunk record that fails half-way leaves nothing: rolled back, the chunk still pending, no difference stored', async () => {
  const { db, open } = recordingTarget();
  const a = open();
  await a.beginVerification('v2', 'p1', {});
  await a.storeChunks('v2', [{ table: T, sources: [T], keyColumns: ['id'] }]);
  const chunk = (await a.readStoredChunk('v2', 0))!;
  const q = new OracleVerificationSql();
  db.failWhen(
    (c) => c.sql === q.markChunkDone(),
    oracleError('ORA-03113', 'end-of-file on communication channel'),
  );
  await assert.rejects(
    a.recordChunk('v2', chunk, { rowsSource: 1, rowsTarget: 0, unsettled: 0 }, [
      { key: [1], kind: 'missing', columns: [] },
    ]),
    /ORA-03113/,
  );
  const b = open();
  assert.deepEqual(await b.pendingChunks('v2'), { pending: [0], total: 1 });
  assert.equal((await b.readDifferences('v2', 0, 10)).total, 0);
  assert.equal(db.of((c) => c.connection === 1 && c.method === 'rollback').length, 1);
});

test('the Oracle verification session: applied position without creating the checkpoint table, columns and key from the catalog, deletes by key through the applier', async () => {
  const { db, open } = recordingTarget('orders');
  const t = open();
  const ck = new OracleCheckpointSql();
  db.failWhen((c) => c.sql === ck.select(), oracleError('ORA-00942', 'table or view does not exist'));
  assert.equal(await t.appliedPosition(), undefined, 'no pipeline ever ran here');
  assert.equal(db.of((c) => c.sql === ck.create()).length, 0, 'a verification never creates the checkpoint');
  db.checkpoints.set('orders', { epoch: 3, file: 'bin.000002', pos: 4711, gtid: '0-1-9', batchSeq: 1 });
  assert.deepEqual(await t.appliedPosition(), { file: 'bin.000002', pos: 4711, gtid: '0-1-9' });

  db.defineTable({
    owner: 'SHOP',
    table: 'ITEMS',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'NAME', dataType: 'VARCHAR2' },
    ],
    primaryKey: ['ID'],
  });
  db.defineTable({ owner: 'SHOP', table: 'LOOSE', columns: [{ name: 'A', dataType: 'VARCHAR2' }] });
  assert.deepEqual(await t.tableColumns(T), {
    ref: T,
    columns: [
      { name: 'id', dataType: 'number(10,0)', charset: null, nullable: true },
      { name: 'name', dataType: 'varchar2', charset: null, nullable: true },
    ],
    keyColumns: ['id'],
  });
  assert.deepEqual((await t.tableColumns({ schema: 'shop', table: 'loose' })).keyColumns, []);
  await assert.rejects(t.tableColumns({ schema: 'shop', table: 'gone' }), /does not exist/);

  assert.equal(await t.deleteKeys(T, ['id'], [[5], [6]]), 2);
  const del = db.of((c) => c.method === 'executeMany' && (c.sql ?? '').startsWith('DELETE'));
  assert.equal(del.length, 1);
  assert.equal(del[0]!.sql, 'DELETE FROM "SHOP"."ITEMS" WHERE "ID" = TO_NUMBER(:1)');
  assert.deepEqual(
    db.committedStatements().map((s) => [s.sql, s.binds.map((r) => r.map(Number))]),
    [['DELETE FROM "SHOP"."ITEMS" WHERE "ID" = TO_NUMBER(:1)', [[5], [6]]]],
  );
  await assert.rejects(t.deleteKeys(T, ['name'], [['x']]), /is not the verified key/);
});
