import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, expectStatus, registerStackDatasources, verifyCli, withApi } from '../helpers/api-stack';
import { connectTo, freshDatabases, uniqueName } from '../helpers/stack';

test('a key range limits a verification to the target keys between its inclusive bounds, on both sides: differences inside (a row only on the target too) are found, none outside; a bound that does not fit the key is a 422', async (t) => {
  const db = await freshDatabases(t, 'vkr');
  const both = async (sql: string) => {
    await db.source.query(sql);
    await db.target.query(sql);
  };
  await both('CREATE TABLE k (id BIGINT PRIMARY KEY, v VARCHAR(40))');
  await both("INSERT INTO k SELECT seq, CONCAT('v', seq) FROM seq_1_to_3000 WHERE seq <> 1700");
  await both('CREATE TABLE c (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b))');
  await both(
    "INSERT INTO c SELECT s.seq, x.b, s.seq FROM seq_1_to_20 s, (SELECT 'x' AS b UNION SELECT 'y' UNION SELECT 'z') x",
  );

  await withApi(async (h) => {
    const ok = expectStatus(h);
    const ds = await registerStackDatasources(h);
    const name = uniqueName('p');
    await ok(
      'POST',
      '/v1/pipelines',
      {
        name,
        source: ds.source,
        target: ds.target,
        mappings: [{ source: { schema: db.name, table: 'k' } }, { source: { schema: db.name, table: 'c' } }],
      },
      201,
    );
    await ok('POST', `/v1/pipelines/${name}/start`, undefined, 202);
    const url = `/v1/pipelines/${name}/verifications`;

    // Bounds that do not fit the key: 422 naming the bound; nothing is started.
    const refused = async (body: unknown, field: string) => {
      const r = await h.call('POST', url, body);
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.errors[0].path, field, r.text);
    };
    await refused({ tables: [`${db.name}.c`], keyRange: { from: [5] } }, 'keyRange.from');
    await refused({ tables: [`${db.name}.k`], keyRange: { to: [1, 2] } }, 'keyRange.to');
    await refused({ tables: [`${db.name}.k`], keyRange: { from: ['ten'] } }, 'keyRange.from.0');
    await refused({ tables: [`${db.name}.k`], keyRange: { from: [10], to: [5] } }, 'keyRange');
    // Every table verified gets the range: k's one-column key and c's two-column key cannot share one.
    await refused({ keyRange: { from: [5] } }, 'keyRange.from');
    const badShape = await h.call('POST', url, { keyRange: { from: [] } });
    assert.equal(badShape.status, 400, badShape.text);
    const schedRefused = await h.call('PUT', `/v1/pipelines/${name}/verification-schedule`, {
      every: '1h',
      tables: [`${db.name}.c`],
      keyRange: { to: [1] },
    });
    assert.equal(schedRefused.status, 422, schedRefused.text);
    assert.equal(schedRefused.body.errors[0].path, 'keyRange.to');

    const tgt = await connectTo('target', db.name);
    t.after(() => tgt.end());
    await tgt.query('SET SESSION sql_log_bin = 0');
    // k, range [1000, 2000]: at both bounds, inside (missing, only on the target), and just outside.
    await tgt.query("UPDATE k SET v = 'changed' WHERE id IN (5, 999, 1000, 2000, 2001)");
    await tgt.query('DELETE FROM k WHERE id = 1500');
    await tgt.query("INSERT INTO k VALUES (1700, 'only here'), (5000, 'only here')");
    // c, range [(5,'y'), (7,'x')]: the same around a composite key whose second column is text.
    await tgt.query("UPDATE c SET v = -1 WHERE (a, b) IN ((5, 'x'), (5, 'y'), (7, 'x'), (7, 'y'))");
    await tgt.query("DELETE FROM c WHERE a = 6 AND b = 'z'");
    await tgt.query("INSERT INTO c VALUES (6, 'zz', 6), (4, 'zz', 4), (7, 'xa', 7)");

    const differences = async (id: string) => {
      const v = await eventually('the verification to end', async () => {
        const s = await ok('GET', `/v1/verifications/${id}`);
        return ['done', 'failed', 'cancelled'].includes(s.state) ? s : undefined;
      });
      assert.equal(v.state, 'done', JSON.stringify(v));
      return (await ok('GET', `/v1/verifications/${id}/differences`)).differences
        .map(
          (d: { kind: string; key: Record<string, unknown> }) =>
            `${d.kind} ${Object.values(d.key).join(',')}`,
        )
        .sort();
    };

    // Small chunks, so the range starts and ends inside chunks the planner made.
    const cli = verifyCli(h);
    const kId = (
      await cli(
        'start',
        name,
        '--tables',
        `${db.name}.k`,
        '--from',
        '1000',
        '--to',
        '2000',
        '--chunk-size',
        '300',
      )
    ).trim();
    assert.deepEqual(await differences(kId), [
      'different 1000',
      'different 2000',
      'extra 1700',
      'missing 1500',
    ]);
    const kView = await ok('GET', `/v1/verifications/${kId}`);
    // Source rows with 1000 <= id <= 2000: 1,001 keys but 1700, which only the target has.
    assert.equal(kView.rowsCompared, 1000);

    const cRun = await ok(
      'POST',
      url,
      { tables: [`${db.name}.c`], keyRange: { from: [5, 'y'], to: [7, 'x'] }, chunkSize: 4 },
      202,
    );
    assert.deepEqual(await differences(cRun.id), [
      'different 5,y',
      'different 7,x',
      'extra 6,zz',
      'missing 6,z',
    ]);

    // Open-ended: only a lower bound.
    const open = await ok('POST', url, { tables: [`${db.name}.k`], keyRange: { from: [2001] } }, 202);
    assert.deepEqual(await differences(open.id), ['different 2001', 'extra 5000']);

    // A schedule takes the range too.
    const sched = await ok('PUT', `/v1/pipelines/${name}/verification-schedule`, {
      every: '12h',
      tables: [`${db.name}.c`],
      keyRange: { from: [5, 'y'], to: [7, 'x'] },
    });
    assert.deepEqual(sched.keyRange, { from: [5, 'y'], to: [7, 'x'] });
    await ok('POST', `/v1/pipelines/${name}/verification-schedule/trigger`, undefined, 202);
    const scheduled = await eventually(
      'the scheduled run to start',
      async () =>
        (await ok('GET', `/v1/pipelines/${name}/verification-schedule`)).recentRuns[0]?.verificationId,
    );
    assert.deepEqual(await differences(scheduled), [
      'different 5,y',
      'different 7,x',
      'extra 6,zz',
      'missing 6,z',
    ]);
    await ok('DELETE', `/v1/pipelines/${name}?force=true`);
  });
});
