/**
 * binlog_row_value_options=PARTIAL_JSON on a live MySQL 9: the same JSON_SET / JSON_REPLACE /
 * JSON_REMOVE updates run once with partial JSON (PARTIAL_UPDATE_ROWS, diffs in the after image)
 * and once without (full after images); the decoder's row changes must be equal, value for value.
 * With binlog_row_image=MINIMAL the before value is not logged and the decoder refuses, naming the
 * column and the settings to change.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BinlogDecodeError } from '../../src/binlog/errors';
import type { CellValue } from '../../src/binlog/types';
import {
  type MysqlServer,
  mysqlUnavailableReason,
  startMysqlServer,
  testMysqlPort,
} from '../helpers/mysql-server';
import { mysqlbinlogText, ourRows } from '../helpers/mysqlbinlog-oracle';
import { uniqueName } from '../helpers/stack';

const skip = mysqlUnavailableReason();
let server: MysqlServer | undefined;
before(async () => {
  if (!skip) server = await startMysqlServer(`test-${testMysqlPort(2)}`, testMysqlPort(2), 1003);
});
after(async () => {
  if (!process.env.OTTERFLOW_KEEP_TEST_STACK) await server?.stop();
});

const DOC = `'{"a": [1, 2, 3, {"x": "y"}], "b": "hello world, a long enough string", "c": {"d": 1, "e": [true, false]},
  "n": 12345678901234567890, "f": 1.5, "dec": 1.50, "s": "ü 𝄞"}'`;

/** Updates that MySQL logs as partial JSON diffs (same column on both sides of JSON_SET/REPLACE/REMOVE). */
const UPDATES = [
  `UPDATE t SET j = JSON_SET(j, '$.a[0]', 5, '$.c.new', JSON_OBJECT('k', CAST('2024-01-02' AS DATE))) WHERE id = 1`,
  `UPDATE t SET j = JSON_REPLACE(j, '$.b', 'hi', '$.f', 2.25e0), k = k + 1 WHERE id = 1`,
  `UPDATE t SET j = JSON_REMOVE(j, '$.c.d', '$.a[1]') WHERE id = 1`,
  `UPDATE t SET j = JSON_SET(j, '$.a[10]', 'appended', '$."key with space"', NULL, '$.aa', 18446744073709551615) WHERE id = 1`,
  `UPDATE t SET j = JSON_SET(j, '$.a[2].x', JSON_ARRAY(1, 2)), j2 = JSON_SET(j2, '$', 'whole') WHERE id = 1`,
  `UPDATE t SET j = JSON_REPLACE(j, '$.s', 'ä'), j2 = JSON_OBJECT('new', 1) WHERE id = 2`,
  `UPDATE t SET j = JSON_SET(j, '$.z', CAST(x'00ff' AS BINARY), '$.t', CAST('12:00:00.5' AS TIME(1))) WHERE id IN (1, 2)`,
];

async function rowsWith(srv: MysqlServer, options: string, imageSetting: string) {
  const conn = await srv.connect();
  const schema = uniqueName('pj');
  try {
    await conn.query(`CREATE DATABASE ${schema}; USE ${schema};
      CREATE TABLE t (id INT PRIMARY KEY, j JSON, k INT, j2 JSON);
      INSERT INTO t VALUES (1, ${DOC}, 0, '[1]'), (2, ${DOC}, 0, NULL)`);
    await conn.query('FLUSH BINARY LOGS');
    await conn.query(
      `SET SESSION binlog_row_value_options = '${options}', SESSION binlog_row_image = '${imageSetting}'`,
    );
    for (const u of UPDATES) await conn.query(u);
    const [[status]] = (await conn.query('SHOW BINARY LOG STATUS')) as unknown as [[{ File: string }]];
    const file = `${srv.dataDir}/${status.File}`;
    const [[final]] = (await conn.query('SELECT CAST(j AS CHAR) AS j FROM t WHERE id = 1')) as unknown as [
      [{ j: string }],
    ];
    return { file, schema, final: final.j };
  } finally {
    await conn.query(`DROP DATABASE IF EXISTS ${schema}`);
    await conn.end();
  }
}

const images = (rows: Awaited<ReturnType<typeof ourRows>>) =>
  rows.map(({ change }) => ({
    kind: change.kind,
    before: change.kind === 'insert' ? undefined : [...change.before],
    after: change.kind === 'delete' ? undefined : [...change.after],
  }));

test('MySQL 9: PARTIAL_JSON updates decode to the same full row images as without it', { skip }, async () => {
  if (!server) throw new Error('no MySQL server');
  for (const image of ['FULL', 'NOBLOB']) {
    const partial = await rowsWith(server, 'PARTIAL_JSON', image);
    const whole = await rowsWith(server, '', image);
    // The partial run really logged diffs (mysqlbinlog prints them as JSON_REPLACE(@2, …) calls).
    const printed = await mysqlbinlogText(server, partial.file);
    const diffs = printed.match(/@2=JSON_(?:REPLACE|INSERT|REMOVE)\(/g) ?? [];
    assert.ok(diffs.length >= 6, `${image}: ${diffs.length} partial JSON values logged`);
    assert.equal((printed.match(/Update_rows_partial/g) ?? []).length, UPDATES.length, image);
    const ours = images(await ourRows(partial.file, partial.schema));
    const reference = images(await ourRows(whole.file, whole.schema));
    assert.equal(ours.length, 8, image);
    assert.deepEqual(ours, reference, image);
    // The last after image of row 1 is the document the server holds.
    const lastOfRow1 = ours.filter((r) => r.after?.[0] === 1).at(-1)?.after?.[1] as CellValue;
    assert.equal(lastOfRow1, partial.final, image);
  }
});

test('MySQL 9: PARTIAL_JSON with binlog_row_image=MINIMAL is refused, naming the column and settings', {
  skip,
}, async () => {
  if (!server) throw new Error('no MySQL server');
  const partial = await rowsWith(server, 'PARTIAL_JSON', 'MINIMAL');
  await assert.rejects(ourRows(partial.file, partial.schema), (err: unknown) => {
    assert.ok(err instanceof BinlogDecodeError);
    assert.match(
      err.message,
      /column (?:j|@2) of .*binlog_row_image=MINIMAL.*FULL or NOBLOB.*binlog_row_value_options/,
    );
    return true;
  });
});
