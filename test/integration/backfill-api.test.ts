import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { type ApiHarness, eventually, registerStackDatasources, withApi } from '../helpers/api-stack';
import { freshDatabases, uniqueName } from '../helpers/stack';

const run = promisify(execFile);

/** A table `table` (same DDL on both sides, `rows` rows on the source) and a pipeline over it, created through the API. */
async function tableAndPipeline(
  h: ApiHarness,
  db: { name: string; source: mysql.Connection; target: mysql.Connection },
  table: string,
  ddl: string,
  fill: string,
): Promise<string> {
  await db.source.query(ddl);
  await db.target.query(ddl);
  await db.source.query(fill);
  const ds = await registerStackDatasources(h);
  const name = uniqueName('p');
  const created = await h.call('POST', '/v1/pipelines', {
    name,
    source: ds.source,
    target: ds.target,
    mappings: [{ source: { schema: db.name, table } }],
  });
  assert.equal(created.status, 201, created.text);
  return name;
}

/** `otterflow backfill …` against the test API. */
function backfillCli(h: ApiHarness) {
  return (...args: string[]) =>
    run(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), 'backfill', ...args], {
      env: { ...process.env, OTTERFLOW_API_URL: h.url, OTTERFLOW_TOKEN: h.adminToken },
    });
}

test('backfills over HTTP and the CLI: start a resync, watch progress, list, cancel; a bad WHERE is a 422 (it names a column the source table lacks) and starts nothing', async (t) => {
  const db = await freshDatabases(t, 'bfa');
  await withApi(async (h) => {
    const name = await tableAndPipeline(
      h,
      db,
      'a',
      'CREATE TABLE a (id INT PRIMARY KEY, v INT)',
      'INSERT INTO a SELECT seq, seq FROM seq_1_to_3000',
    );
    assert.equal((await h.call('POST', `/v1/pipelines/${name}/start`)).status, 202);

    const bad = await h.call('POST', `/v1/pipelines/${name}/backfills`, {
      tables: [`${db.name}.a`],
      where: 'nope = 1',
    });
    assert.equal(bad.status, 422, bad.text);
    assert.match(bad.body.detail, /invalid WHERE condition.*Unknown column 'nope'/);
    const misplaced = await h.call('POST', `/v1/pipelines/${name}/backfills`, {
      tables: [`${db.name}.a`],
      secondaryIndexes: 'keep',
    });
    assert.equal(misplaced.status, 400, misplaced.text);
    assert.match(misplaced.text, /secondaryIndexes/);
    const unknown = await h.call('POST', `/v1/pipelines/${name}/backfills`, {
      kind: 'initial',
      secondaryIndexes: 'drop',
    });
    assert.equal(unknown.status, 400, unknown.text);
    assert.match(unknown.text, /secondaryIndexes/);
    const none = await h.call('GET', `/v1/pipelines/${name}/backfills`);
    assert.deepEqual(none.body, [], 'nothing was started');

    const cli = backfillCli(h);
    const started = JSON.parse(
      (
        await cli(
          'start',
          name,
          '--table',
          `${db.name}.a`,
          '--where',
          'v > 1000',
          '--chunk-size',
          '500',
          '--json',
        )
      ).stdout,
    );
    assert.match(started.id, new RegExp(`^${name}\\.resync-`));
    const done = await eventually('the resync to finish', async () => {
      const r = await h.call('GET', `/v1/backfills/${started.id}`);
      return r.body.workflowStatus === 'COMPLETED' ? r.body : undefined;
    });
    assert.equal(done.progress.state, 'done');
    assert.equal(done.progress.rowsCopied, 2000);
    const [rows] = await db.target.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n, MIN(id) AS lo FROM a');
    assert.deepEqual([Number(rows[0]?.n), Number(rows[0]?.lo)], [2000, 1001]);
    const status = (await cli('status', started.id)).stdout;
    assert.match(status, /rows\s+2000 of/);
    assert.match((await cli('status', name)).stdout, new RegExp(started.id.replace('.', '\\.')));

    // A throttled one, cancelled.
    const slow = await h.call('POST', `/v1/pipelines/${name}/backfills`, {
      tables: [`${db.name}.a`],
      chunkSize: 100,
      maxRowsPerSecond: 200,
    });
    assert.equal(slow.status, 202, slow.text);
    await eventually('a chunk of the throttled resync', async () => {
      const r = await h.call('GET', `/v1/backfills/${slow.body.id}`);
      return r.body.progress?.rowsCopied > 0 ? r.body : undefined;
    });
    assert.equal(
      (await cli('cancel', slow.body.id)).stdout.trim(),
      `backfill ${slow.body.id}: cancel requested`,
    );
    const cancelled = await eventually('the cancel', async () => {
      const r = await h.call('GET', `/v1/backfills/${slow.body.id}`);
      return r.body.workflowStatus === 'CANCELED' || r.body.workflowStatus === 'CANCELLED'
        ? r.body
        : undefined;
    });
    assert.ok(cancelled);
    const [req] = await db.target.query<mysql.RowDataPacket[]>(
      'SELECT status FROM otterflow.resync_requests WHERE backfill_id = ?',
      [slow.body.id],
    );
    assert.equal(req[0]?.status, 'cancelled');
    assert.equal((await h.call('POST', `/v1/pipelines/${name}/stop`)).status, 200);
  });
});

test('initial loads from the CLI: secondary indexes deferred by default and shown by status, --keep-indexes keeps them', async (t) => {
  const db = await freshDatabases(t, 'bfl');
  await withApi(async (h) => {
    const name = await tableAndPipeline(
      h,
      db,
      'b',
      'CREATE TABLE b (id INT PRIMARY KEY, v INT, KEY by_v (v))',
      'INSERT INTO b SELECT seq, seq % 7 FROM seq_1_to_2000',
    );
    const cli = backfillCli(h);
    const load = async (...flags: string[]) => {
      const started = JSON.parse((await cli('start', name, '--initial', ...flags, '--json')).stdout);
      await eventually('the initial load to finish', async () => {
        const r = await h.call('GET', `/v1/backfills/${started.id}`);
        return r.body.workflowStatus === 'COMPLETED' ? r.body : undefined;
      });
      return (await cli('status', started.id)).stdout;
    };
    const deferred = await load();
    assert.match(deferred, /rows\s+2000 of/);
    assert.match(deferred, /indexes\s+1 of 1 deferred secondary indexes rebuilt/);
    const kept = await load('--keep-indexes');
    assert.match(kept, /kept\s+all tables: secondaryIndexes is keep/);
    assert.doesNotMatch(kept, /indexes\s+\d+ of/);
  });
  const [rows] = await db.target.query<mysql.RowDataPacket[]>('SHOW CREATE TABLE b');
  assert.match(String(rows[0]?.['Create Table']), /KEY `by_v` \(`v`\)/);
});
