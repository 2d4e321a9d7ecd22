/**
 * Differential test against MySQL's own `mysqlbinlog -vv --base64-output=decode-rows` on live MySQL 9
 * binlogs: every MySQL column type and edge value (VECTOR, JSON of every value kind) under each
 * binlog setting a source may have — transaction compression, FULL / MINIMAL / NOBLOB row images,
 * MINIMAL and FULL row metadata — compared value by value.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readBinlogFile } from '../../src/binlog/file-reader';
import { MYSQL_EVERY_TYPE_ROWS, MYSQL_EVERY_TYPE_SQL } from '../helpers/mysql-every-type';
import {
  type MysqlServer,
  mysqlUnavailableReason,
  startMysqlServer,
  testMysqlPort,
} from '../helpers/mysql-server';
import { compareFileWithMysqlbinlog } from '../helpers/mysqlbinlog-oracle';
import { uniqueName } from '../helpers/stack';

const skip = mysqlUnavailableReason();
let server: MysqlServer | undefined;
before(async () => {
  if (!skip) server = await startMysqlServer(`test-${testMysqlPort(3)}`, testMysqlPort(3), 1004);
});
after(async () => {
  if (!process.env.OTTERFLOW_KEEP_TEST_STACK) await server?.stop();
});

interface Settings {
  compression: boolean;
  image: 'FULL' | 'MINIMAL' | 'NOBLOB';
  metadata: 'MINIMAL' | 'FULL';
}

const VARIANTS: Settings[] = [
  { compression: false, image: 'FULL', metadata: 'MINIMAL' },
  { compression: false, image: 'FULL', metadata: 'FULL' },
  { compression: true, image: 'FULL', metadata: 'FULL' },
  { compression: true, image: 'MINIMAL', metadata: 'MINIMAL' },
  { compression: false, image: 'MINIMAL', metadata: 'FULL' },
  { compression: false, image: 'NOBLOB', metadata: 'MINIMAL' },
  { compression: true, image: 'NOBLOB', metadata: 'FULL' },
];

for (const v of VARIANTS) {
  const label = `compression=${v.compression ? 'ON' : 'OFF'} binlog_row_image=${v.image} binlog_row_metadata=${v.metadata}`;
  test(`MySQL 9 differential (${label}): every type equals mysqlbinlog -vv`, { skip }, async () => {
    if (!server) throw new Error('no MySQL server');
    const conn = await server.connect();
    const schema = uniqueName('mdiff');
    try {
      await conn.query(`SET GLOBAL binlog_row_metadata = '${v.metadata}'`);
      await conn.query(`FLUSH BINARY LOGS; CREATE DATABASE ${schema}; USE ${schema};
        SET SESSION binlog_transaction_compression = ${v.compression ? 'ON' : 'OFF'},
            SESSION binlog_row_image = '${v.image}'`);
      await conn.query(MYSQL_EVERY_TYPE_SQL);
      const [[status]] = (await conn.query('SHOW BINARY LOG STATUS')) as unknown as [[{ File: string }]];
      await conn.query('FLUSH BINARY LOGS');
      const file = `${server.dataDir}/${status.File}`;
      let payloads = 0;
      for await (const e of readBinlogFile(file, { tableFilter: (s) => s === schema }))
        if (e.event.kind === 'transactionPayload') payloads++;
      assert.equal(payloads > 0, v.compression, `${payloads} compressed transaction payloads`);
      const result = await compareFileWithMysqlbinlog(server, file, schema);
      assert.deepEqual(result.mismatches, []);
      assert.equal(result.rows, MYSQL_EVERY_TYPE_ROWS);
      // FULL images: 39 columns in 4 inserts, 3 updates (two images) and 1 delete; fewer otherwise.
      if (v.image === 'FULL') assert.equal(result.compared, 39 * (4 + 3 * 2 + 1));
      else assert.ok(result.compared >= 100 && result.compared < 39 * 11, `compared ${result.compared}`);
    } finally {
      await conn.query(`DROP DATABASE IF EXISTS ${schema}`);
      await conn.end();
    }
  });
}
