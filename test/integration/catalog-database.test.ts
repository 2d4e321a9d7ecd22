import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { MIGRATIONS } from '../../src/catalog/migrations';
import { openMysqlCatalog } from '../../src/catalog/mysql-catalog';
import { localCatalogUrl } from '../../src/catalog/url';
import { projectRoot } from '../../src/config/stack';
import { authenticateToken } from '../../src/service/api-tokens';
import { dropCatalogDatabase } from '../helpers/api-stack';
import { testStack, uniqueName } from '../helpers/stack';

function freshCatalogUrl(t: { after(fn: () => Promise<void>): void }): string {
  const s = testStack();
  const url = localCatalogUrl(s.host, s.targetPort).replace(/otterflow_catalog$/, uniqueName('otf_cat'));
  t.after(() => dropCatalogDatabase(url));
  return url;
}

async function query(url: string, sql: string, params: unknown[] = []): Promise<mysql.RowDataPacket[]> {
  const u = new URL(url);
  const conn = await mysql.createConnection({
    host: u.hostname,
    port: Number(u.port),
    user: u.username,
    database: u.pathname.slice(1),
  });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(sql, params);
    return rows;
  } finally {
    await conn.end();
  }
}

test('migrations: processes opening a new catalog together apply each version once; a newer schema is refused', async (t) => {
  const url = freshCatalogUrl(t);
  const catalogs = await Promise.all([1, 2, 3].map(() => openMysqlCatalog(url, { createDatabase: true })));
  for (const c of catalogs) await c.close();
  const applied = await query(url, 'SELECT version FROM schema_migrations ORDER BY version');
  assert.deepEqual(
    applied.map((r) => r.version),
    MIGRATIONS.map((m) => m.version),
  );
  // Opening again changes nothing.
  await (await openMysqlCatalog(url)).close();
  assert.equal((await query(url, 'SELECT COUNT(*) AS n FROM schema_migrations'))[0]?.n, MIGRATIONS.length);

  await query(url, "INSERT INTO schema_migrations VALUES (999, 'from the future', NOW())");
  await assert.rejects(openMysqlCatalog(url), /schema is at version 999, newer than this Otterflow knows/);
});

test('otterflow catalog import/add-token: JSON catalogs imported once, tokens stored as hashes only', async (t) => {
  const url = freshCatalogUrl(t);
  const s = testStack();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-import-'));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  fs.mkdirSync(path.join(home, 'secrets'));
  const base = { kind: 'mariadb', host: s.host, port: s.sourcePort, user: 'root' };
  fs.writeFileSync(
    path.join(home, 'datasources.json'),
    JSON.stringify([
      { ...base, name: 'old-src', passwordFile: path.join(home, 'secrets', 'datasource-old-src.password') },
      { ...base, name: 'old-dst', passwordEnv: 'OLD_DST_PW' },
    ]),
  );
  fs.writeFileSync(
    path.join(home, 'pipelines.json'),
    JSON.stringify([
      {
        config: {
          name: 'old-pipe',
          source: 'old-src',
          target: 'old-dst',
          mappings: [{ source: { schema: 'a', table: 'b' } }],
        },
        version: 4,
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-02T00:00:00.000Z',
      },
    ]),
  );
  const env = { ...process.env, OTTERFLOW_CATALOG_URL: url, OTTERFLOW_HOME: home };
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), 'catalog', ...args], {
      env,
      encoding: 'utf8',
    });

  const first = cli('import', '--home', home);
  assert.equal(first.status, 0, first.stderr);
  assert.match(
    first.stderr,
    /imported 2 datasource\(s\) and 1 pipeline\(s\) into the catalog mysql:\/\/root@/,
  );
  assert.match(first.stderr, /renamed to datasources\.json\.imported, pipelines\.json\.imported/);
  const again = cli('import', '--home', home);
  assert.match(again.stderr, /no JSON catalog files under/);

  const catalog = await openMysqlCatalog(url);
  try {
    const src = await catalog.datasources.get('old-src');
    assert.deepEqual(
      src?.datasource,
      { ...base, name: 'old-src', passwordStored: true },
      'no host path kept',
    );
    assert.equal((await catalog.datasources.get('old-dst'))?.datasource.passwordEnv, 'OLD_DST_PW');
    const pipe = await catalog.pipelines.get('old-pipe');
    assert.equal(pipe?.config.source, 'old-src');
    assert.equal(pipe?.version, 1);

    const added = cli('add-token', '--name', 'ci', '--role', 'readonly');
    assert.equal(added.status, 0, added.stderr);
    const token = added.stdout.trim();
    assert.match(token, /^otf_/);
    const tokens = await catalog.tokens.list();
    assert.deepEqual(authenticateToken(tokens, token), { name: 'ci', role: 'readonly' });
    const stored = await query(url, 'SELECT * FROM api_tokens');
    assert.ok(!JSON.stringify(stored).includes(token), 'only the hash is stored');
  } finally {
    await catalog.close();
  }
});
