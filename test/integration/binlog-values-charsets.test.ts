/**
 * The charset decoders agree with the live server: every single-byte table and every two-byte gbk
 * code decodes to exactly the character MariaDB converts it to.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { SINGLE_BYTE_TABLES } from '../../src/binlog/values/charset-tables.generated';
import { textDecoderFor } from '../../src/binlog/values/charsets';
import { connectTo } from '../helpers/stack';

async function collationId(db: mysql.Connection, charset: string): Promise<number> {
  const [[row]] = (await db.query(
    'SELECT ID FROM information_schema.COLLATIONS WHERE CHARACTER_SET_NAME = ? AND IS_DEFAULT = ?',
    [charset, 'Yes'],
  )) as unknown as [Array<{ ID: number }>];
  return Number(row?.ID);
}

test('single-byte charsets decode as the server converts them', async (t) => {
  const db = await connectTo('source', 'mysql');
  t.after(() => db.end());
  for (const charset of Object.keys(SINGLE_BYTE_TABLES)) {
    const decode = textDecoderFor(await collationId(db, charset));
    assert.ok(decode, charset);
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      `SELECT seq, HEX(CONVERT(CAST(UNHEX(LPAD(HEX(seq),2,'0')) AS CHAR CHARACTER SET ${charset}) USING utf8mb4)) AS u FROM seq_0_to_255`,
    );
    for (const r of rows) {
      const got = decode(Buffer.from([Number(r.seq)]), 0, 1);
      if (typeof got === 'string')
        assert.equal(got, Buffer.from(String(r.u), 'hex').toString('utf8'), `${charset} ${r.seq}`);
    }
  }
});

test('gbk: every two-byte code the server round-trips decodes to the server character', async (t) => {
  const db = await connectTo('source', 'mysql');
  t.after(() => db.end());
  const decode = textDecoderFor(await collationId(db, 'gbk'));
  assert.ok(decode);
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT seq,
       HEX(CONVERT(CAST(UNHEX(HEX(seq)) AS CHAR CHARACTER SET gbk) USING utf8mb4)) AS u,
       HEX(CONVERT(CONVERT(CAST(UNHEX(HEX(seq)) AS CHAR CHARACTER SET gbk) USING utf8mb4) USING gbk)) AS back
     FROM seq_33088_to_65278`,
  );
  let checked = 0;
  for (const r of rows) {
    const bytes = Buffer.from([Number(r.seq) >> 8, Number(r.seq) & 0xff]);
    if (r.back !== bytes.toString('hex').toUpperCase()) continue; // not a gbk character
    checked++;
    assert.equal(
      decode(bytes, 0, 2),
      Buffer.from(String(r.u), 'hex').toString('utf8'),
      bytes.toString('hex'),
    );
  }
  assert.ok(checked > 20000, `checked ${checked} codes`);
});
