import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { eventually, expectStatus, registerStackDatasources, withApi } from '../helpers/api-stack';
import { itemsChannelPipeline, metricOf, rowsOf } from '../helpers/bidi';
import { waitFor } from '../helpers/pipeline';
import { freshDatabases, uniqueName } from '../helpers/stack';

// Sites A ("src", the test stack's source) and B ("dst", its target); pipelines ab (A → B) and ba
// (B → A) on one channel, both running. The same key is inserted on both sites with different values
// in two transactions committed at the same time: each pipeline finds the other site's row on its
// target — an insert conflict — and both sites end with one row, chosen by lastWriterWins on ts (a tie
// going to site priority, ab 2 over ba 1).

type Conflict = {
  op: string;
  key: Record<string, string>;
  policy: string;
  resolution: string;
  reason: string;
  sourceBefore: unknown;
  sourceAfter: Record<string, string | null> | null;
  targetRow: Record<string, string | null> | null;
};

test('INSERT-INSERT conflicts: the same key inserted on both sites converges and is recorded on each side', async (t) => {
  const db = await freshDatabases(t, 'bidii');
  const ddl = 'CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(50), ts BIGINT)';
  await db.source.query(ddl);
  await db.target.query(ddl);
  const A = db.source;
  const B = db.target;
  const channel = uniqueName('ch');
  const ab = uniqueName('ab');
  const ba = uniqueName('ba');

  await withApi(async (h) => {
    await registerStackDatasources(h, { source: 'src', target: 'dst' });
    const startA = await readServerBinlogState(A);
    const startB = await readServerBinlogState(B);
    const conflict = (sitePriority: number) => ({ policy: 'lastWriterWins', column: 'ts', sitePriority });
    const ok = expectStatus(h);
    await ok(
      'POST',
      '/v1/pipelines',
      itemsChannelPipeline(db.name, channel, ab, 'src', 'dst', startA, conflict(2)),
      201,
    );
    await ok(
      'POST',
      '/v1/pipelines',
      itemsChannelPipeline(db.name, channel, ba, 'dst', 'src', startB, conflict(1)),
      201,
    );
    await ok('POST', `/v1/pipelines/${ab}/start`, undefined, 202);
    await ok('POST', `/v1/pipelines/${ba}/start`, undefined, 202);
    const conflictsOf = async (name: string) =>
      (await ok('GET', `/v1/pipelines/${name}/conflicts?limit=100`)) as {
        total: number;
        conflicts: Conflict[];
      };
    try {
      await registered(B, channel, ab, 2);
      await registered(A, channel, ba, 1);
      // The channel works before the conflicts: a row from each side.
      await A.query(`INSERT INTO items VALUES (10, 'from A', 0)`);
      await B.query(`INSERT INTO items VALUES (20, 'from B', 0)`);
      await bothSites(A, B, db.name, ['10:from A:0', '20:from B:0']);

      const both = async (onA: string, onB: string, want: string[]) => {
        // Both inserts are made before either commits: each pipeline then finds the other site's row.
        await A.query('START TRANSACTION');
        await A.query(onA);
        await B.query('START TRANSACTION');
        await B.query(onB);
        await Promise.all([A.query('COMMIT'), B.query('COMMIT')]);
        await bothSites(A, B, db.name, want);
      };
      // 1. B's row is newer (ts 200 > 100): B's everywhere.
      await both(`INSERT INTO items VALUES (1, 'a1', 100)`, `INSERT INTO items VALUES (1, 'b1', 200)`, [
        '1:b1:200',
        '10:from A:0',
        '20:from B:0',
      ]);
      // 2. Equal ts: site priority, A's pipeline (2) over B's (1): A's everywhere.
      await both(`INSERT INTO items VALUES (2, 'a2', 300)`, `INSERT INTO items VALUES (2, 'b2', 300)`, [
        '1:b1:200',
        '2:a2:300',
        '10:from A:0',
        '20:from B:0',
      ]);
      // 3. The same row inserted on both sites is no conflict.
      await both(`INSERT INTO items VALUES (3, 'same', 400)`, `INSERT INTO items VALUES (3, 'same', 400)`, [
        '1:b1:200',
        '2:a2:300',
        '3:same:400',
        '10:from A:0',
        '20:from B:0',
      ]);
      // The records commit with the batches that applied or skipped the rows, on each target.
      const onB = await eventually('2 conflicts of ab', async () => {
        const c = await conflictsOf(ab);
        return c.total >= 2 ? c : undefined;
      });
      const onA = await eventually('2 conflicts of ba', async () => {
        const c = await conflictsOf(ba);
        return c.total >= 2 ? c : undefined;
      });
      assert.equal(onB.total, 2, JSON.stringify(onB));
      assert.equal(onA.total, 2, JSON.stringify(onA));
      // Newest first. On B, ab met B's rows; on A, ba met A's rows.
      assert.deepEqual(
        onB.conflicts.map((c) => [c.op, c.key.id, c.resolution]),
        [
          ['insert', '2', 'applied'],
          ['insert', '1', 'skipped'],
        ],
      );
      assert.deepEqual(
        onA.conflicts.map((c) => [c.op, c.key.id, c.resolution]),
        [
          ['insert', '2', 'skipped'],
          ['insert', '1', 'applied'],
        ],
      );
      const first = onB.conflicts[1]!;
      assert.equal(first.sourceBefore, null, 'an insert has no before image');
      assert.deepEqual(first.sourceAfter, { id: '1', v: 'a1', ts: '100' });
      assert.deepEqual(first.targetRow, { id: '1', v: 'b1', ts: '200' });
      assert.equal(first.policy, 'lastWriterWins');
      assert.match(first.reason, /ts: source 100 < target 200/);
      assert.match(onB.conflicts[0]?.reason ?? '', /ts equal .*site priority 2 vs 1/);
      assert.equal(await metricOf('otterflow_conflicts_total', ab), 2);
      assert.equal(await metricOf('otterflow_conflicts_total', ba), 2);

      // The CLI lists them through the API.
      const cli = await promisify(execFile)(
        process.execPath,
        [path.join(__dirname, '..', '..', 'bin', 'otterflow.js'), 'pipeline', 'conflicts', ba],
        { env: { ...process.env, OTTERFLOW_API_URL: h.url, OTTERFLOW_TOKEN: h.readonlyToken } },
      );
      assert.match(cli.stdout, new RegExp(`pipeline ${ba}: 2 conflict\\(s\\) recorded on src`));
      assert.match(cli.stdout, /insert\s+id=2\s+skipped/);
    } finally {
      await h.call('POST', `/v1/pipelines/${ab}/stop`);
      await h.call('POST', `/v1/pipelines/${ba}/stop`);
    }
  });
});

async function bothSites(
  a: mysql.Connection,
  b: mysql.Connection,
  db: string,
  want: string[],
): Promise<void> {
  await waitFor(
    `${db}.items to be ${JSON.stringify(want)} on both sites`,
    async () => {
      const [ra, rb] = await Promise.all([rowsOf(a, db), rowsOf(b, db)]);
      return JSON.stringify(ra) === JSON.stringify(want) && JSON.stringify(rb) === JSON.stringify(want);
    },
    60_000,
    async () => `A: ${JSON.stringify(await rowsOf(a, db))} B: ${JSON.stringify(await rowsOf(b, db))}`,
  );
}

/** Waits until `pipeline` registered `priority` in the mark table of the server it writes to. */
async function registered(conn: mysql.Connection, channel: string, pipeline: string, priority: number) {
  await waitFor(`${pipeline} to register site priority ${priority}`, async () => {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT site_priority FROM otterflow.marks WHERE channel = ? AND pipeline = ?',
      [channel, pipeline],
    );
    return rows[0] !== undefined && Number(rows[0].site_priority) === priority;
  });
}
