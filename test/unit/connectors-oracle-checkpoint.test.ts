import assert from 'node:assert/strict';
import { test } from 'node:test';
import oracledb from 'oracledb';
import { OracleCheckpoint, OracleCheckpointSql } from '../../src/connectors/oracle/checkpoint';
import { StaleEpochError } from '../../src/connectors/target';
import { oracleError, RecordingOracleDatabase } from '../helpers/recording-oracle';

const T = '"OTTERFLOW_CHECKPOINTS"';

test('checkpoint SQL (golden): idempotent create, claim, fence with and without position, write', () => {
  const q = new OracleCheckpointSql();
  assert.equal(
    q.create(),
    `BEGIN EXECUTE IMMEDIATE 'CREATE TABLE ${T} (pipeline VARCHAR2(64) PRIMARY KEY, epoch NUMBER(20) NOT NULL, ` +
      'binlog_file VARCHAR2(512), binlog_pos NUMBER(20) NOT NULL, gtid CLOB, batch_seq NUMBER(20) DEFAULT 0 NOT NULL, ' +
      "updated_at TIMESTAMP(6) DEFAULT SYSTIMESTAMP NOT NULL)'; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 THEN RAISE; END IF; END;",
  );
  assert.equal(
    q.selectForUpdate(),
    `SELECT epoch, binlog_file, binlog_pos, gtid FROM ${T} WHERE pipeline = :1 FOR UPDATE`,
  );
  assert.equal(q.bumpEpoch(), `UPDATE ${T} SET epoch = :1, updated_at = SYSTIMESTAMP WHERE pipeline = :2`);
  assert.equal(
    q.fence(false),
    `UPDATE ${T} SET batch_seq = batch_seq + 1, updated_at = SYSTIMESTAMP WHERE pipeline = :1 AND epoch = :2`,
  );
  assert.equal(
    q.fence(true),
    `UPDATE ${T} SET batch_seq = batch_seq + 1, binlog_file = :1, binlog_pos = :2, gtid = :3, updated_at = SYSTIMESTAMP ` +
      'WHERE pipeline = :4 AND epoch = :5',
  );
  assert.equal(
    q.write(),
    `UPDATE ${T} SET binlog_file = :1, binlog_pos = :2, gtid = :3, updated_at = SYSTIMESTAMP WHERE pipeline = :4 AND epoch = :5`,
  );
  assert.equal(new OracleCheckpointSql('otterflow').table, `"OTTERFLOW".${T}`);
  assert.equal(new OracleCheckpointSql('Repl Meta').table, `"Repl Meta".${T}`);
});

test('first claim creates the row at the initial position (epoch 1); the next claim bumps the epoch', async () => {
  const db = new RecordingOracleDatabase();
  const cp = new OracleCheckpoint(db.connect(), 'p1');
  let asked = 0;
  const c1 = await cp.claim(async () => {
    asked++;
    return { file: 'bin.000001', pos: 4 };
  });
  assert.deepEqual(c1, { epoch: 1, position: { file: 'bin.000001', pos: 4 }, created: true });
  assert.equal(asked, 1);
  assert.deepEqual(
    db.calls.map((c) => [c.method, c.sql?.split(' ').slice(0, 2).join(' '), c.binds]),
    [
      ['execute', 'BEGIN EXECUTE', []],
      ['execute', 'SELECT epoch,', ['p1']],
      ['rollback', undefined, undefined],
      ['execute', 'INSERT INTO', ['p1', 'bin.000001', 4, null]],
      ['commit', undefined, undefined],
    ],
  );
  const c2 = await new OracleCheckpoint(db.connect(), 'p1').claim(async () => assert.fail('not asked again'));
  assert.deepEqual(c2, { epoch: 2, position: { file: 'bin.000001', pos: 4 }, created: false });
  assert.deepEqual(db.calls.at(-2)?.binds, [2, 'p1']);
  assert.equal(db.calls.at(-1)?.method, 'commit');
});

test('the fence of a superseded epoch fails; position writes bind file, pos and GTID as a CLOB', async () => {
  const db = new RecordingOracleDatabase();
  const old = new OracleCheckpoint(db.connect(), 'p');
  await old.claim(async () => ({ file: '', pos: 0, gtid: '0-1-10' })); // GTID-only start
  const conn2 = db.connect();
  const fresh = new OracleCheckpoint(conn2, 'p');
  const claim = await fresh.claim(async () => assert.fail());
  assert.deepEqual(claim.position, { file: '', pos: 0, gtid: '0-1-10' }); // '' came back from NULL
  await assert.rejects(old.fence(1), StaleEpochError);
  await fresh.fence(2, { file: 'bin.000002', pos: 120, gtid: '0-1-11' });
  const fence = db.calls.at(-1)!;
  assert.deepEqual(fence.binds, ['bin.000002', 120, { type: oracledb.DB_TYPE_CLOB, val: '0-1-11' }, 'p', 2]);
  // Uncommitted: another connection still reads the old position; after COMMIT it reads the new one.
  assert.deepEqual(await new OracleCheckpoint(db.connect(), 'p').read(), {
    file: '',
    pos: 0,
    gtid: '0-1-10',
  });
  await conn2.commit();
  assert.deepEqual(await new OracleCheckpoint(db.connect(), 'p').read(), {
    file: 'bin.000002',
    pos: 120,
    gtid: '0-1-11',
  });
  await fresh.fence(2);
  await fresh.write(2, { file: 'bin.000002', pos: 500 });
  assert.deepEqual(db.calls.at(-1)?.binds, ['bin.000002', 500, null, 'p', 2]);
  await conn2.rollback();
  assert.equal((await new OracleCheckpoint(db.connect(), 'p').read())?.pos, 120);
});

test("a concurrent first claim that loses the INSERT race reads the winner's row; failures roll back", async () => {
  const db = new RecordingOracleDatabase();
  const a = new OracleCheckpoint(db.connect(), 'p');
  const b = new OracleCheckpoint(db.connect(), 'p');
  // b's initial position is asked while a creates the row: b's INSERT then hits ORA-00001.
  const claimB = b.claim(async () => {
    await a.claim(async () => ({ file: 'f', pos: 1 }));
    return { file: 'f', pos: 99 };
  });
  assert.deepEqual(await claimB, { epoch: 2, position: { file: 'f', pos: 1 }, created: false });
  const c = new OracleCheckpoint(db.connect(), 'p');
  db.failWhen((call) => call.sql?.startsWith('UPDATE') === true, oracleError('ORA-03113'));
  await assert.rejects(
    c.claim(async () => assert.fail()),
    /ORA-03113/,
  );
  assert.equal(db.calls.at(-1)?.method, 'rollback');
  assert.equal(db.checkpoints.get('p')?.epoch, 2);
});

test('the recording connection fails at the Nth call and rejects single rows through batchErrors', async () => {
  const db = new RecordingOracleDatabase();
  const conn = db.connect();
  db.failAt(2);
  await conn.execute('SELECT 1 FROM dual');
  await assert.rejects(conn.execute('SELECT 2 FROM dual'), /ORA-03113/);
  assert.equal(db.calls[1]?.failed, true);
  db.rejectRow((c) => c.sql === 'INSERT x', 1, oracleError('ORA-12899', 'value too large'));
  const r = await conn.executeMany('INSERT x', [[1], [2], [3]], { batchErrors: true });
  assert.deepEqual(r.dmlRowCounts, [1, 0, 1]);
  assert.equal(r.batchErrors?.[0]?.offset, 1);
  assert.deepEqual(db.calls.at(-1)?.options, { batchErrors: true });
  await conn.close();
  await assert.rejects(conn.execute('SELECT 3 FROM dual'), /ORA-03114/);
});
