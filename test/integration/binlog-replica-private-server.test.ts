/**
 * Replica behaviour that needs a server of our own (a private mariadbd on port base+311 of test/helpers/ports.ts, data under
 * .otterflow/scratch/replica/): idle heartbeats, a frozen server detected as stalled, backpressure
 * with a slow consumer, resume across a server restart, purged positions.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import {
  type BinlogStream,
  BinlogStreamError,
  type BinlogStreamOptions,
  listBinaryLogs,
  openBinlogStream,
  readServerBinlogState,
  type StartPosition,
} from '../../src/binlog/replica';
import { projectRoot } from '../../src/config/stack';
import { instanceRecord, type MariaDbInstanceSpec, startMariaDb } from '../../src/devstack/mariadb';
import { sleep, stopProcess } from '../../src/devstack/processes';
import { findMariaDb } from '../../src/devstack/tools';
import { privatePort } from '../helpers/ports';

const dir = path.join(projectRoot, '.otterflow', 'scratch', 'replica', 'mariadb-24311');
const spec: MariaDbInstanceSpec = {
  name: 'replica-test',
  host: '127.0.0.1',
  port: privatePort(311),
  serverId: 311,
  dir,
  runDir: path.join(dir, 'run'),
};
const tools = findMariaDb();
let admin: mysql.Connection;

async function connect(): Promise<mysql.Connection> {
  return mysql.createConnection({ host: spec.host, port: spec.port, user: 'root', multipleStatements: true });
}

function options(start: StartPosition, extra: Partial<BinlogStreamOptions> = {}): BinlogStreamOptions {
  return {
    host: spec.host,
    port: spec.port,
    user: 'root',
    serverId: randomInt(100000, 2 ** 31),
    start,
    heartbeatSeconds: 1,
    ...extra,
  };
}

before(async () => {
  if (!tools) throw new Error('mariadbd is not installed');
  await startMariaDb(spec, tools);
  admin = await connect();
  await admin.query(
    'DROP DATABASE IF EXISTS rpl; CREATE DATABASE rpl; CREATE TABLE rpl.t (id INT PRIMARY KEY, v TEXT)',
  );
});

after(async () => {
  await admin?.end().catch(() => {});
  const rec = instanceRecord(spec);
  if (rec) await stopProcess(rec);
});

/** Reads until a row with `untilId` is inserted into rpl.t; returns the inserted ids. */
async function idsUntil(stream: BinlogStream, untilId: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const ev of stream) {
    if (ev.event.kind === 'rows' && ev.event.table.schema === 'rpl') {
      for (const r of ev.event.rows) if (r.kind === 'insert') ids.push(Number(r.after[0]));
    }
    if (ev.commit && ids[ids.length - 1] === untilId) break;
  }
  return ids;
}

test('heartbeats keep an idle stream alive', { timeout: 60000 }, async () => {
  const stream = await openBinlogStream(options(await readServerBinlogState(admin)));
  try {
    // Idle for several heartbeat periods (and longer than the 3-period stall limit).
    await sleep(4500);
    assert.ok(stream.stats().heartbeats >= 2, `heartbeats seen: ${stream.stats().heartbeats}`);
    await admin.query("INSERT INTO rpl.t VALUES (1, 'after idle')");
    assert.deepEqual(await idsUntil(stream, 1), [1], 'the stream still delivers after the idle time');
  } finally {
    await stream.close();
  }
});

test('a frozen server (no events, no heartbeats) is reported as a stalled stream', {
  timeout: 60000,
}, async () => {
  const stream = await openBinlogStream(options(await readServerBinlogState(admin)));
  const rec = instanceRecord(spec);
  assert.ok(rec);
  const reading = idsUntil(stream, -1);
  process.kill(rec.pid, 'SIGSTOP');
  try {
    await assert.rejects(reading, (err: unknown) => {
      assert.ok(err instanceof BinlogStreamError, String(err));
      assert.equal(err.kind, 'stalled');
      assert.match(err.message, /no event and no heartbeat/);
      return true;
    });
  } finally {
    process.kill(rec.pid, 'SIGCONT');
    await stream.close();
  }
});

test('a slow consumer pauses the socket: the queue stays bounded while thousands of rows flow', {
  timeout: 180000,
}, async (t) => {
  const start = await readServerBinlogState(admin);
  const highWaterEvents = 64;
  const highWaterBytes = 256 * 1024;
  const stream = await openBinlogStream(options(start, { highWaterEvents, highWaterBytes }));
  const filler = 'x'.repeat(2000);
  const total = 6000;
  // 600 transactions of 10 rows of ~2 KB: ~12 MB of binlog, far more than socket buffers.
  for (let trx = 0; trx < total / 10; trx++) {
    const values = Array.from({ length: 10 }, (_, i) => `(${10000 + trx * 10 + i}, '${filler}')`).join(',');
    await admin.query(`INSERT INTO rpl.t VALUES ${values}`);
  }
  let seen = 0;
  let next = 10000;
  let maxEvents = 0;
  let maxBytes = 0;
  try {
    for await (const ev of stream) {
      const q = stream.stats().queue;
      maxEvents = Math.max(maxEvents, q.length);
      maxBytes = Math.max(maxBytes, q.bytes);
      if (ev.event.kind === 'rows' && ev.event.table.schema === 'rpl') {
        for (const r of ev.event.rows) {
          assert.equal(Number(r.kind === 'insert' ? r.after[0] : -1), next++, 'rows in order, none lost');
          seen++;
        }
        // The slow consumer: a pause every few events lets the socket run ahead if it could.
        if (seen % 50 === 0) await sleep(5);
      }
      if (seen === total && ev.commit) break;
    }
  } finally {
    await stream.close();
  }
  const stats = stream.stats();
  t.diagnostic(
    `rows ${seen}, events ${stats.events}, bytes ${stats.bytes}, queue ${JSON.stringify(stats.queue)}`,
  );
  assert.equal(seen, total);
  assert.ok(stats.queue.pauses > 0, 'the socket was paused at least once');
  assert.ok(stats.queue.maxLength <= highWaterEvents, `queue peaked at ${stats.queue.maxLength} events`);
  // One event may cross the byte mark before the pause takes effect.
  assert.ok(
    stats.queue.maxBytes <= highWaterBytes + 64 * 1024,
    `queue peaked at ${stats.queue.maxBytes} bytes`,
  );
  assert.ok(maxEvents <= highWaterEvents && maxBytes <= highWaterBytes + 64 * 1024);
});

test('resumes by GTID and by file/position across a server restart, no row lost or repeated', {
  timeout: 180000,
}, async () => {
  const tools2 = tools!;
  await admin.query('CREATE TABLE IF NOT EXISTS rpl.r (id INT PRIMARY KEY)');
  const start = await readServerBinlogState(admin);
  for (let i = 1; i <= 10; i++) await admin.query('INSERT INTO rpl.r VALUES (?)', [i]);
  const stream = await openBinlogStream(options(start));
  const seen1: number[] = [];
  let commits = 0;
  // Keeps reading until the server goes away; the outcome is captured so the failure is asserted on.
  const outcome = (async () => {
    for await (const ev of stream) {
      if (ev.event.kind === 'rows' && ev.event.table.table === 'r') {
        for (const r of ev.event.rows) if (r.kind === 'insert') seen1.push(Number(r.after[0]));
      }
      if (ev.commit) commits = seen1.length;
    }
  })().then(
    () => undefined,
    (err: unknown) => err,
  );
  while (commits < 10) await sleep(50);
  const resume = stream.committedPosition();
  // Restart the server under the stream.
  await admin.end();
  const rec = instanceRecord(spec);
  assert.ok(rec);
  await stopProcess(rec);
  const err = await outcome;
  assert.ok(
    err instanceof BinlogStreamError && err.kind === 'connection-lost',
    `stream ended with ${String(err)}`,
  );
  await startMariaDb(spec, tools2);
  admin = await connect();
  for (let i = 11; i <= 20; i++) await admin.query('INSERT INTO rpl.r VALUES (?)', [i]);
  assert.deepEqual(seen1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok('file' in resume && resume.gtid);

  for (const from of [resume, { gtid: resume.gtid! }] as StartPosition[]) {
    const s2 = await openBinlogStream(options(from));
    const seen2: number[] = [];
    const files = new Set<string>();
    try {
      for await (const ev of s2) {
        if (ev.file) files.add(ev.file);
        if (ev.event.kind === 'rows' && ev.event.table.table === 'r')
          for (const r of ev.event.rows) if (r.kind === 'insert') seen2.push(Number(r.after[0]));
        if (ev.commit && seen2[seen2.length - 1] === 20) break;
      }
    } finally {
      await s2.close();
    }
    assert.deepEqual(
      [...seen1, ...seen2],
      Array.from({ length: 20 }, (_, i) => i + 1),
      `resume from ${JSON.stringify(from)}`,
    );
    assert.ok(
      [...files].some((f) => f > resume.file),
      `the restart started a new binlog file and the stream read it (files: ${[...files].join(', ')})`,
    );
  }
});

test('a purged file/position or GTID gives an error that says so and what to do', {
  timeout: 60000,
}, async () => {
  const old = await readServerBinlogState(admin);
  await admin.query('INSERT INTO rpl.t VALUES (99999, ?)', ['to be purged']);
  await admin.query('FLUSH BINARY LOGS');
  await admin.query('INSERT INTO rpl.t VALUES (99998, ?)', ['kept']);
  const logs = await listBinaryLogs(admin);
  const newest = logs[logs.length - 1]!.name;
  // The server keeps a file while a dump thread still reads it (closed streams of earlier tests
  // until their next heartbeat) or crash recovery needs it, so purging can take a few tries.
  for (let i = 0; i < 40; i++) {
    await admin.query(`PURGE BINARY LOGS TO '${newest}'`);
    if (!(await listBinaryLogs(admin)).some((l) => l.name === old.file)) break;
    await sleep(250);
  }
  assert.ok(!(await listBinaryLogs(admin)).some((l) => l.name === old.file), 'the old file is gone');

  for (const from of [old, { gtid: old.gtid! }] as StartPosition[]) {
    await assert.rejects(openBinlogStream(options(from)), (err: unknown) => {
      assert.ok(err instanceof BinlogStreamError, String(err));
      assert.equal(err.kind, 'position-purged', err.message);
      assert.equal(err.errno, 1236);
      assert.match(err.message, /purged/);
      assert.match(err.message, /new snapshot|newer position/);
      return true;
    });
  }
});
