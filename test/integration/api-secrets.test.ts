import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import mysql from 'mysql2/promise';
import { localCatalogUrl } from '../../src/catalog/url';
import { projectRoot, temporalAddress } from '../../src/config/stack';
import { dropCatalogDatabase, eventually } from '../helpers/api-stack';
import { freshDatabases, testStack, uniqueName } from '../helpers/stack';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Every row of every table of a catalog database, as text. */
async function catalogDump(url: string): Promise<string> {
  const u = new URL(url);
  const conn = await mysql.createConnection({ host: u.hostname, port: Number(u.port), user: u.username });
  try {
    const db = u.pathname.slice(1);
    const parts: string[] = [];
    for (const table of ['datasources', 'pipelines', 'api_tokens', 'schema_migrations']) {
      const [rows] = await conn.query(`SELECT * FROM \`${db}\`.\`${table}\``);
      parts.push(JSON.stringify(rows));
    }
    assert.match(parts[0] ?? '', /sec-src/, 'the catalog holds the datasource');
    return parts.join('\n');
  } finally {
    await conn.end();
  }
}

/** Starts `otterflow <command>` as its own process, output into `logFile`. */
function startProcess(command: string, env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), command], {
    env,
    stdio: ['ignore', out, out],
    cwd: projectRoot,
  });
  fs.closeSync(out);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

test('no password in clear in Temporal history, API and worker logs, API responses or stores', async (t) => {
  const s = testStack();
  const db = await freshDatabases(t, 'sec');
  await db.source.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100))');
  await db.target.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100))');

  // A real user with a real password on both servers: the pipeline can only work if the worker
  // resolved the password the API stored.
  const user = uniqueName('otf');
  const password = `Pw-${randomBytes(12).toString('hex')}`;
  for (const conn of [db.source, db.target]) {
    await conn.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
    await conn.query(`GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`);
  }
  t.after(async () => {
    for (const conn of [db.source, db.target])
      await conn.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => {});
  });

  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-sec-'));
  const token = `adm_${randomBytes(16).toString('hex')}`;
  const apiPort = await freePort();
  // Both processes share a catalog database (as a deployment does) and this home for the secret.
  const catalogUrl = localCatalogUrl(s.host, s.targetPort).replace(
    /otterflow_catalog$/,
    uniqueName('otf_cat'),
  );
  t.after(() => dropCatalogDatabase(catalogUrl));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OTTERFLOW_HOME: home,
    OTTERFLOW_CATALOG_URL: catalogUrl,
    OTTERFLOW_TASK_QUEUE: uniqueName('tq_sec'),
    OTTERFLOW_API_PORT: String(apiPort),
    OTTERFLOW_METRICS_PORT: String(await freePort()),
    OTTERFLOW_API_TOKENS: JSON.stringify([{ name: 'sec-admin', role: 'admin', token }]),
    OTTERFLOW_LOG_LEVEL: 'debug',
    OTTERFLOW_SDK_LOG_LEVEL: 'DEBUG',
  };
  const apiLog = path.join(home, 'api.log');
  const workerLog = path.join(home, 'worker.log');
  const api = startProcess('api', env, apiLog);
  const worker = startProcess('worker', env, workerLog);
  const connection = await Connection.connect({ address: temporalAddress(s) });
  const client = new Client({ connection, namespace: s.namespace });
  const responses: string[] = [];
  const url = `http://127.0.0.1:${apiPort}`;
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    responses.push(text);
    return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
  };
  const name = uniqueName('sec');
  try {
    await eventually('the API process', async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined));
    for (const [ds, port] of [
      ['sec-src', s.sourcePort],
      ['sec-dst', s.targetPort],
    ] as const) {
      const r = await call('POST', '/v1/datasources', {
        name: ds,
        kind: 'mariadb',
        host: s.host,
        port,
        user,
        password,
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.passwordSource, 'stored');
      assert.equal((await call('POST', `/v1/datasources/${ds}/test`)).status, 200);
    }
    // A wrong password is reported without echoing it.
    const wrong = `Wr-${randomBytes(8).toString('hex')}`;
    await call('PUT', '/v1/datasources/sec-dst', {
      kind: 'mariadb',
      host: s.host,
      port: s.targetPort,
      user,
      password: wrong,
    });
    const denied = await call('POST', '/v1/datasources/sec-dst/test');
    assert.equal(denied.status, 422);
    assert.match(denied.body.detail, /access denied/);
    assert.ok(!denied.text.includes(wrong));
    await call('PUT', '/v1/datasources/sec-dst', {
      kind: 'mariadb',
      host: s.host,
      port: s.targetPort,
      user,
      password,
    });
    assert.equal((await call('POST', '/v1/datasources/sec-src/check')).body.ready, true);
    await call('GET', '/v1/datasources');
    await call('GET', '/v1/datasources/sec-src');

    const [master] = await db.source.query('SHOW MASTER STATUS');
    const start = (master as Array<{ File: string; Position: number }>)[0]!;
    const created = await call('POST', '/v1/pipelines', {
      name,
      source: 'sec-src',
      target: 'sec-dst',
      mappings: [{ source: { schema: db.name, table: 'items' } }],
      start: { file: start.File, pos: Number(start.Position) },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal((await call('POST', `/v1/pipelines/${name}/start`)).status, 202);
    await db.source.query(`INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
    await eventually('rows on the target', async () => {
      const [rows] = await db.target.query('SELECT COUNT(*) AS n FROM items');
      return Number((rows as Array<{ n: unknown }>)[0]?.n) === 3 ? true : undefined;
    });
    await call('GET', `/v1/pipelines/${name}/status`);
    await call('GET', `/v1/pipelines/${name}`);
    assert.equal((await call('POST', `/v1/pipelines/${name}/stop`)).status, 200);

    // The full history of the pipeline, every event and payload, as the bytes Temporal stores.
    const history = await client.workflow.getHandle(`pipeline:${name}`).fetchHistory();
    assert.ok((history.events?.length ?? 0) > 5);
    const historyBytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    const forms = [password, Buffer.from(password).toString('base64'), Buffer.from(password).toString('hex')];
    for (const form of forms)
      assert.equal(historyBytes.includes(form), false, `history holds the password (${form})`);
    assert.ok(historyBytes.includes('sec-src'), 'the history names the datasource (and nothing more)');

    const apiText = fs.readFileSync(apiLog, 'utf8');
    const workerText = fs.readFileSync(workerLog, 'utf8');
    assert.match(apiText, /"msg":"request"/, 'the API logged its requests');
    assert.ok(workerText.length > 0, 'the worker logged');
    for (const [what, text] of [
      ['API log', apiText],
      ['worker log', workerText],
      ['API responses', responses.join('\n')],
      ['catalog database', await catalogDump(catalogUrl)],
    ] as const) {
      for (const form of forms) assert.equal(text.includes(form), false, `${what} holds the password`);
    }
    // It is kept in one place: a file only its owner can read.
    const secret = path.join(home, 'secrets', 'datasource-sec-src.password');
    assert.equal(fs.readFileSync(secret, 'utf8'), password);
    assert.equal(fs.statSync(secret).mode & 0o777, 0o600);
  } finally {
    await stopChild(api);
    await stopChild(worker);
    await connection.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
});
