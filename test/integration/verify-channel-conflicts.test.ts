import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { eventually, expectStatus, registerStackDatasources, verifyCli, withApi } from '../helpers/api-stack';
import { itemsChannelPipeline, metricOf, rowsOf } from '../helpers/bidi';
import { waitFor } from '../helpers/pipeline';
import { connectTo, freshDatabases, uniqueName } from '../helpers/stack';

// Sites A ("src", the test stack's source) and B ("dst", its target); pipelines ab (A → B) and ba
// (B → A) on one channel, both with targetWins or both with sourceWins: a conflict leaves each site
// with its own row, or swaps them, so the sites legitimately differ for that key. Conflicts are forced as in bidirectional-conflicts.test.ts:
// the same row changed on both sites while ba is paused.

type Keyed = { table: string; key: { id: number }; kind: string; columns: string[] };
const summary = (list: Keyed[]) =>
  list.map((d) => `${d.kind} ${d.key.id} ${d.columns.join(',')}`.trim()).sort();

/** How the sites end after the forced conflicts, by policy (the same on both pipelines). */
interface Case {
  policy: 'targetWins' | 'sourceWins';
  resolution: 'skipped' | 'applied';
  /** Rows of keys 1 and 3 on A and on B. */
  key1: [string, string];
  key3: [string, string];
  /** The kind of key 3 as A → B and as B → A see it. */
  key3Kinds: [string, string];
}

const CASES: Case[] = [
  // Each site keeps its own row.
  {
    policy: 'targetWins',
    resolution: 'skipped',
    key1: ['1:a1:0', '1:b1:0'],
    key3: ['3:a3:0', 'gone'],
    key3Kinds: ['missing', 'extra'],
  },
  // Each site takes the other's change: the values swap (B's delete reaches A, A's update re-creates the row on B).
  {
    policy: 'sourceWins',
    resolution: 'applied',
    key1: ['1:b1:0', '1:a1:0'],
    key3: ['gone', '3:a3:0'],
    key3Kinds: ['extra', 'missing'],
  },
];

for (const c of CASES)
  test(`channel verification, ${c.policy} on both pipelines: keys the policy decided are counted apart, not differences; real differences beside them are found and repaired, the decided keys left alone`, (t) =>
    decidedByPolicy(t, c));

async function decidedByPolicy(t: TestContext, c: Case): Promise<void> {
  const db = await freshDatabases(t, 'vchc');
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
    const ok = expectStatus(h);
    const policy = { policy: c.policy };
    const [startA, startB] = [await readServerBinlogState(A), await readServerBinlogState(B)];
    await ok(
      'POST',
      '/v1/pipelines',
      itemsChannelPipeline(db.name, channel, ab, 'src', 'dst', startA, policy),
      201,
    );
    await ok(
      'POST',
      '/v1/pipelines',
      itemsChannelPipeline(db.name, channel, ba, 'dst', 'src', startB, policy),
      201,
    );
    await ok('POST', `/v1/pipelines/${ab}/start`, undefined, 202);
    await ok('POST', `/v1/pipelines/${ba}/start`, undefined, 202);
    try {
      await A.query("INSERT INTO items SELECT seq, CONCAT('orig', seq), 0 FROM seq_1_to_300");
      await waitFor('300 rows on both sites', async () => {
        const [ra, rb] = await Promise.all([rowsOf(A, db.name), rowsOf(B, db.name)]);
        return ra.length === 300 && JSON.stringify(ra) === JSON.stringify(rb);
      });

      const conflictsOn = async (name: string) =>
        ((await ok('GET', `/v1/pipelines/${name}/conflicts?limit=100`)) as { total: number }).total;
      // Keys 1 and 4: updated on both sites; key 3: deleted on B, updated on A.
      await ok('POST', `/v1/pipelines/${ba}/pause`);
      await B.query(
        "UPDATE items SET v = 'b1' WHERE id = 1; UPDATE items SET v = 'b4' WHERE id = 4; DELETE FROM items WHERE id = 3",
      );
      await A.query(
        "UPDATE items SET v = 'a1' WHERE id = 1; UPDATE items SET v = 'a4' WHERE id = 4; UPDATE items SET v = 'a3' WHERE id = 3",
      );
      await eventually('three conflicts of ab', async () =>
        (await conflictsOn(ab)) >= 3 ? true : undefined,
      );
      await ok('POST', `/v1/pipelines/${ba}/resume`);
      await eventually('three conflicts of ba', async () =>
        (await conflictsOn(ba)) >= 3 ? true : undefined,
      );
      const row = async (c: mysql.Connection, id: number) =>
        (await rowsOf(c, db.name)).find((r) => r.startsWith(`${id}:`)) ?? 'gone';
      await waitFor('keys 1 and 3 as the policy decided', async () => {
        const now = [await row(A, 1), await row(B, 1), await row(A, 3), await row(B, 3)];
        return JSON.stringify(now) === JSON.stringify([...c.key1, ...c.key3]);
      });

      // Behind the pipelines' back on B: key 4 changed after its conflict, key 10 changed.
      const quiet = await connectTo('target', db.name);
      t.after(() => quiet.end());
      await quiet.query('SET SESSION sql_log_bin = 0');
      await quiet.query("UPDATE items SET v = 'tampered' WHERE id = 4");
      await quiet.query('UPDATE items SET ts = 99 WHERE id = 10');

      const cli = verifyCli(h);
      const ids = (await cli('start', '--channel', channel)).trim().split('\n');
      assert.equal(ids.length, 2, ids.join(' '));
      const [abId, baId] = [ids.find((i) => i.startsWith(`${ab}.`)), ids.find((i) => i.startsWith(`${ba}.`))];
      assert.ok(abId && baId, ids.join(' '));
      assert.equal(abId.slice(ab.length), baId.slice(ba.length), 'the two directions share their id suffix');
      const finished = async (id: string) =>
        eventually(`verification ${id} to end`, async () => {
          const v = await ok('GET', `/v1/verifications/${id}`);
          return ['done', 'failed', 'cancelled'].includes(v.state) ? v : undefined;
        });
      const [abView, baView] = [await finished(abId), await finished(baId)];
      assert.equal(abView.state, 'done', JSON.stringify(abView));
      assert.equal(baView.state, 'done', JSON.stringify(baView));
      assert.deepEqual(
        [abView.differences, abView.tables[0].decidedByPolicy],
        [2, 2],
        JSON.stringify(abView.tables),
      );
      assert.deepEqual([baView.differences, baView.tables[0].decidedByPolicy], [2, 2]);

      // Real differences in each direction; the keys the policy decided listed apart.
      const diffOf = async (id: string) => summary(JSON.parse(await cli('diff', id, '--json')).differences);
      const decidedOf = async (id: string) =>
        JSON.parse(await cli('diff', id, '--decided', '--json')).decided;
      assert.deepEqual(await diffOf(abId), ['different 10 ts', 'different 4 v']);
      assert.deepEqual(await diffOf(baId), ['different 10 ts', 'different 4 v']);
      const abDecided = await decidedOf(abId);
      assert.deepEqual(summary(abDecided), ['different 1 v', `${c.key3Kinds[0]} 3`]);
      assert.deepEqual(summary(await decidedOf(baId)), ['different 1 v', `${c.key3Kinds[1]} 3`]);
      const one = abDecided.find((d: Keyed) => d.key.id === 1);
      assert.deepEqual(
        one.conflicts.map((c: { site: string; pipeline: string; policy: string; resolution: string }) => [
          c.site,
          c.pipeline,
          c.policy,
          c.resolution,
        ]),
        [
          ['source', ba, c.policy, c.resolution],
          ['target', ab, c.policy, c.resolution],
        ],
      );
      assert.match(await cli('status', abId), /DECIDED BY POLICY/);
      assert.equal(await metricOf('otterflow_verify_decided_by_policy_total', ab), 2);
      assert.equal(await metricOf('otterflow_verify_decided_by_policy_total', ba), 2);

      // Repairing the A → B direction makes B hold A's rows for the real differences only.
      await cli('repair', abId);
      const repaired = await eventually(
        'the repair to end',
        async () => {
          const v = await ok('GET', `/v1/verifications/${abId}`);
          return v.repair?.state === 'done' || v.repair?.state === 'failed' ? v : undefined;
        },
        120_000,
      );
      assert.deepEqual(
        [
          repaired.repair.state,
          repaired.repair.requested,
          repaired.repair.repaired,
          repaired.repair.remaining,
        ],
        ['done', 2, 2, 0],
        JSON.stringify(repaired.repair),
      );
      await waitFor('key 4 and 10 equal on both sites', async () => {
        const pairs = await Promise.all([4, 10].map(async (id) => [await row(A, id), await row(B, id)]));
        return pairs.every(([a, b]) => a === b);
      });
      assert.deepEqual([await row(A, 1), await row(B, 1)], c.key1, 'the decided keys were left alone');
      assert.deepEqual([await row(A, 3), await row(B, 3)], c.key3);

      // Verified again: nothing differs, the decided keys are still counted apart.
      const again = await ok('POST', `/v1/pipelines/${ab}/verifications`, {}, 202);
      const second = await finished(again.id);
      assert.equal(second.state, 'done');
      assert.deepEqual(
        [second.differences, second.tables[0].decidedByPolicy],
        [0, 2],
        JSON.stringify(second),
      );

      // Bad input: an unknown channel is a 404, a malformed id a 400; nothing started.
      assert.equal((await h.call('POST', '/v1/channels/nosuch/verifications', {})).status, 404);
      assert.equal((await h.call('POST', '/v1/channels/bad%20id/verifications', {})).status, 400);
      const bad = await h.call('POST', `/v1/channels/${channel}/verifications`, {
        tables: [`${db.name}.nope`],
      });
      assert.equal(bad.status, 422, bad.text);
      assert.equal(bad.body.errors[0].path, 'tables');
    } finally {
      await h.call('POST', `/v1/pipelines/${ab}/stop`);
      await h.call('POST', `/v1/pipelines/${ba}/stop`);
    }
  });
}
