import assert from 'node:assert/strict';
import { test } from 'node:test';
import oracledb from 'oracledb';
import { CHUNK_BIND_DEFS, OracleBackfillSql } from '../../src/connectors/oracle/backfill/progress-sql';
import {
  ensureOracleBackfillTables,
  insertOracleResyncRequests,
  OracleResyncRequests,
  oracleKeepsIndexes,
  readOracleChunk,
  storeOraclePlan,
} from '../../src/connectors/oracle/backfill/progress-store';
import { oracleError, RecordingOracleDatabase } from '../helpers/recording-oracle';
import { RecordingBackfillTables } from '../helpers/recording-oracle-backfill';

const C = '"OTTERFLOW_BACKFILL_CHUNKS"';
const R = '"OTTERFLOW_RESYNC_REQUESTS"';

test('backfill progress SQL (golden): chunks, done mark, re-sync requests; schema and identifier case', () => {
  const q = new OracleBackfillSql();
  assert.equal(
    q.insertChunk(),
    `INSERT INTO ${C} (backfill_id, chunk_no, source_schema, source_table, after_key, up_to_key) VALUES (:1, :2, :3, :4, :5, :6)`,
  );
  assert.equal(
    q.readChunk(true),
    `SELECT chunk_no, source_schema, source_table, after_key, up_to_key, status, rows_copied, copies FROM ${C} ` +
      'WHERE backfill_id = :1 AND chunk_no = :2 FOR UPDATE',
  );
  assert.equal(
    q.markChunkDone(),
    `UPDATE ${C} SET status = 'done', rows_copied = :1, copies = copies + 1, done_at = SYSTIMESTAMP ` +
      "WHERE backfill_id = :2 AND chunk_no = :3 AND status = 'pending'",
  );
  assert.equal(
    q.insertRequest(),
    `INSERT INTO ${R} (request_id, backfill_id, pipeline, seq, source_schema, source_table, where_sql, keys_json, ` +
      'chunk_size, max_rows_per_second, estimated_rows) VALUES (:1, :2, :3, :4, :5, :6, :7, :8, :9, :10, :11)',
  );
  assert.equal(
    q.recordChunk(),
    `UPDATE ${R} SET last_key = NVL(:1, last_key), keys_done = :2, rows_copied = rows_copied + :3, ` +
      'rows_skipped = rows_skipped + :4, chunks_done = chunks_done + 1, status = :5, updated_at = SYSTIMESTAMP ' +
      "WHERE request_id = :6 AND status IN ('pending', 'running')",
  );
  assert.match(
    q.nextRequest(),
    /WHERE pipeline = :1 AND status IN \('pending', 'running'\) ORDER BY created_at, seq FETCH FIRST 1 ROWS ONLY$/,
  );
  const create = q.create();
  assert.equal(create.length, 4);
  for (const s of create)
    assert.match(
      s,
      /^BEGIN EXECUTE IMMEDIATE 'CREATE .*'; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 AND SQLCODE != -1408 THEN RAISE; END IF; END;$/,
    );
  assert.equal(
    create[0],
    `BEGIN EXECUTE IMMEDIATE 'CREATE TABLE "OTTERFLOW_BACKFILLS" (backfill_id VARCHAR2(191) PRIMARY KEY, ` +
      'pipeline VARCHAR2(64) NOT NULL, chunks NUMBER(10) NOT NULL, table_count NUMBER(10) NOT NULL, ' +
      'estimated_rows NUMBER(20) NOT NULL, binlog_file VARCHAR2(512), binlog_pos NUMBER(20) NOT NULL, gtid CLOB, ' +
      "planned_at TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL)'; EXCEPTION WHEN OTHERS THEN " +
      'IF SQLCODE != -955 AND SQLCODE != -1408 THEN RAISE; END IF; END;',
  );
  assert.equal(
    create[3],
    `BEGIN EXECUTE IMMEDIATE 'CREATE INDEX "OTTERFLOW_RESYNC_BY_PIPELINE" ON ${R} (pipeline, status, seq)'; ` +
      'EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 AND SQLCODE != -1408 THEN RAISE; END IF; END;',
  );
  assert.match(create[1]!, /CHECK \(status IN \(''pending'', ''done''\)\)/);
  assert.equal(new OracleBackfillSql('otterflow').chunks, `"OTTERFLOW".${C}`);
  assert.equal(new OracleBackfillSql('Repl Meta').requests, `"Repl Meta".${R}`);
  assert.equal(new OracleBackfillSql('meta', 'exact').backfills, '"meta"."OTTERFLOW_BACKFILLS"');
});

test('a plan is stored in one transaction: old chunks deleted, executeMany of at most 10,000 rows with typed binds, plan row, commit', async () => {
  const db = new RecordingOracleDatabase();
  const q = new OracleBackfillSql();
  const conn = db.connect();
  const chunks = Array.from({ length: 10_001 }, (_, i) => ({
    after: i === 0 ? undefined : [BigInt(i) * 10n],
    upTo: i === 10_000 ? undefined : [BigInt(i + 1) * 10n],
    estimatedRows: 10,
  }));
  const stored = await storeOraclePlan(
    conn,
    q,
    'p.initial-1',
    'p',
    [{ table: { schema: 'app', table: 'big' }, chunks } as never],
    100_010,
    { file: 'bin.000003', pos: 4, gtid: '0-1-9' },
  );
  assert.deepEqual(stored, { chunks: 10_001, tables: 1, estimatedRows: 100_010 });
  const calls = db.calls.map((c) => [c.method, c.sql]);
  assert.deepEqual(calls, [
    ['execute', q.deleteChunks()],
    ['executeMany', q.insertChunk()],
    ['executeMany', q.insertChunk()],
    ['execute', q.insertPlan()],
    ['commit', undefined],
  ]);
  const [first, second] = db.calls.filter((c) => c.method === 'executeMany');
  assert.equal((first!.binds as unknown[][]).length, 10_000);
  assert.equal((second!.binds as unknown[][]).length, 1);
  assert.deepEqual((first!.binds as unknown[][])[0], ['p.initial-1', 0, 'app', 'big', null, '[{"b":"10"}]']);
  assert.deepEqual((second!.binds as unknown[][])[0], [
    'p.initial-1',
    10_000,
    'app',
    'big',
    '[{"b":"100000"}]',
    null,
  ]);
  assert.deepEqual(first!.options, { bindDefs: CHUNK_BIND_DEFS, autoCommit: false });
  const plan = db.calls[3]!.binds as unknown[];
  assert.deepEqual(plan.slice(0, 7), ['p.initial-1', 'p', 10_001, 1, 100_010, 'bin.000003', 4]);
  assert.deepEqual(plan[7], { type: oracledb.DB_TYPE_CLOB, val: '0-1-9' });
});

test('a plan whose insert fails is rolled back, never committed', async () => {
  const db = new RecordingOracleDatabase();
  const q = new OracleBackfillSql();
  db.failWhen((c) => c.sql === q.insertPlan(), oracleError('ORA-01653', 'unable to extend table'));
  await assert.rejects(storeOraclePlan(db.connect(), q, 'b', 'p', [], 0, { file: 'f', pos: 1 }), /ORA-01653/);
  assert.deepEqual(
    db.calls.map((c) => c.method),
    ['execute', 'execute', 'rollback'],
  );
});

test("chunks and re-sync requests round trip: keys as JSON CLOBs, progress in the caller's transaction, fail commits", async () => {
  const db = new RecordingOracleDatabase();
  const tables = new RecordingBackfillTables();
  db.models.push(tables);
  const q = tables.sql;
  const a = db.connect();
  await ensureOracleBackfillTables(a, q);
  assert.deepEqual(
    db.calls.map((c) => c.sql),
    q.create(),
  );
  await storeOraclePlan(
    a,
    q,
    'b1',
    'p',
    [
      {
        table: { schema: 'app', table: 't' },
        chunks: [{ upTo: [5, Buffer.from('ff', 'hex')] }, { after: [5, Buffer.from('ff', 'hex')] }],
      } as never,
    ],
    9,
    { file: 'f', pos: 1 },
  );
  const chunk = await readOracleChunk(a, q, 'b1', 0);
  assert.deepEqual(chunk?.upTo, [5, Buffer.from('ff', 'hex')]);
  assert.equal(chunk?.after, undefined);
  assert.equal(chunk?.status, 'pending');

  await insertOracleResyncRequests(a, q, [
    {
      requestId: 'r1',
      backfillId: 'b2',
      pipeline: 'p',
      seq: 0,
      table: { schema: 'app', table: 't' },
      keysJson: '[[1],[2]]',
      chunkSize: 100,
      estimatedRows: 2,
    },
  ]);
  const insert = db.calls.find((c) => c.sql === q.insertRequest());
  assert.deepEqual(insert?.binds, [
    'r1',
    'b2',
    'p',
    0,
    'app',
    't',
    null,
    { type: oracledb.DB_TYPE_CLOB, val: '[[1],[2]]' },
    100,
    null,
    2,
  ]);
  // Inserting again leaves the request as it is.
  await insertOracleResyncRequests(a, q, [
    {
      requestId: 'r1',
      backfillId: 'b2',
      pipeline: 'p',
      seq: 0,
      table: { schema: 'app', table: 'other' },
      chunkSize: 1,
      estimatedRows: 0,
    },
  ]);

  assert.equal(tables.committed.requests.get('r1')?.table, 't', 'the existing request is left as it was');
  assert.equal(db.calls.at(-1)?.method, 'commit');
  const session = db.connect();
  const requests = new OracleResyncRequests(session, 'p', q);
  const next = await requests.next();
  assert.deepEqual(next, {
    requestId: 'r1',
    backfillId: 'b2',
    table: { schema: 'app', table: 't' },
    chunkSize: 100,
    status: 'pending',
    keysDone: 0,
    rowsCopied: 0,
    rowsSkipped: 0,
    chunksDone: 0,
    estimatedRows: 2,
    keysJson: '[[1],[2]]',
  });
  await requests.recordChunk({
    requestId: 'r1',
    lastKey: '[2]',
    keysDone: 2,
    rows: 2,
    skipped: 0,
    finished: true,
  });
  const record = db.calls.at(-1)!;
  assert.deepEqual(record.binds, [{ type: oracledb.DB_TYPE_CLOB, val: '[2]' }, 2, 2, 0, 'done', 'r1']);
  // Not committed: another connection still sees the request pending; a rollback drops the progress.
  assert.equal(tables.committed.requests.get('r1')?.status, 'pending');
  await session.rollback();
  assert.equal((await requests.next())?.status, 'pending');
  await requests.recordChunk({ requestId: 'r1', keysDone: 1, rows: 1, skipped: 1, finished: false });
  await session.commit();
  assert.equal(tables.committed.requests.get('r1')?.status, 'running');
  await requests.fail('r1', 'table app.t is gone');
  const failed = db.calls.slice(-2);
  assert.deepEqual(
    failed.map((c) => c.method),
    ['execute', 'commit'],
  );
  assert.deepEqual(failed[0]!.binds, [{ type: oracledb.DB_TYPE_CLOB, val: 'table app.t is gone' }, 'r1']);
  assert.equal(await requests.next(), undefined);
});

test('Oracle keeps secondary indexes during a load and says so per table', () => {
  assert.deepEqual(oracleKeepsIndexes([{ schema: 'app', table: 't' }]), {
    tables: [],
    kept: ['app.t: Oracle targets keep their secondary indexes during the load (not deferred)'],
  });
});
