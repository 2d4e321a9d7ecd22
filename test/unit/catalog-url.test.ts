import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCatalogUrl, redactCatalogUrl } from '../../src/catalog/url';
import { parseIfMatch } from '../../src/service/catalog-problems';
import { ServiceError } from '../../src/service/problems';

test('catalog URL: parts, defaults, and errors that name the variable without the password', () => {
  assert.deepEqual(parseCatalogUrl('mysql://otf:p%40ss@db.example:3307/cat'), {
    host: 'db.example',
    port: 3307,
    user: 'otf',
    password: 'p@ss',
    database: 'cat',
  });
  assert.deepEqual(parseCatalogUrl('mariadb://root@127.0.0.1'), {
    host: '127.0.0.1',
    port: 3306,
    user: 'root',
    password: '',
    database: 'otterflow_catalog',
  });
  assert.throws(
    () => parseCatalogUrl('postgres://a:secret@h/d'),
    /OTTERFLOW_CATALOG_URL: scheme must be mysql:\/\//,
  );
  assert.throws(() => parseCatalogUrl('mysql://h/d'), /the user is missing/);
  assert.throws(
    () => parseCatalogUrl('mysql://u:secret@h/a-b'),
    (e: Error) => {
      assert.match(e.message, /database name "a-b"/);
      assert.ok(!e.message.includes('secret'));
      return true;
    },
  );
  assert.equal(redactCatalogUrl('mysql://otf:s3cret@db:3306/cat'), 'mysql://otf:***@db:3306/cat');
  assert.equal(redactCatalogUrl('mysql://root@db:3306/cat'), 'mysql://root@db:3306/cat');
});

test('If-Match: a version number, quoted or weak; anything else is a 400 naming the header', () => {
  assert.equal(parseIfMatch(undefined), undefined);
  assert.equal(parseIfMatch('3'), 3);
  assert.equal(parseIfMatch('"12"'), 12);
  assert.equal(parseIfMatch('W/"7"'), 7);
  assert.throws(
    () => parseIfMatch('*'),
    (e: unknown) => e instanceof ServiceError && e.status === 400 && e.errors[0]?.path === 'If-Match',
  );
});
