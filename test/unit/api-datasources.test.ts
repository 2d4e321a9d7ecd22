import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openFileCatalog } from '../../src/catalog/file-catalog';
import { catalogFile, resolvePassword } from '../../src/config/datasources';
import { DatasourceService } from '../../src/service/datasources';
import { ServiceError } from '../../src/service/problems';
import { SecretStore, secretsDir } from '../../src/service/secrets';

function setup() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-ds-'));
  const catalog = openFileCatalog(home);
  const secrets = new SecretStore(secretsDir(home, {}));
  const service = new DatasourceService(catalog.datasources, secrets);
  return { home, catalog, secrets, service };
}

const base = { name: 'shop', kind: 'mariadb', host: 'db', port: 3306, user: 'repl' } as const;

async function rejects(fn: () => Promise<unknown>, status: number, path?: string): Promise<ServiceError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ServiceError, String(caught));
  assert.equal(caught.status, status, caught.detail);
  if (path !== undefined)
    assert.ok(
      caught.errors.some((e) => e.path === path),
      JSON.stringify(caught.errors),
    );
  return caught;
}

test('datasource password: stored in a 0600 file of this process, never in the catalog or a view', async () => {
  const { home, catalog, secrets, service } = setup();
  const view = await service.create({ ...base, password: 's3cr3t-Pa55' });
  assert.equal(view.passwordSource, 'stored');
  assert.equal(view.version, 1);
  assert.ok(!JSON.stringify(view).includes('s3cr3t'));
  assert.ok(!fs.readFileSync(catalogFile(home), 'utf8').includes('s3cr3t'));
  const stored = (await catalog.datasources.get('shop'))?.datasource;
  assert.equal(stored?.passwordStored, true);
  assert.equal(stored?.passwordFile, undefined, 'no path of this host in the catalog');
  const file = secrets.pathFor('shop');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.equal(
    resolvePassword(stored, { secretsDir: secrets.dir }),
    's3cr3t-Pa55',
    'a worker reads its own copy',
  );
  // A worker on another host without the file: the error names the datasource and the file.
  const elsewhere = path.join(home, 'other-host-secrets');
  assert.throws(
    () => resolvePassword(stored, { secretsDir: elsewhere }),
    new RegExp(`datasource "shop": cannot read password file ${elsewhere}/datasource-shop.password on `),
  );
  assert.ok(!JSON.stringify(await service.list()).includes('s3cr3t'));

  // An update without a password keeps it; with passwordEnv the stored file goes away.
  const kept = await service.update('shop', { ...base, host: 'db2' });
  assert.equal(kept.version, 2);
  const again = (await catalog.datasources.get('shop'))?.datasource;
  assert.ok(again);
  assert.equal(resolvePassword(again, { secretsDir: secrets.dir }), 's3cr3t-Pa55');
  const env = await service.update('shop', {
    kind: 'mariadb',
    host: 'db2',
    port: 3306,
    user: 'repl',
    passwordEnv: 'SHOP_PW',
  });
  assert.equal(env.passwordSource, 'env');
  assert.equal(fs.existsSync(file), false);
  assert.throws(
    () => resolvePassword({ ...base, passwordEnv: 'SHOP_PW' }, { env: {} }),
    /datasource "shop": environment variable SHOP_PW is not set on /,
  );
  await service.update('shop', { ...base, password: 'new' });
  await service.remove('shop');
  assert.equal(fs.existsSync(file), false, 'removed with the datasource');
  assert.deepEqual(await service.list(), []);
});

test('datasource input: strict schema, no server-side file paths, no renames, no both password kinds', async () => {
  const { catalog, service } = setup();
  await rejects(() => service.create({ ...base, passwordFile: '/etc/shadow' }), 400, 'passwordFile');
  await rejects(() => service.create({ ...base, passwordStored: true }), 400, 'passwordStored');
  await rejects(() => service.create({ ...base, password: 'a', passwordEnv: 'X' }), 400, 'password');
  await rejects(() => service.create({ ...base, extra: 1 }), 400, 'extra');
  await rejects(() => service.create({ ...base, port: '3306' }), 400, 'port');
  await rejects(() => service.create({ ...base, name: 'a`b' }), 400, 'name');
  await service.create(base);
  await rejects(() => service.create(base), 409);
  await rejects(() => service.update('shop', { ...base, name: 'other' }), 422, 'name');
  await rejects(() => service.update('nosuch', base), 404);
  await rejects(() => service.get("a'b"), 400, 'name');
  await service.create({ ...base, name: 'used' });
  await catalog.pipelines.create({
    name: 'p1',
    source: 'used',
    target: 'shop',
    mappings: [{ source: { schema: 'a', table: 'b' } }],
  } as never);
  const inUse = await rejects(() => service.remove('used'), 409);
  assert.deepEqual(inUse.extensions.pipelines, ['p1']);
});

test('datasource versions: a stale If-Match is a 409 naming the current version', async () => {
  const { service } = setup();
  await service.create(base);
  await service.update('shop', { ...base, host: 'db2' }, 1);
  const stale = await rejects(() => service.update('shop', { ...base, host: 'db3' }, 1), 409);
  assert.equal(stale.extensions.currentVersion, 2);
  assert.match(stale.detail, /is at version 2, not 1/);
  await rejects(() => service.remove('shop', 1), 409);
  await service.remove('shop', 2);
  assert.deepEqual(await service.list(), []);
});
