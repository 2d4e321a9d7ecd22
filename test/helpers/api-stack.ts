import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import mysql from 'mysql2/promise';
import pino from 'pino';
import { type RunningApi, startApiServer } from '../../src/api/server';
import { openMysqlCatalog } from '../../src/catalog/mysql-catalog';
import type { Catalog } from '../../src/catalog/types';
import { localCatalogUrl } from '../../src/catalog/url';
import { projectRoot, temporalAddress } from '../../src/config/stack';
import { parseApiTokens } from '../../src/service/api-tokens';
import { secretsDir } from '../../src/service/secrets';
import { createWorker } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';
import { testStack, uniqueName } from './stack';

/** An API served in-process on a free port, over a temp OTTERFLOW_HOME, with a worker of its own. */
export interface ApiHarness {
  url: string;
  home: string;
  taskQueue: string;
  client: Client;
  worker: Worker;
  /** The catalog database of this harness (a database of its own on the test stack's target). */
  catalog: Catalog;
  catalogUrl: string;
  adminToken: string;
  readonlyToken: string;
  /** Everything the API logged (JSON lines). */
  logs: () => string;
  /** fetch against the API with the admin token (or `token: null` for none). */
  call: (method: string, path: string, body?: unknown, token?: string | null) => Promise<ApiResponse>;
}

export interface ApiResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
  body: any;
  text: string;
  headers: Headers;
}

/**
 * `h.call` that asserts the status (200 unless given) and returns the body: for test steps that
 * must succeed, with the response text in the failure message.
 */
export function expectStatus(h: ApiHarness) {
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
  return async (method: string, p: string, body?: unknown, status = 200): Promise<any> => {
    const r = await h.call(method, p, body);
    if (r.status !== status)
      throw new Error(`${method} ${p}: expected ${status}, got ${r.status}: ${r.text}`);
    return r.body;
  };
}

/**
 * Runs `fn` with an API server (in-process, port 0, temp home, tokens of its own) and a Temporal
 * worker on a task queue unique to the test, both reading a catalog database of the harness's own
 * (dropped afterwards), so the worker resolves the datasources the API registered.
 */
export async function withApi<T>(fn: (h: ApiHarness) => Promise<T>): Promise<T> {
  const s = testStack();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-api-'));
  const taskQueue = uniqueName('tq_api');
  const catalogUrl = localCatalogUrl(s.host, s.targetPort).replace(
    /otterflow_catalog$/,
    uniqueName('otf_cat'),
  );
  const catalog = await openMysqlCatalog(catalogUrl, { createDatabase: true });
  const adminToken = `adm_${randomBytes(16).toString('hex')}`;
  const readonlyToken = `ro_${randomBytes(16).toString('hex')}`;
  const tokens = parseApiTokens(
    JSON.stringify([
      { name: 'test-admin', role: 'admin', token: adminToken },
      { name: 'test-readonly', role: 'readonly', token: readonlyToken },
    ]),
    'test',
  );
  let logText = '';
  const logger = pino(
    { level: 'debug', redact: { paths: ['password', '*.password', '*.*.password'], censor: '[redacted]' } },
    new Writable({
      write(chunk, _enc, done) {
        logText += String(chunk);
        done();
      },
    }),
  );
  installRuntime();
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress(s) });
  const connection = await Connection.connect({ address: temporalAddress(s) });
  const client = new Client({ connection, namespace: s.namespace });
  let api: RunningApi | undefined;
  try {
    const worker = await createWorker(nativeConnection, {
      namespace: s.namespace,
      taskQueue,
      home,
      datasources: catalog.datasources,
    });
    api = await startApiServer({
      catalog,
      secretsDir: secretsDir(home),
      host: '127.0.0.1',
      port: 0,
      taskQueue,
      client,
      tokens,
      logger,
    });
    const url = api.url;
    const call = async (method: string, p: string, body?: unknown, token: string | null = adminToken) => {
      const res = await fetch(`${url}${p}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    };
    return await worker.runUntil(
      fn({
        url,
        home,
        taskQueue,
        client,
        worker,
        catalog,
        catalogUrl,
        adminToken,
        readonlyToken,
        logs: () => logText,
        call,
      }),
    );
  } finally {
    await api?.close();
    await catalog.close();
    await dropCatalogDatabase(catalogUrl);
    await connection.close();
    await nativeConnection.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** Registers the test stack's source and target MariaDB (root, no password) under the given names. */
export async function registerStackDatasources(h: ApiHarness, names = { source: 'src', target: 'dst' }) {
  const s = testStack();
  for (const [which, port] of [
    ['source', s.sourcePort],
    ['target', s.targetPort],
  ] as const) {
    const r = await h.call('POST', '/v1/datasources', {
      name: names[which],
      kind: 'mariadb',
      host: s.host,
      port,
      user: 'root',
    });
    if (r.status !== 201) throw new Error(`registering ${which}: ${r.status} ${r.text}`);
  }
  return names;
}

/** Polls `probe` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Drops a test's catalog database. */
export async function dropCatalogDatabase(url: string): Promise<void> {
  const s = testStack();
  const database = new URL(url).pathname.slice(1);
  const conn = await mysql.createConnection({ host: s.host, port: s.targetPort, user: 'root' });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}

const run = promisify(execFile);

/** `otterflow verify …` against the test API with its admin token; resolves to what it printed. */
export function verifyCli(h: ApiHarness) {
  return async (...args: string[]) =>
    (
      await run(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), 'verify', ...args], {
        env: { ...process.env, OTTERFLOW_API_URL: h.url, OTTERFLOW_TOKEN: h.adminToken },
      })
    ).stdout;
}
