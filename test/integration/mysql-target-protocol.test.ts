import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openMysql } from '../../src/connectors/mysql/connection';
import { rawPacketsSupported } from '../../src/connectors/mysql/stmt-execute';
import { mysqlSkipReason, serverPort, testStack } from '../helpers/stack';

const CLIENT_QUERY_ATTRIBUTES = 0x08000000;

// The applier's fast path (its own COM_STMT_EXECUTE packets, statements pipelined) writes packets
// without query attributes; a MySQL 8.0.23+ server offers them, and a connection that accepted them
// would send every statement through mysql2's execute, one round trip at a time.
describe('MySQL 9 target connections', { skip: mysqlSkipReason() }, () => {
  test('decline the query attributes MySQL offers, so the applier can write its own execute packets', async () => {
    const conn = await openMysql({
      name: 'mysql-target',
      kind: 'mysql',
      host: testStack().host,
      port: serverPort('mysql-target'),
      user: 'root',
      password: '',
    });
    try {
      const internals = (conn as unknown as { connection: { serverCapabilityFlags: number } }).connection;
      assert.notEqual(internals.serverCapabilityFlags & CLIENT_QUERY_ATTRIBUTES, 0, 'the server offers them');
      assert.equal(rawPacketsSupported(conn), true);
      // A prepared statement still runs on the connection (through the classic execute format).
      const [rows] = await conn.execute('SELECT ? + 1 AS n', [41]);
      assert.equal(String((rows as Array<{ n: unknown }>)[0]?.n), '42');
    } finally {
      await conn.end();
    }
  });
});
