import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type mysql from 'mysql2/promise';
import { type BackfillInput, type BackfillStatus, backfillStatusQuery } from '../../src/backfill/contract';
import { projectRoot, temporalAddress } from '../../src/config/stack';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { dumpTable, startBackfill, waitFor } from '../helpers/pipeline';
import { privatePort } from '../helpers/ports';
import { freshDatabases, testStack, uniqueName, withWorker } from '../helpers/stack';

/** A worker as its own OS process (`node bin/otterflow.js worker`), so that SIGKILL is a real crash. */
async function startWorkerProcess(taskQueue: string, metricsPort: number): Promise<ChildProcess> {
  const dir = path.join(projectRoot, '.otterflow', 'scratch', 'backfill');
  fs.mkdirSync(dir, { recursive: true });
  const log = fs.openSync(path.join(dir, `worker-${metricsPort}.log`), 'w');
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), 'worker'], {
    env: { ...process.env, OTTERFLOW_TASK_QUEUE: taskQueue, OTTERFLOW_METRICS_PORT: String(metricsPort) },
    stdio: ['ignore', log, log],
  });
  await waitFor(
    `worker on metrics port ${metricsPort}`,
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(metricsPort, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    60_000,
  );
  return child;
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function chunkRows(target: mysql.Connection, id: string) {
  const [rows] = await target.query<mysql.RowDataPacket[]>(
    `SELECT chunk_no, status, copies, rows_copied, CAST(done_at AS CHAR) AS done_at
       FROM otterflow.backfill_chunks WHERE backfill_id = ? ORDER BY chunk_no`,
    [id],
  );
  return rows.map((r) => ({
    no: Number(r.chunk_no),
    done: r.status === 'done',
    copies: Number(r.copies),
    rows: Number(r.rows_copied),
    doneAt: r.done_at === null ? null : String(r.done_at),
  }));
}

async function showCreate(conn: mysql.Connection, table: string): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SHOW CREATE TABLE \`${table}\``);
  return String(rows[0]?.['Create Table']);
}

async function client(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: temporalAddress(testStack()) });
  return {
    client: new Client({ connection, namespace: testStack().namespace }),
    close: () => connection.close(),
  };
}

async function bigTable(
  db: { source: mysql.Connection; target: mysql.Connection },
  rows: number,
): Promise<void> {
  const ddl = `CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(40), n DECIMAL(10,2), KEY by_v (v))`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  await db.source.query(`INSERT INTO t SELECT seq, CONCAT('v', seq), seq / 4 FROM seq_1_to_${rows}`);
}

test('a worker killed in the middle of a backfill: the next worker resumes, chunks already done are left alone', async (t) => {
  const db = await freshDatabases(t, 'bfk');
  await bigTable(db, 40_000);
  const config = parsePipelineConfig({
    name: uniqueName('p'),
    source: 'source',
    target: 'target',
    mappings: [{ source: { schema: db.name, table: 't' } }],
  });
  const id = uniqueName('load');
  const taskQueue = uniqueName('tq');
  const { client: c, close } = await client();
  t.after(close);
  let worker = await startWorkerProcess(taskQueue, privatePort(911));
  t.after(() => kill9(worker));
  const input: BackfillInput = {
    id,
    kind: 'initial',
    config,
    chunkSize: 1000,
    parallelism: 2,
    maxRowsPerSecond: 4000,
  };
  const handle = await startBackfill(c, taskQueue, input);
  await waitFor(
    'some chunks done',
    async () => (await chunkRows(db.target, id)).filter((x) => x.done).length >= 6,
    60_000,
  );
  await kill9(worker);
  const before = await chunkRows(db.target, id);
  const doneBefore = before.filter((x) => x.done);
  assert.ok(
    doneBefore.length >= 6 && doneBefore.length < before.length,
    `done ${doneBefore.length} of ${before.length}`,
  );
  // Nothing moves without a worker: the chunks in flight were rolled back with the dead connections.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await chunkRows(db.target, id)).filter((x) => x.done).length, doneBefore.length);

  worker = await startWorkerProcess(taskQueue, privatePort(912));
  const result = (await handle.result()) as BackfillStatus;
  assert.equal(result.state, 'done');
  const after = await chunkRows(db.target, id);
  assert.equal(after.length, 41, '40 full chunks + the open-ended last one');
  assert.ok(after.every((x) => x.done));
  // Every chunk was copied exactly once: done ones were not copied again, none was half-copied.
  assert.deepEqual(
    after.filter((x) => x.copies !== 1).map((x) => x.no),
    [],
  );
  for (const b of doneBefore) assert.equal(after[b.no]?.doneAt, b.doneAt, `chunk ${b.no} untouched`);
  assert.equal(
    after.reduce((n, x) => n + x.rows, 0),
    40_000,
  );
  assert.deepEqual(await dumpTable(db.target, db.name, 't'), await dumpTable(db.source, db.name, 't'));
  // Its secondary index, off during the load, is back.
  assert.equal(await showCreate(db.target, 't'), await showCreate(db.source, 't'));
});

test('cancelling a backfill stops it cleanly: no chunk is left half-copied and nothing more is copied', async (t) => {
  const db = await freshDatabases(t, 'bfc');
  await bigTable(db, 20_000);
  const config = parsePipelineConfig({
    name: uniqueName('p'),
    source: 'source',
    target: 'target',
    mappings: [{ source: { schema: db.name, table: 't' } }],
  });
  const id = uniqueName('load');
  await withWorker(async ({ client: c, taskQueue }) => {
    const handle = await startBackfill(c, taskQueue, {
      id,
      kind: 'initial',
      config,
      chunkSize: 500,
      parallelism: 2,
      maxRowsPerSecond: 2000,
    });
    await waitFor(
      'two chunks done',
      async () => (await chunkRows(db.target, id)).filter((x) => x.done).length >= 2,
    );
    const live = await handle.query(backfillStatusQuery);
    assert.equal(live.state, 'copying');
    assert.equal(live.chunksTotal, 41);
    assert.ok(live.estimatedRows > 0);
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    const stopped = await chunkRows(db.target, id);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await chunkRows(db.target, id), stopped, 'nothing copied after the cancel');
    const done = stopped.filter((x) => x.done);
    assert.ok(done.length < stopped.length, 'cancelled before the end');
    const [[n]] = await db.target.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM t');
    assert.equal(
      Number(n?.n),
      done.reduce((s, x) => s + x.rows, 0),
      'target holds exactly the done chunks',
    );
    assert.equal(
      await showCreate(db.target, 't'),
      await showCreate(db.source, 't'),
      'index back after the cancel',
    );
  });
});
