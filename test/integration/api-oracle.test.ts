import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registerStackDatasources, withApi } from '../helpers/api-stack';
import { uniqueName } from '../helpers/stack';

/** Oracle datasources through the API: registered with their target settings; backfills accepted; refused as a channel side. */
test('an Oracle datasource is accepted as a one-way target; a bidirectional channel with it is a 422 saying why', async () => {
  await withApi(async (h) => {
    await registerStackDatasources(h);
    const ora = {
      name: 'ora',
      kind: 'oracle',
      host: 'oracle.invalid',
      port: 1521,
      user: 'repl',
      serviceName: 'FREEPDB1',
      oracle: { identifierCase: 'upper', zeroDates: 'null', emptyStrings: 'error' },
    };
    const created = await h.call('POST', '/v1/datasources', ora);
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body.oracle, ora.oracle);
    const badSetting = await h.call('POST', '/v1/datasources', {
      ...ora,
      name: 'ora2',
      oracle: { emptyStrings: 'space' },
    });
    assert.equal(badSetting.status, 400);
    assert.ok(badSetting.body.errors.some((e: { path: string }) => e.path === 'oracle.emptyStrings'));

    const mappings = [{ source: { schema: 'shop', table: 'items' } }];
    const oneWay = await h.call('POST', '/v1/pipelines', {
      name: uniqueName('p'),
      source: 'src',
      target: 'ora',
      mappings,
    });
    assert.equal(oneWay.status, 201, oneWay.text);
    // Backfills into Oracle are accepted; an explicit request to defer indexes is a 422 (Oracle keeps them).
    const defer = await h.call('POST', `/v1/pipelines/${oneWay.body.config.name}/backfills`, {
      kind: 'initial',
      secondaryIndexes: 'defer',
    });
    assert.equal(defer.status, 422, defer.text);
    assert.match(
      defer.body.detail,
      /target "ora" is oracle: its secondary indexes stay in place during a load/,
    );
    assert.ok(defer.body.errors.some((e: { path: string }) => e.path === 'secondaryIndexes'));
    const resync = await h.call('POST', `/v1/pipelines/${oneWay.body.config.name}/backfills`, {
      kind: 'resync',
    });
    assert.equal(resync.status, 400, resync.text);
    assert.match(
      resync.body.detail,
      /a resync names its tables/,
      'past the target check, to the request itself',
    );

    const listed = async () => JSON.stringify((await h.call('GET', '/v1/pipelines')).body);
    const before = await listed();
    for (const [source, target, side] of [
      ['src', 'ora', 'target'],
      ['ora', 'src', 'source'],
    ] as const) {
      const r = await h.call('POST', '/v1/pipelines', {
        name: uniqueName('p'),
        source,
        target,
        mappings,
        options: { channel: { id: 'ab' } },
      });
      assert.equal(r.status, 422, r.text);
      assert.match(
        r.body.detail,
        new RegExp(`${side} datasource "ora" \\(oracle\\) cannot be a side of a bidirectional channel`),
      );
      assert.match(r.body.detail, /keeps no channel marks/);
      assert.ok(r.body.errors.some((e: { path: string }) => e.path === 'options.channel'));
    }
    assert.equal(await listed(), before, 'nothing stored');
    // An Oracle server that does not answer: the connection test and the prerequisite check say so (422).
    for (const action of ['test', 'check']) {
      const r = await h.call('POST', `/v1/datasources/ora/${action}`);
      assert.equal(r.status, 422, r.text);
      assert.match(r.body.detail, /datasource "ora"/);
      assert.doesNotMatch(r.text, /never-used|password/i);
    }
    // Between two MySQL/MariaDB datasources a channel is accepted as before.
    const both = await h.call('POST', '/v1/pipelines', {
      name: uniqueName('p'),
      source: 'src',
      target: 'dst',
      mappings,
      options: { channel: { id: 'ab' } },
    });
    assert.equal(both.status, 201, both.text);
  });
});
