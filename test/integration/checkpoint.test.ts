import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  claimCheckpoint,
  fenceBatch,
  readCheckpoint,
  StaleEpochError,
  writeCheckpoint,
} from '../../src/connectors/mysql/checkpoint';
import { connectTo, freshDatabases, uniqueName } from '../helpers/stack';

test('a newer claim fences out an older attempt: the stale batch cannot commit, the newer one resumes after it', async (t) => {
  const db = await freshDatabases(t, 'ckpt');
  const pipeline = uniqueName('p');
  const a = await connectTo('target');
  const b = await connectTo('target');
  t.after(async () => {
    await a.end();
    await b.end();
  });
  await db.target.query('CREATE TABLE rows_applied (id INT PRIMARY KEY)');

  const first = await claimCheckpoint(a, pipeline, async () => ({ file: 'mysql-bin.000001', pos: 4 }));
  assert.deepEqual(first, { epoch: 1, position: { file: 'mysql-bin.000001', pos: 4 }, created: true });

  // Attempt A commits one batch with epoch 1.
  await a.query('START TRANSACTION');
  await fenceBatch(a, pipeline, 1);
  await a.query(`INSERT INTO \`${db.name}\`.rows_applied VALUES (1)`);
  await writeCheckpoint(a, pipeline, 1, { file: 'mysql-bin.000001', pos: 500, gtid: '0-101-7' });
  await a.query('COMMIT');

  // Attempt B (a retry on another worker) claims epoch 2 and sees A's committed position.
  const second = await claimCheckpoint(b, pipeline, async () => assert.fail('must not be called again'));
  assert.equal(second.epoch, 2);
  assert.deepEqual(second.position, { file: 'mysql-bin.000001', pos: 500, gtid: '0-101-7' });

  // A wakes up and tries another batch: fenced, nothing written.
  await a.query('START TRANSACTION');
  await assert.rejects(fenceBatch(a, pipeline, 1), StaleEpochError);
  await a.query('ROLLBACK');
  assert.deepEqual(await readCheckpoint(b, pipeline), {
    file: 'mysql-bin.000001',
    pos: 500,
    gtid: '0-101-7',
  });
});

test('a claim waits for an in-flight batch of the older epoch and then reads what it committed', async (t) => {
  await freshDatabases(t, 'ckpt');
  const pipeline = uniqueName('p');
  const a = await connectTo('target');
  const b = await connectTo('target');
  t.after(async () => {
    await a.end();
    await b.end();
  });
  await claimCheckpoint(a, pipeline, async () => ({ file: 'f.000001', pos: 4 }));
  await a.query('START TRANSACTION');
  await fenceBatch(a, pipeline, 1); // holds the checkpoint row lock
  const claim = claimCheckpoint(b, pipeline, async () => ({ file: 'never', pos: 0 }));
  await new Promise((r) => setTimeout(r, 300));
  await writeCheckpoint(a, pipeline, 1, { file: 'f.000001', pos: 900 });
  await a.query('COMMIT');
  const c = await claim;
  assert.equal(c.epoch, 2);
  assert.deepEqual(c.position, { file: 'f.000001', pos: 900 });
});
