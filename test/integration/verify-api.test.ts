import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { eventually, expectStatus, registerStackDatasources, verifyCli, withApi } from '../helpers/api-stack';
import { connectTo, freshDatabases, testStack, uniqueName } from '../helpers/stack';

/** What pt-table-sync would run to make the target's `db.table` equal to the source's; undefined without it. */
function ptTableSync(db: string, table: string): string | undefined {
  const s = testStack();
  const r = spawnSync(
    'pt-table-sync',
    [
      '--print',
      '--tables',
      `${db}.${table}`,
      `h=${s.host},P=${s.sourcePort},u=root`,
      `h=${s.host},P=${s.targetPort},u=root`,
    ],
    { encoding: 'utf8' },
  );
  if (r.error) return undefined;
  // Exit 2: it found differences (and printed them).
  assert.ok(r.status === 0 || r.status === 2, r.stderr);
  return r.stdout;
}

test('verify over HTTP and the CLI: bad input is a 4xx naming the field and starts nothing; differences found, repaired, verified again', async (t) => {
  const db = await freshDatabases(t, 'vfa');
  const both = async (sql: string) => {
    await db.source.query(sql);
    await db.target.query(sql);
  };
  await both('CREATE TABLE a (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(40), w DOUBLE)');
  await both("INSERT INTO a SELECT seq, CONCAT('v', seq), seq / 3 FROM seq_1_to_2000");
  await both("INSERT INTO a VALUES (18446744073709551615, 'max', NULL)");
  await db.source.query('CREATE TABLE p (id INT PRIMARY KEY, name VARCHAR(40), secret VARCHAR(40))');
  await db.source.query("INSERT INTO p SELECT seq, CONCAT('n', seq), 'pw' FROM seq_1_to_500");
  await db.target.query('CREATE TABLE people (id INT PRIMARY KEY, full_name VARCHAR(40))');
  await db.target.query("INSERT INTO people SELECT seq, CONCAT('n', seq) FROM seq_1_to_500");

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
        mappings: [
          { source: { schema: db.name, table: 'a' } },
          {
            source: { schema: db.name, table: 'p' },
            target: { table: 'people' },
            columns: { include: ['id', { from: 'name', to: 'full_name' }] },
          },
        ],
      },
      201,
    );
    await ok('POST', `/v1/pipelines/${name}/start`, undefined, 202);

    const url = `/v1/pipelines/${name}/verifications`;
    const unknown = await h.call('POST', url, { tables: [`${db.name}.nope`] });
    assert.equal(unknown.status, 422, unknown.text);
    assert.equal(unknown.body.errors[0].path, 'tables');
    const notCondition = await h.call('POST', url, { where: 'id = 1; DROP TABLE a' });
    assert.equal(notCondition.status, 422, notCondition.text);
    assert.equal(notCondition.body.errors[0].path, 'where');
    const badColumn = await h.call('POST', url, { where: 'nope > 1' });
    assert.equal(badColumn.status, 422, badColumn.text);
    assert.match(badColumn.body.detail, /Unknown column 'nope'/);
    const noPipeline = await h.call('POST', '/v1/pipelines/nosuch/verifications', {});
    assert.equal(noPipeline.status, 404, noPipeline.text);
    const badField = await h.call('POST', url, { chunkSize: 0 });
    assert.equal(badField.status, 400, badField.text);
    assert.equal(badField.body.errors[0].path, 'chunkSize');
    const started = [];
    for await (const w of h.client.workflow.list({
      query: `WorkflowType = 'verificationWorkflow' AND OtterflowPipeline = '${name}'`,
    }))
      started.push(w.workflowId);
    assert.deepEqual(started, [], 'nothing was started');

    const tgt = await connectTo('target', db.name);
    t.after(() => tgt.end());
    await tgt.query('SET SESSION sql_log_bin = 0');
    await tgt.query("UPDATE a SET v = 'changed' WHERE id = 18446744073709551615");
    await tgt.query('UPDATE a SET w = 0 WHERE id = 3');
    await tgt.query('DELETE FROM a WHERE id = 4');
    await tgt.query("INSERT INTO a VALUES (9999, 'only here', 1)");
    await tgt.query("UPDATE people SET full_name = 'x' WHERE id = 6");

    const ptBefore = ptTableSync(db.name, 'a');
    if (ptBefore !== undefined) assert.equal(ptBefore.trim().split('\n').length, 4, ptBefore);

    const cli = verifyCli(h);
    const id = (await cli('start', name)).trim();
    assert.match(id, new RegExp(`^${name}\\.verify-`));
    const status = await eventually('the verification to end', async () => {
      const s = JSON.parse(await cli('status', id, '--json'));
      return ['done', 'failed', 'cancelled'].includes(s.state) ? s : undefined;
    });
    assert.equal(status.state, 'done', JSON.stringify(status));
    assert.equal(status.differences, 5);
    const diff = JSON.parse(await cli('diff', id, '--json'));
    const sorted = diff.differences.sort(
      (x: { table: string; kind: string }, y: { table: string; kind: string }) =>
        `${x.table}${x.kind}${JSON.stringify(x)}`.localeCompare(`${y.table}${y.kind}${JSON.stringify(y)}`),
    );
    assert.deepEqual(sorted, [
      {
        table: `${db.name}.a`,
        key: { id: 18446744073709551615n.toString() },
        kind: 'different',
        columns: ['v'],
      },
      { table: `${db.name}.a`, key: { id: 3 }, kind: 'different', columns: ['w'] },
      { table: `${db.name}.a`, key: { id: 9999 }, kind: 'extra', columns: [] },
      { table: `${db.name}.a`, key: { id: 4 }, kind: 'missing', columns: [] },
      { table: `${db.name}.people`, key: { id: 6 }, kind: 'different', columns: ['full_name'] },
    ]);
    assert.match(await cli('status', id), /differences\s+5/);

    assert.match(await cli('repair', id), /repair started/);
    const repaired = await eventually(
      'the repair to end',
      async () => {
        const v = await ok('GET', `/v1/verifications/${id}`);
        return v.repair?.state === 'done' || v.repair?.state === 'failed' ? v : undefined;
      },
      120_000,
    );
    assert.deepEqual(
      [repaired.repair.state, repaired.repair.repaired, repaired.repair.remaining],
      ['done', 5, 0],
      JSON.stringify(repaired.repair),
    );
    const page = await ok('GET', `/v1/verifications/${id}/differences?limit=2`);
    assert.equal(page.total, 5);
    assert.equal(page.differences.length, 2);
    assert.ok(page.differences.every((d: { repair?: string }) => d.repair === 'repaired'));

    const again = await ok('POST', url, { tables: [`${db.name}.a`, `${db.name}.p`] }, 202);
    const second = await eventually('the second verification to end', async () => {
      const v = await ok('GET', `/v1/verifications/${again.id}`);
      return v.state === 'done' || v.state === 'failed' ? v : undefined;
    });
    assert.equal(second.state, 'done');
    assert.equal(second.differences, 0, JSON.stringify(second));
    assert.equal(second.rowsCompared, 2001 + 500);

    const pt = ptTableSync(db.name, 'a');
    if (pt === undefined)
      t.diagnostic(
        'pt-table-sync not installed (scripts/bootstrap.sh installs percona-toolkit as root): skipped',
      );
    else assert.equal(pt.trim(), '', `pt-table-sync would still change the target:\n${pt}`);
    await ok('POST', `/v1/pipelines/${name}/stop`);
  });
});
