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
// (B → A) on one channel, driven through the REST API. Each round changes the same row on both sites
// while ba is paused: ab meets B's change (a conflict on B), then ba, resumed, meets A's (on A).

type Conflict = { policy?: string; column?: string; sitePriority?: number };

test('write conflicts: detected on both sites, resolved by each policy, recorded and listed by the API', async (t) => {
  const db = await freshDatabases(t, 'bidic');
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
    const abConfig = (c: Conflict) => itemsChannelPipeline(db.name, channel, ab, 'src', 'dst', startA, c);
    const baConfig = (c: Conflict) => itemsChannelPipeline(db.name, channel, ba, 'dst', 'src', startB, c);
    const ok = expectStatus(h);
    const lww = { policy: 'lastWriterWins', column: 'ts' };
    await ok('POST', '/v1/pipelines', abConfig(lww), 201);
    await ok('POST', '/v1/pipelines', baConfig(lww), 201);
    await ok('POST', `/v1/pipelines/${ab}/start`, undefined, 202);
    await ok('POST', `/v1/pipelines/${ba}/start`, undefined, 202);
    try {
      await A.query(
        `INSERT INTO items VALUES (1, 'orig', 0), (2, 'orig', 0), (3, 'orig', 0), (4, 'orig', 0)`,
      );
      await converged(A, B, db.name, ['1:orig:0', '2:orig:0', '3:orig:0', '4:orig:0']);

      const conflictsOf = async (name: string) =>
        (await ok('GET', `/v1/pipelines/${name}/conflicts?limit=100`)) as {
          total: number;
          conflicts: Array<Record<string, unknown> & { resolution: string; op: string; reason: string }>;
        };
      const round = async (
        abConflict: Conflict,
        baConflict: Conflict,
        onB: string,
        onA: string,
        want: string,
        id: number,
      ) => {
        await ok('PUT', `/v1/pipelines/${ab}`, abConfig(abConflict));
        await ok('PUT', `/v1/pipelines/${ba}`, baConfig(baConflict));
        // Both restarted with their new configuration: each registered its site priority on its target.
        await registered(B, channel, ab, abConflict.sitePriority ?? 0);
        await registered(A, channel, ba, baConflict.sitePriority ?? 0);
        const before = { ab: (await conflictsOf(ab)).total, ba: (await conflictsOf(ba)).total };
        await ok('POST', `/v1/pipelines/${ba}/pause`);
        await B.query(onB);
        await A.query(onA);
        await eventually(`a conflict of ${ab}`, async () =>
          (await conflictsOf(ab)).total > before.ab ? true : undefined,
        );
        await ok('POST', `/v1/pipelines/${ba}/resume`);
        await eventually(`a conflict of ${ba}`, async () =>
          (await conflictsOf(ba)).total > before.ba ? true : undefined,
        );
        await waitFor(`row ${id} to be ${want} on both sites`, async () => {
          const [ra, rb] = await Promise.all([rowsOf(A, db.name), rowsOf(B, db.name)]);
          const pick = (rows: string[]) => rows.find((r) => r.startsWith(`${id}:`)) ?? 'gone';
          return pick(ra) === want && pick(rb) === want;
        });
      };

      // 1. lastWriterWins on ts: B's write (ts 200) is newer than A's (ts 100) → B's row everywhere.
      await round(
        lww,
        lww,
        `UPDATE items SET v='b1', ts=200 WHERE id=1`,
        `UPDATE items SET v='a1', ts=100 WHERE id=1`,
        '1:b1:200',
        1,
      );
      // 2. sitePriority: ab (A's site) 2 over ba (B's site) 1 → A's row everywhere.
      await round(
        { policy: 'sitePriority', sitePriority: 2 },
        { policy: 'sitePriority', sitePriority: 1 },
        `UPDATE items SET v='b2', ts=200 WHERE id=2`,
        `UPDATE items SET v='a2', ts=100 WHERE id=2`,
        '2:a2:100',
        2,
      );
      // 3. ab sourceWins, ba targetWins: A wins in both directions.
      await round(
        { policy: 'sourceWins' },
        { policy: 'targetWins' },
        `UPDATE items SET v='b3', ts=200 WHERE id=3`,
        `UPDATE items SET v='a3', ts=100 WHERE id=3`,
        '3:a3:100',
        3,
      );
      // 4. DELETE on A against UPDATE on B, B's site first: ab keeps B's row, ba re-creates it on A.
      await round(
        { policy: 'sitePriority', sitePriority: 1 },
        { policy: 'sitePriority', sitePriority: 2 },
        `UPDATE items SET v='b4', ts=200 WHERE id=4`,
        'DELETE FROM items WHERE id=4',
        '4:b4:200',
        4,
      );
      assert.deepEqual(await rowsOf(A, db.name), await rowsOf(B, db.name));

      // Listed newest first, with what each side saw and decided.
      const onB = await conflictsOf(ab);
      const onA = await conflictsOf(ba);
      assert.equal(onB.total, 4, JSON.stringify(onB));
      assert.equal(onA.total, 4, JSON.stringify(onA));
      assert.deepEqual(
        onB.conflicts.map((c) => [c.op, c.policy, c.resolution]),
        [
          ['delete', 'sitePriority', 'skipped'],
          ['update', 'sourceWins', 'applied'],
          ['update', 'sitePriority', 'applied'],
          ['update', 'lastWriterWins', 'skipped'],
        ],
      );
      assert.deepEqual(
        onA.conflicts.map((c) => [c.op, c.policy, c.resolution]),
        [
          ['update', 'sitePriority', 'applied'],
          ['update', 'targetWins', 'skipped'],
          ['update', 'sitePriority', 'skipped'],
          ['update', 'lastWriterWins', 'applied'],
        ],
      );
      const first = onB.conflicts[3]!;
      assert.equal(first.table, `${db.name}.items`);
      assert.deepEqual(first.key, { id: '1' });
      assert.deepEqual(first.sourceBefore, { id: '1', v: 'orig', ts: '0' });
      assert.deepEqual(first.sourceAfter, { id: '1', v: 'a1', ts: '100' });
      assert.deepEqual(first.targetRow, { id: '1', v: 'b1', ts: '200' });
      assert.match(first.reason, /ts: source 100 < target 200/);
      assert.equal(onA.conflicts[0]?.targetRow, null, 'the UPDATE found its row deleted on A');
      assert.match(onB.conflicts[1]?.reason ?? '', /policy sourceWins/);
      assert.match(onB.conflicts[2]?.reason ?? '', /site priority 2 vs 1/);

      // Metrics of the in-process worker agree; the API honours limit and the read-only role.
      assert.equal(await metricOf('otterflow_conflicts_total', ab), 4);
      assert.equal(await metricOf('otterflow_conflicts_total', ba, { resolution: 'applied' }), 2);
      const two = await h.call('GET', `/v1/pipelines/${ab}/conflicts?limit=2`, undefined, h.readonlyToken);
      assert.equal(two.status, 200);
      assert.equal(two.body.conflicts.length, 2);
      assert.equal(two.body.total, 4);
      assert.equal((await h.call('GET', `/v1/pipelines/${ab}/conflicts?limit=0`)).status, 400);
      assert.equal((await h.call('GET', '/v1/pipelines/nope/conflicts')).status, 404);

      // The CLI lists the same through the API.
      const cli = await promisify(execFile)(
        process.execPath,
        [
          path.join(__dirname, '..', '..', 'bin', 'otterflow.js'),
          'pipeline',
          'conflicts',
          ba,
          '--limit',
          '1',
        ],
        { env: { ...process.env, OTTERFLOW_API_URL: h.url, OTTERFLOW_TOKEN: h.readonlyToken } },
      );
      assert.match(cli.stdout, new RegExp(`pipeline ${ba}: 4 conflict\\(s\\) recorded on src`));
      assert.match(cli.stdout, /update\s+id=4\s+applied/);
    } finally {
      await h.call('POST', `/v1/pipelines/${ab}/stop`);
      await h.call('POST', `/v1/pipelines/${ba}/stop`);
    }
  });
});

async function converged(
  a: mysql.Connection,
  b: mysql.Connection,
  db: string,
  want: string[],
): Promise<void> {
  await waitFor(`${db}.items to be ${JSON.stringify(want)} on both sites`, async () => {
    const [ra, rb] = await Promise.all([rowsOf(a, db), rowsOf(b, db)]);
    return JSON.stringify(ra) === JSON.stringify(want) && JSON.stringify(rb) === JSON.stringify(want);
  });
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
