import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { dataDir, initDataDir, mariadbdArgs } from '../../src/devstack/mariadb';
import { isOurProcessAlive, type PidRecord, spawnDetached, stopProcess } from '../../src/devstack/processes';
import { findMariaDb } from '../../src/devstack/tools';
import { type ApiHarness, eventually, registerStackDatasources, withApi } from '../helpers/api-stack';
import { privatePort } from '../helpers/ports';
import { uniqueName } from '../helpers/stack';

/** What "nothing changed" means: the stores on disk, byte for byte, and the secrets folder. */
function snapshot(h: ApiHarness): string {
  const read = (f: string) =>
    fs.existsSync(path.join(h.home, f)) ? fs.readFileSync(path.join(h.home, f), 'utf8') : '';
  const secrets = path.join(h.home, 'secrets');
  return JSON.stringify({
    datasources: read('datasources.json'),
    pipelines: read('pipelines.json'),
    secrets: fs.existsSync(secrets) ? fs.readdirSync(secrets).sort() : [],
  });
}

async function assertNoWorkflow(h: ApiHarness, pipeline: string): Promise<void> {
  await assert.rejects(h.client.workflow.getHandle(`pipeline:${pipeline}`).describe(), WorkflowNotFoundError);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function pipelineBody(
  name: string,
  source = 'src',
  target = 'dst',
  schema = 'shop',
): Record<string, unknown> {
  return { name, source, target, mappings: [{ source: { schema, table: 'items' } }] };
}

/** A bad request must get `status`, a problem body naming `path`, and leave everything as it was. */
async function expectRejected(
  h: ApiHarness,
  method: string,
  urlPath: string,
  body: unknown,
  status: number,
  path?: string,
): Promise<void> {
  const before = snapshot(h);
  const r = await h.call(method, urlPath, body);
  assert.equal(r.status, status, `${method} ${urlPath} ${JSON.stringify(body)?.slice(0, 80)} → ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.equal(r.body.status, status);
  assert.equal(typeof r.body.title, 'string');
  assert.ok(r.body.detail.length > 10, 'a clear message');
  if (path !== undefined)
    assert.ok(
      r.body.errors?.some((e: { path: string }) => e.path === path),
      `expected an error at "${path}", got ${JSON.stringify(r.body.errors)}`,
    );
  assert.equal(snapshot(h), before, 'nothing changed on disk');
}

test('auth: no token → 401, read-only token cannot change or start/stop → 403, health without auth', async () => {
  await withApi(async (h) => {
    for (const p of ['/healthz', '/readyz', '/openapi.json']) {
      const r = await h.call('GET', p, undefined, null);
      assert.equal(r.status, 200, `${p}: ${r.text}`);
    }
    const noToken = await h.call('GET', '/v1/datasources', undefined, null);
    assert.equal(noToken.status, 401);
    assert.match(noToken.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await h.call('GET', '/v1/pipelines', undefined, 'not-a-token-at-all')).status, 401);
    assert.equal((await h.call('GET', '/v1/datasources', undefined, h.readonlyToken)).status, 200);

    await registerStackDatasources(h);
    const name = uniqueName('p_auth');
    assert.equal((await h.call('POST', '/v1/pipelines', pipelineBody(name))).status, 201);
    const before = snapshot(h);
    for (const [method, p, body] of [
      ['POST', '/v1/datasources', { name: 'x', kind: 'mariadb', host: 'h', port: 1, user: 'u' }],
      ['DELETE', '/v1/datasources/src', undefined],
      ['POST', '/v1/pipelines', pipelineBody(uniqueName('p'))],
      ['POST', `/v1/pipelines/${name}/start`, undefined],
      ['POST', `/v1/pipelines/${name}/stop`, undefined],
      ['POST', `/v1/pipelines/${name}/pause`, undefined],
      ['DELETE', `/v1/pipelines/${name}`, undefined],
    ] as const) {
      const r = await h.call(method, p, body, h.readonlyToken);
      assert.equal(r.status, 403, `${method} ${p} with a read-only token: ${r.text}`);
      assert.match(r.body.detail, /read-only/);
      const anon = await h.call(method, p, body, null);
      assert.equal(anon.status, 401, `${method} ${p} without a token`);
    }
    assert.equal(snapshot(h), before);
    await assertNoWorkflow(h, name);
    const ro = await h.call('GET', `/v1/pipelines/${name}/status`, undefined, h.readonlyToken);
    assert.equal(ro.status, 200);
    assert.equal(ro.body.state, 'not started');
  });
});

test('OpenAPI document from the zod schemas and a readable page', async () => {
  await withApi(async (h) => {
    const doc = (await h.call('GET', '/openapi.json', undefined, null)).body;
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/v1/datasources', '/v1/datasources/{name}/check', '/v1/pipelines/{name}/status'])
      assert.ok(doc.paths[p], `documents ${p}`);
    assert.equal(doc.components.schemas.DatasourceInput.additionalProperties, false);
    assert.ok(doc.components.schemas.PipelineConfig.properties.mappings);
    const page = await fetch(`${h.url}/docs`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    assert.match(html, /\/v1\/pipelines\/\{name\}\/start/);
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1)[a-z]/i, 'no external links (no CDN)');
  });
});

test('a status page without auth that renders API data as text only', async () => {
  await withApi(async (h) => {
    const res = await fetch(`${h.url}/status`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const html = await res.text();
    assert.match(
      html,
      /fetch\(path, \{ headers: \{ authorization: 'Bearer '/,
      'calls the API with the bearer token',
    );
    assert.match(html, /\/v1\/pipelines/);
    assert.doesNotMatch(
      html,
      /innerHTML|insertAdjacentHTML|document\.write/,
      'API values are never parsed as HTML',
    );
    assert.doesNotMatch(html, /https?:\/\//i, 'no external resources');
  });
});

test('bad input: 4xx with field paths and nothing changed', async () => {
  await withApi(async (h) => {
    await registerStackDatasources(h);
    const s = { kind: 'mariadb', host: '127.0.0.1', port: 3306, user: 'root' };
    // Datasources: wrong types, missing and unknown fields, names that could be SQL or quoting tricks.
    await expectRejected(h, 'POST', '/v1/datasources', { ...s, name: 'a', port: '3306' }, 400, 'port');
    await expectRejected(h, 'POST', '/v1/datasources', { ...s, name: 'a', port: 70000 }, 400, 'port');
    await expectRejected(
      h,
      'POST',
      '/v1/datasources',
      { name: 'a', kind: 'mariadb', port: 1, user: 'u' },
      400,
      'host',
    );
    await expectRejected(h, 'POST', '/v1/datasources', { ...s, name: 'a', sslmode: 'off' }, 400, 'sslmode');
    await expectRejected(
      h,
      'POST',
      '/v1/datasources',
      { ...s, name: 'a', passwordFile: '/etc/shadow' },
      400,
      'passwordFile',
    );
    await expectRejected(h, 'POST', '/v1/datasources', { ...s, name: 'a', kind: 'postgres' }, 400, 'kind');
    for (const bad of ["a'b", 'a`b', 'x; DROP TABLE t', "a' OR '1'='1", 'a"b', 'a b', '../etc'])
      await expectRejected(h, 'POST', '/v1/datasources', { ...s, name: bad }, 400, 'name');
    await expectRejected(h, 'POST', '/v1/datasources', '{"name": "a",', 400);
    await expectRejected(h, 'POST', '/v1/datasources', '[1,2]', 400);
    const huge = { ...s, name: 'big', user: 'x'.repeat(300 * 1024) };
    await expectRejected(h, 'POST', '/v1/datasources', huge, 413);
    const noType = await fetch(`${h.url}/v1/datasources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.adminToken}` },
      body: JSON.stringify({ ...s, name: 'a' }),
    });
    assert.equal(noType.status, 400);

    // Pipelines.
    const p = uniqueName('p_bad');
    await expectRejected(
      h,
      'POST',
      '/v1/pipelines',
      { ...pipelineBody(p), mappings: 'all' },
      400,
      'mappings',
    );
    await expectRejected(
      h,
      'POST',
      '/v1/pipelines',
      { name: p, source: 'src', target: 'dst' },
      400,
      'mappings',
    );
    await expectRejected(
      h,
      'POST',
      '/v1/pipelines',
      { ...pipelineBody(p), options: { turbo: true } },
      400,
      'options.turbo',
    );
    await expectRejected(
      h,
      'POST',
      '/v1/pipelines',
      { ...pipelineBody(p), options: { batchSize: 'many' } },
      400,
      'options.batchSize',
    );
    for (const bad of ["p'1", 'p`1', 'p; DROP DATABASE x', "p' --"])
      await expectRejected(h, 'POST', '/v1/pipelines', pipelineBody(bad), 400, 'name');
    await expectRejected(h, 'POST', '/v1/pipelines', pipelineBody(p, "src'"), 400, 'source');
    await expectRejected(h, 'POST', '/v1/pipelines', pipelineBody(p, 'nosuch'), 422, 'source');
    await expectRejected(
      h,
      'POST',
      '/v1/pipelines',
      { ...pipelineBody(p), mappings: Array(20000).fill({ source: { schema: 's', table: 't' } }) },
      413,
    );
    await assertNoWorkflow(h, p);

    // Names in URLs are checked before anything is looked up.
    for (const bad of ["a'b", 'a%60b', 'x%3B%20DROP%20TABLE%20t', 'a%22b'])
      for (const [m, u] of [
        ['GET', `/v1/datasources/${bad}`],
        ['POST', `/v1/datasources/${bad}/test`],
        ['GET', `/v1/pipelines/${bad}/status`],
        ['POST', `/v1/pipelines/${bad}/start`],
        ['DELETE', `/v1/pipelines/${bad}`],
      ] as const)
        await expectRejected(h, m, u, undefined, 400, 'name');

    // Unknown names → 404; conflicting states → 409.
    await expectRejected(h, 'GET', '/v1/datasources/nosuch', undefined, 404);
    await expectRejected(h, 'POST', '/v1/pipelines/nosuch/start', undefined, 404);
    await expectRejected(h, 'GET', '/v1/pipelines/nosuch/status', undefined, 404);
    await expectRejected(h, 'PUT', '/v1/pipelines/nosuch', pipelineBody('nosuch'), 404);
    await expectRejected(h, 'POST', '/v1/datasources', { ...s, name: 'src' }, 409);
    assert.equal((await h.call('POST', '/v1/pipelines', pipelineBody(p))).status, 201);
    await expectRejected(h, 'POST', '/v1/pipelines', pipelineBody(p), 409);
    await expectRejected(h, 'DELETE', '/v1/datasources/src', undefined, 409);
    await expectRejected(h, 'POST', `/v1/pipelines/${p}/pause`, undefined, 409);
    await expectRejected(h, 'PUT', `/v1/pipelines/${p}`, pipelineBody('renamed'), 422, 'name');
    await expectRejected(h, 'PUT', `/v1/pipelines/${p}`, { ...pipelineBody(p), extra: 1 }, 400, 'extra');
    await assertNoWorkflow(h, p);
  });
});

test('a datasource that does not answer: 422 from /test and from start, nothing started', async () => {
  await withApi(async (h) => {
    await registerStackDatasources(h);
    const port = await freePort();
    const dead = { name: 'dead', kind: 'mariadb', host: '127.0.0.1', port, user: 'root' };
    assert.equal((await h.call('POST', '/v1/datasources', dead)).status, 201);
    const t = await h.call('POST', '/v1/datasources/dead/test');
    assert.equal(t.status, 422, t.text);
    assert.match(t.body.detail, new RegExp(`does not answer: connection to 127\\.0\\.0\\.1:${port} refused`));
    assert.equal((await h.call('POST', '/v1/datasources/dead/check')).status, 422);
    assert.equal((await h.call('POST', '/v1/datasources/src/test')).status, 200);

    for (const [source, target] of [
      ['dead', 'dst'],
      ['src', 'dead'],
    ]) {
      const name = uniqueName('p_dead');
      assert.equal((await h.call('POST', '/v1/pipelines', pipelineBody(name, source, target))).status, 201);
      await expectRejected(h, 'POST', `/v1/pipelines/${name}/start`, undefined, 422);
      const again = await h.call('POST', `/v1/pipelines/${name}/start`);
      assert.match(again.body.detail, /cannot start pipeline .*"dead" does not answer/);
      await assertNoWorkflow(h, name);
    }
  });
});

/** A private MariaDB (port base+800–899 of test/helpers/ports.ts) that logs statements instead of rows. */
async function withStatementBinlogServer<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const tools = findMariaDb();
  if (!tools) throw new Error('mariadbd is not installed');
  const port = privatePort(800 + Math.floor(Math.random() * 100));
  const dir = path.join(projectRoot, '.otterflow', 'scratch', 'api', `stmt-${port}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const spec = { name: 'stmt', host: '127.0.0.1', port, serverId: 901, dir, runDir: dir };
  initDataDir(spec, tools);
  const args = [
    ...mariadbdArgs(spec).filter(
      (a) => !/^--(binlog-format|innodb-buffer-pool-size|innodb-log-file-size)=/.test(a),
    ),
    '--binlog-format=STATEMENT',
    '--innodb-buffer-pool-size=32M',
    '--innodb-log-file-size=16M',
  ];
  const pid = spawnDetached(tools.mariadbd, args, { logFile: path.join(dir, 'stdout.log') });
  const rec: PidRecord = { name: 'stmt', pid, marker: dataDir(spec), startedAt: new Date().toISOString() };
  try {
    await eventually(
      'the STATEMENT-binlog mariadbd',
      async () => {
        if (!isOurProcessAlive(rec))
          throw new Error(fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-800));
        const c = await mysql.createConnection({
          host: '127.0.0.1',
          port,
          user: 'root',
          connectTimeout: 1000,
        });
        await c.end();
        return true;
      },
      60_000,
    );
    return await fn(port);
  } finally {
    await stopProcess(rec, 30_000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a source without ROW binlog: check names the setting, start is refused, nothing started', async () => {
  await withStatementBinlogServer(async (port) => {
    await withApi(async (h) => {
      await registerStackDatasources(h);
      const stmt = { name: 'stmt', kind: 'mariadb', host: '127.0.0.1', port, user: 'root' };
      assert.equal((await h.call('POST', '/v1/datasources', stmt)).status, 201);
      const check = await h.call('POST', '/v1/datasources/stmt/check');
      assert.equal(check.status, 200, check.text);
      assert.equal(check.body.ready, false);
      const failed = check.body.checks.filter((c: { ok: boolean }) => !c.ok);
      assert.deepEqual(
        failed.map((c: { name: string }) => c.name),
        ['binlog_format'],
      );
      assert.equal(failed[0].actual, 'STATEMENT');
      assert.match(failed[0].fix, /SET GLOBAL binlog_format = 'ROW'/);
      const good = await h.call('POST', '/v1/datasources/src/check');
      assert.equal(good.body.ready, true, good.text);

      const name = uniqueName('p_stmt');
      assert.equal((await h.call('POST', '/v1/pipelines', pipelineBody(name, 'stmt', 'dst'))).status, 201);
      await expectRejected(h, 'POST', `/v1/pipelines/${name}/start`, undefined, 422, 'source.binlog_format');
      const r = await h.call('POST', `/v1/pipelines/${name}/start`);
      assert.match(r.body.detail, /binlog_format is STATEMENT \(fix: SET GLOBAL binlog_format = 'ROW'/);
      await assertNoWorkflow(h, name);
    });
  });
});

test('a known path with an undeclared method → 405 with Allow; an unknown path → 404', async () => {
  await withApi(async (h) => {
    for (const [method, p, allow] of [
      ['PATCH', '/v1/datasources', 'GET, POST, HEAD'],
      ['PATCH', '/v1/datasources/src', 'GET, PUT, DELETE, HEAD'],
      ['GET', '/v1/pipelines/p1/start', 'POST'],
      ['DELETE', '/healthz', 'GET, HEAD'],
    ] as const) {
      const r = await h.call(method, p);
      assert.equal(r.status, 405, `${method} ${p}: ${r.text}`);
      assert.equal(r.headers.get('allow'), allow, `${method} ${p}`);
      assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
    }
    assert.equal((await h.call('PATCH', '/v1/nothing-here')).status, 404);
    // The query is checked against the schema the document shows.
    for (const limit of ['0', '1001', 'x', '1.5'])
      await expectRejected(h, 'GET', `/v1/pipelines/p1/conflicts?limit=${limit}`, undefined, 400, 'limit');
  });
});
