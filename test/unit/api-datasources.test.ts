import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { catalogFile, DatasourceCatalog, resolvePassword } from '../../src/config/datasources';
import { DatasourceService } from '../../src/service/datasources';
import { ServiceError } from '../../src/service/problems';
import { SecretStore, secretsDir } from '../../src/service/secrets';

function setup(users: Record<string, string[]> = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-ds-'));
  const catalog = new DatasourceCatalog(catalogFile(home));
  const secrets = new SecretStore(secretsDir(home));
  const service = new DatasourceService(catalog, secrets, (n) => users[n] ?? []);
  return { home, catalog, secrets, service };
}

const base = { name: 'shop', kind: 'mariadb', host: 'db', port: 3306, user: 'repl' } as const;

function rejects(fn: () => unknown, status: number, path?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ServiceError, String(err));
    assert.equal(err.status, status, err.detail);
    if (path !== undefined)
      assert.ok(
        err.errors.some((e) => e.path === path),
        JSON.stringify(err.errors),
      );
    return true;
  });
}

test('datasource password: stored in a 0600 file, never in the catalog or a view', () => {
  const { home, catalog, service } = setup();
  const view = service.create({ ...base, password: 's3cr3t-Pa55' });
  assert.equal(view.passwordSource, 'stored');
  assert.ok(!JSON.stringify(view).includes('s3cr3t'));
  assert.ok(!fs.readFileSync(catalogFile(home), 'utf8').includes('s3cr3t'));
  const stored = catalog.get('shop');
  assert.ok(stored?.passwordFile);
  assert.equal(fs.statSync(stored.passwordFile).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(stored.passwordFile)).mode & 0o777, 0o700);
  assert.equal(resolvePassword(stored), 's3cr3t-Pa55', 'the worker reads it back');
  assert.ok(!JSON.stringify(service.list()).includes('s3cr3t'));

  // An update without a password keeps it; with passwordEnv the stored file goes away.
  service.update('shop', { ...base, host: 'db2' });
  assert.equal(resolvePassword(catalog.get('shop')!), 's3cr3t-Pa55');
  const env = service.update('shop', {
    kind: 'mariadb',
    host: 'db2',
    port: 3306,
    user: 'repl',
    passwordEnv: 'SHOP_PW',
  });
  assert.equal(env.passwordSource, 'env');
  assert.equal(fs.existsSync(stored.passwordFile), false);
  service.update('shop', { ...base, password: 'new' });
  service.remove('shop');
  assert.equal(fs.existsSync(stored.passwordFile), false, 'removed with the datasource');
  assert.deepEqual(service.list(), []);
});

test('datasource input: strict schema, no server-side file paths, no renames, no both password kinds', () => {
  const { service } = setup({ used: ['p1'] });
  rejects(() => service.create({ ...base, passwordFile: '/etc/shadow' }), 400, 'passwordFile');
  rejects(() => service.create({ ...base, password: 'a', passwordEnv: 'X' }), 400, 'password');
  rejects(() => service.create({ ...base, extra: 1 }), 400, 'extra');
  rejects(() => service.create({ ...base, port: '3306' }), 400, 'port');
  rejects(() => service.create({ ...base, name: 'a`b' }), 400, 'name');
  service.create(base);
  rejects(() => service.create(base), 409);
  rejects(() => service.update('shop', { ...base, name: 'other' }), 422, 'name');
  rejects(() => service.update('nosuch', base), 404);
  rejects(() => service.get("a'b"), 400, 'name');
  service.create({ ...base, name: 'used' });
  rejects(() => service.remove('used'), 409);
});
