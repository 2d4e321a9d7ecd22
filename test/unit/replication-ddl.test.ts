import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import { DdlHandler } from '../../src/replication/ddl-handler';
import { PipelineHaltError } from '../../src/replication/errors';
import { FakeTargetSession } from '../helpers/fake-target';

function handler(ddl: 'apply' | 'skip' | 'stop', session = new FakeTargetSession()) {
  const config = parsePipelineConfig({
    name: 'p',
    source: 's',
    target: 't',
    mappings: [{ source: { schema: 'shop', table: 'items' }, target: { schema: 'copy' } }],
    options: { ddl },
  });
  return { h: new DdlHandler(config, compileMapper(config), session), session };
}

const AT = 'b.1:100';
const ddlsRun = (s: FakeTargetSession) => s.log.filter((l) => l.startsWith('ddl '));

test('CREATE DATABASE of a mapped schema changes no mapped table: it does not stop the pipeline, and the warning names it', async () => {
  for (const policy of ['stop', 'skip'] as const) {
    const { h, session } = handler(policy);
    const out = await h.handle('', 'CREATE DATABASE IF NOT EXISTS shop', AT, undefined);
    assert.equal(out.applied, false);
    assert.match(out.warning ?? '', /database shop .*not on the target \(options\.ddl is "(stop|skip)"\)/);
    assert.deepEqual(ddlsRun(session), []);
  }
});

test('CREATE DATABASE of a mapped schema under "apply" creates the mapped target schema', async () => {
  const { h, session } = handler('apply');
  const out = await h.handle('', 'CREATE DATABASE IF NOT EXISTS shop', AT, undefined);
  assert.equal(out.applied, true);
  assert.deepEqual(ddlsRun(session), ['ddl CREATE DATABASE IF NOT EXISTS `copy`']);
});

test('DROP DATABASE of a mapped schema stops under "stop", naming the database', async () => {
  const { h } = handler('stop');
  await assert.rejects(h.handle('', 'DROP DATABASE shop', AT, undefined), (err: unknown) => {
    assert.ok(err instanceof PipelineHaltError);
    assert.match(err.message, /^DDL on mapped database shop and options\.ddl is "stop"/);
    return true;
  });
});

test('ALTER TABLE of a mapped table stops under "stop", naming the table and the rewritten statement', async () => {
  const { h } = handler('stop');
  await assert.rejects(
    h.handle('shop', 'ALTER TABLE items ADD COLUMN w INT', AT, undefined),
    (err: unknown) => {
      assert.ok(err instanceof PipelineHaltError);
      assert.match(err.message, /^DDL on mapped table\(s\) shop\.items and options\.ddl is "stop"/);
      assert.match(err.message, /ALTER TABLE `copy`\.`items` ADD COLUMN w INT/);
      return true;
    },
  );
});

test('DDL of unmapped schemas is ignored without a word', async () => {
  const { h, session } = handler('stop');
  assert.deepEqual(await h.handle('', 'CREATE DATABASE IF NOT EXISTS other', AT, undefined), {
    applied: false,
    invalidated: [],
  });
  assert.deepEqual(ddlsRun(session), []);
});

test('"apply" on a target that cannot run MySQL DDL stops with a message saying so', async () => {
  const session = new FakeTargetSession();
  session.capabilities = { ...session.capabilities, sourceDdl: false };
  const { h } = handler('apply', session);
  await assert.rejects(
    h.handle('shop', 'ALTER TABLE items ADD COLUMN w INT', AT, undefined),
    /a fake target cannot run MySQL DDL.*set options\.ddl to "skip"/,
  );
  assert.deepEqual(ddlsRun(session), []);
});

test('applied DDL invalidates the table information of its mapped targets', async () => {
  const { h, session } = handler('apply');
  const out = await h.handle('shop', 'ALTER TABLE items ADD COLUMN w INT', AT, undefined);
  assert.deepEqual(out.invalidated, ['copy.items']);
  assert.ok(session.log.includes('invalidate copy.items'));
});
