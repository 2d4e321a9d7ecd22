/**
 * A live server's active binlog file, read directly while the server writes it: its
 * FORMAT_DESCRIPTION carries the in-use flag and a CRC32 computed without it. `otterflow binlog
 * decode` reads it to its last complete event, says the file is in use, and its rows equal what
 * mariadb-binlog (MariaDB test stack) and mysqlbinlog (a private MySQL 9 server) print.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { compareWithOracle, oracleRows } from '../helpers/mariadb-binlog-oracle';
import { MYSQL_EVERY_TYPE_ROWS, MYSQL_EVERY_TYPE_SQL } from '../helpers/mysql-every-type';
import {
  type MysqlServer,
  mysqlUnavailableReason,
  startMysqlServer,
  testMysqlPort,
} from '../helpers/mysql-server';
import { compareFileWithMysqlbinlog, ourRows } from '../helpers/mysqlbinlog-oracle';
import { freshDatabases, uniqueName } from '../helpers/stack';

/** Runs `otterflow binlog decode file`; returns exit code, stderr and the JSON lines of `schema`. */
async function decodeCommand(file: string, schema: string) {
  const child = spawn(
    process.execPath,
    [path.join(projectRoot, 'bin', 'otterflow.js'), 'binlog', 'decode', file],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const lines = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { schema: string; type: string })
    .filter((l) => l.schema === schema);
  return { code, stderr: err, lines };
}

/** The server's active binlog file in `dir` (default: where the server says; these servers run here). */
async function activeFile(conn: mysql.Connection, statusCommand: string, dir?: string): Promise<string> {
  const [[vars]] = (await conn.query('SELECT @@log_bin_basename AS base')) as unknown as [[{ base: string }]];
  const [[status]] = (await conn.query(statusCommand)) as unknown as [[{ File: string }]];
  return path.join(dir ?? path.dirname(vars.base), status.File);
}

test('MariaDB: the active binlog file decodes to its last event, matching mariadb-binlog, and is reported in use', async (t) => {
  const db = await freshDatabases(t, 'active');
  // A fresh active file: the shared source's current one may hold gigabytes written by other tests,
  // more text than mariadb-binlog's output can be held as one string.
  await db.source.query('FLUSH BINARY LOGS');
  await db.source.query(`
    CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), d DECIMAL(10,2), j LONGTEXT);
    INSERT INTO t VALUES (1, 'a', 1.50, '{"x":1}'), (2, 'b', -2.25, NULL), (3, 'ü', 0, '[]');
    UPDATE t SET v = 'bb' WHERE id = 2;
    DELETE FROM t WHERE id = 1;`);
  const file = await activeFile(db.source, 'SHOW MASTER STATUS');
  const { code, stderr, lines } = await decodeCommand(file, db.name);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /is in use \(still being written/);
  assert.deepEqual(
    lines.map((l) => l.type),
    ['insert', 'insert', 'insert', 'update', 'delete'],
  );
  const ours = await ourRows(file, db.name);
  const oracle = (await oracleRows(file)).filter((r) => r.schema === db.name);
  const result = compareWithOracle(ours, oracle);
  assert.deepEqual(result.mismatches, []);
  assert.equal(ours.length, 5);
});

const mysqlSkip = mysqlUnavailableReason();
let mysqlServer: MysqlServer | undefined;
after(async () => {
  if (!process.env.OTTERFLOW_KEEP_TEST_STACK) await mysqlServer?.stop();
});

test('MySQL 9: the active binlog file decodes every type to its last event, matching mysqlbinlog, and is reported in use', {
  skip: mysqlSkip,
}, async () => {
  mysqlServer = await startMysqlServer(`test-${testMysqlPort(0)}`, testMysqlPort(0), 1001);
  const conn = await mysqlServer.connect();
  const schema = uniqueName('active');
  try {
    // A new active file: the server's data (and older binlogs) outlive test runs.
    await conn.query(`FLUSH BINARY LOGS; CREATE DATABASE ${schema}; USE ${schema}`);
    await conn.query(MYSQL_EVERY_TYPE_SQL);
    const file = await activeFile(conn, 'SHOW BINARY LOG STATUS', mysqlServer.dataDir);
    const { code, stderr, lines } = await decodeCommand(file, schema);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /is in use \(still being written/);
    assert.equal(lines.length, MYSQL_EVERY_TYPE_ROWS);
    const result = await compareFileWithMysqlbinlog(mysqlServer, file, schema);
    assert.deepEqual(result.mismatches, []);
    assert.equal(result.rows, MYSQL_EVERY_TYPE_ROWS);
    // 39 columns in each of 4 inserts, 3 updates (two images) and 1 delete.
    assert.equal(result.compared, 39 * (4 + 3 * 2 + 1));
  } finally {
    await conn.query(`DROP DATABASE IF EXISTS ${schema}`);
    await conn.end();
  }
});
