import fs from 'node:fs';
import mysql from 'mysql2/promise';
import { readServerBinlogState } from '../binlog/replica/server-state';
import type { StackSettings } from '../config/stack';
import type { PipelineConfigInput } from '../pipeline/config';
import { devTokensFile } from '../service/api-tokens';

/**
 * The demo behind `npm start`: a sample schema on the source, a pipeline to the target created and
 * started through the REST API, a stream of inserts/updates/deletes, and the rows arriving on the
 * target with lag and throughput — then the stack is left running for the Web UI and the API.
 */
const DEMO_DB = 'otterflow_demo';
const PIPELINE = 'demo';
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS customers (
     id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL,
     balance DECIMAL(18,4) NOT NULL, updated_at DATETIME(6) NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS orders (
     id BIGINT UNSIGNED PRIMARY KEY, customer_id BIGINT UNSIGNED NOT NULL, amount DECIMAL(12,2) NOT NULL,
     status ENUM('new','paid','shipped','cancelled') NOT NULL, note JSON NULL, created_at TIMESTAMP(3) NOT NULL)`,
];

export async function runDemo(s: StackSettings, seconds = 20): Promise<void> {
  const api = new ApiClient(`http://${s.host}:${s.apiPort}`, adminToken(s.home));
  const source = await connect(s, s.sourcePort);
  const target = await connect(s, s.targetPort);
  try {
    const existing = await api.call('GET', `/v1/pipelines/${PIPELINE}/status`).catch(() => undefined);
    const running = (existing as { state?: string } | undefined)?.state === 'running';
    if (!running) {
      // Tables first, then the pipeline from the position after them (the demo applies no DDL).
      for (const conn of [source, target]) {
        await conn.query(`CREATE DATABASE IF NOT EXISTS ${DEMO_DB}`);
        for (const ddl of SCHEMA) await conn.query(`USE ${DEMO_DB}`).then(() => conn.query(ddl));
      }
      const config: PipelineConfigInput = {
        name: PIPELINE,
        source: 'source',
        target: 'target',
        mappings: [{ source: { schema: DEMO_DB, table: '/.*/' } }],
        options: { maxBatchDelayMs: 200 },
      };
      await api.call('DELETE', `/v1/pipelines/${PIPELINE}?force=true`).catch(() => undefined);
      await target
        .query('DELETE FROM otterflow.checkpoints WHERE pipeline = ?', [PIPELINE])
        .catch(() => undefined);
      for (const t of ['orders', 'customers']) {
        await source.query(`TRUNCATE ${DEMO_DB}.${t}`);
        await target.query(`TRUNCATE ${DEMO_DB}.${t}`);
      }
      await api.call('POST', '/v1/pipelines', { ...config, start: await startHere(source) });
      await api.call('POST', `/v1/pipelines/${PIPELINE}/start`);
      console.log(`\nPipeline "${PIPELINE}" created and started through the API (${DEMO_DB}.* → target).`);
    } else {
      console.log(`\nPipeline "${PIPELINE}" is already running; writing more changes.`);
    }
    await writeAndWatch(source, target, api, seconds);
  } finally {
    await source.end();
    await target.end();
  }
}

async function writeAndWatch(
  source: mysql.Connection,
  target: mysql.Connection,
  api: ApiClient,
  seconds: number,
) {
  const [[maxRow]] = await source.query<mysql.RowDataPacket[]>(
    `SELECT COALESCE(MAX(id), 0) AS m FROM ${DEMO_DB}.orders`,
  );
  let nextOrder = Number(maxRow?.m ?? 0) + 1;
  const end = Date.now() + seconds * 1000;
  let nextReport = Date.now() + 2000;
  let txns = 0;
  console.log(`Writing inserts, updates and deletes on the source for ${seconds} s…`);
  while (Date.now() < end) {
    // One source transaction: a customer upsert, an order insert, an order status change, sometimes a delete.
    const c = 1 + Math.floor(Math.random() * 500);
    await source.query(
      `START TRANSACTION;
       INSERT INTO ${DEMO_DB}.customers VALUES (?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance), updated_at = NOW(6);
       INSERT INTO ${DEMO_DB}.orders VALUES (?, ?, ?, 'new', JSON_OBJECT('via', 'demo', 'n', ?), NOW(3));
       UPDATE ${DEMO_DB}.orders SET status = 'paid' WHERE id = ?;
       ${Math.random() < 0.1 ? `DELETE FROM ${DEMO_DB}.orders WHERE id = ${Math.max(1, nextOrder - 50)};` : ''}
       COMMIT`,
      [
        c,
        `customer ${c} 🦦`,
        (Math.random() * 100).toFixed(4),
        nextOrder,
        c,
        (Math.random() * 500).toFixed(2),
        nextOrder,
        nextOrder - 1,
      ],
    );
    nextOrder++;
    txns++;
    if (Date.now() >= nextReport) {
      nextReport += 2000;
      await report(source, target, api, txns);
    }
  }
  // Let the last batch land, then show the final state.
  for (let i = 0; i < 30; i++) {
    if (await sameCounts(source, target)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await report(source, target, api, txns);
  const equal = await sameCounts(source, target);
  console.log(equal ? 'Source and target hold the same rows.' : 'Target still catching up (see the status).');
  console.log(`Watch it live:  node bin/otterflow.js pipeline status ${PIPELINE} --watch`);
}

async function report(source: mysql.Connection, target: mysql.Connection, api: ApiClient, txns: number) {
  const counts = await Promise.all([count(source), count(target)]);
  const st = (await api.call('GET', `/v1/pipelines/${PIPELINE}/status`).catch(() => ({}))) as {
    state?: string;
    rowsApplied?: number;
    lagMs?: number;
    rowsPerSecond?: number;
  };
  console.log(
    `  ${txns} source txns | orders source ${counts[0]} / target ${counts[1]} | state ${st.state ?? '?'} | ` +
      `rows applied ${st.rowsApplied ?? 0} | lag ${st.lagMs ?? '?'} ms | ${st.rowsPerSecond ?? 0} rows/s`,
  );
}

async function sameCounts(a: mysql.Connection, b: mysql.Connection): Promise<boolean> {
  const [x, y] = await Promise.all([checksum(a), checksum(b)]);
  return x === y;
}

async function checksum(c: mysql.Connection): Promise<string> {
  const [rows] = await c.query<mysql.RowDataPacket[]>(
    `CHECKSUM TABLE ${DEMO_DB}.customers, ${DEMO_DB}.orders`,
  );
  return rows.map((r) => String(r.Checksum)).join(',');
}

async function count(c: mysql.Connection): Promise<number> {
  const [[r]] = await c.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${DEMO_DB}.orders`);
  return Number(r?.n ?? 0);
}

/** The source's current position: after the demo's own DDL and TRUNCATEs, which the pipeline must not see. */
async function startHere(source: mysql.Connection): Promise<PipelineConfigInput['start']> {
  const p = await readServerBinlogState(source);
  return { file: p.file, pos: p.pos };
}

function connect(s: StackSettings, port: number) {
  return mysql.createConnection({
    host: s.host,
    port,
    user: 'root',
    multipleStatements: true,
    dateStrings: true,
  });
}

function adminToken(home: string): string {
  if (process.env.OTTERFLOW_TOKEN) return process.env.OTTERFLOW_TOKEN;
  const entries = JSON.parse(fs.readFileSync(devTokensFile(home), 'utf8')) as Array<{
    role: string;
    token?: string;
  }>;
  const admin = entries.find((e) => e.role === 'admin' && e.token);
  if (!admin?.token) throw new Error(`no admin token in ${devTokensFile(home)}; set OTTERFLOW_TOKEN`);
  return admin.token;
}

class ApiClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!res.ok)
      throw new Error(`${method} ${path}: ${res.status} ${(json as { detail?: string })?.detail ?? text}`);
    return json;
  }
}
