/**
 * MariaDB UUID / INET4 / INET6 columns are logged as BINARY(16) / BINARY(4) / BINARY(16) with
 * trailing zero bytes trimmed, even with binlog_row_metadata=FULL. The decoder completes those
 * table maps from information_schema (ColumnDef.dataType) so the values decode to the text MariaDB
 * prints, which re-inserts exactly. On the shared test source (FULL metadata).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { BinlogDecoder } from '../../src/binlog/decoder';
import { type BinlogStream, openBinlogStream } from '../../src/binlog/replica';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { InformationSchemaResolver } from '../../src/binlog/schema-resolver';
import type { CellValue, RowChange } from '../../src/binlog/types';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitForExactTables } from '../helpers/pipeline';
import { connectTo, freshDatabases, testStack, withWorker } from '../helpers/stack';

const UUIDS = [
  '00000000-0000-0000-0000-000000000000',
  '123e4567-e89b-12d3-a456-426655440000', // ends in zero bytes (the binlog trims them)
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  '00000000-0000-0000-0000-000000000001',
  '01000000-0000-0000-0000-000000000000',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
];
const INET6 = [
  '::',
  '::ffff:1.2.3.4',
  '2001:db8::', // ends in zero bytes
  '::1',
  '1::',
  '::1.2.3.4',
  'fe80::1:0:0:0',
  '2001:db8:0:0:1:0:0:1',
  'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  '::ffff:0.0.0.0',
  '1:0:0:2::',
];
const INET4 = ['0.0.0.0', '10.0.0.0', '255.255.255.255', '1.2.3.4', '192.168.0.0', '0.0.0.1'];

const TABLE = `CREATE TABLE addr (id INT PRIMARY KEY, u UUID, i6 INET6, i4 INET4 NULL, plain16 BINARY(16), plain4 BINARY(4))`;

/** The 4 bytes of a dotted quad as hex (a plain BINARY(4) holding the same bytes as the INET4). */
function hex4(ip: string): string {
  return Buffer.from(ip.split('.').map(Number)).toString('hex');
}

/** Reads until the commit after `count` row changes of `db`. */
async function changes(
  stream: BinlogStream,
  decoder: BinlogDecoder,
  db: string,
  count: number,
): Promise<RowChange[]> {
  const out: RowChange[] = [];
  for (;;) {
    const ev = await stream.next();
    assert.ok(ev, 'the stream ended early');
    await decoder.resolveSchema(ev.event);
    if (ev.event.kind === 'rows' && ev.event.table.schema === db) out.push(...ev.event.rows);
    if (ev.commit && out.length >= count) return out;
  }
}

async function selected(conn: mysql.Connection): Promise<Map<number, CellValue[]>> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT id, CAST(u AS CHAR) AS u, CAST(i6 AS CHAR) AS i6, CAST(i4 AS CHAR) AS i4, plain16, plain4 FROM addr',
  );
  return new Map(rows.map((r) => [Number(r.id), [Number(r.id), r.u, r.i6, r.i4, r.plain16, r.plain4]]));
}

test('UUID, INET4 and INET6 decode to the text MariaDB prints (FULL metadata), refreshed after DDL', {
  timeout: 120_000,
}, async (t) => {
  const db = await freshDatabases(t, 'uuid');
  await db.source.query(TABLE);
  const start = await readServerBinlogState(db.source);
  const schemaConn = await connectTo('source');
  t.after(() => schemaConn.end());
  const resolver = new InformationSchemaResolver(schemaConn);
  const decoder = new BinlogDecoder({ schemaResolver: resolver });
  const plainDecoder = new BinlogDecoder(); // the control: no information_schema
  const s = testStack();
  const open = (d: BinlogDecoder) =>
    openBinlogStream({
      host: s.host,
      port: s.sourcePort,
      user: 'root',
      serverId: randomInt(100000, 2 ** 31),
      start: { file: start.file, pos: start.pos },
      heartbeatSeconds: 1,
      decoder: d,
    });

  const n = Math.max(UUIDS.length, INET6.length, INET4.length);
  const values: string[] = [];
  for (let i = 0; i < n; i++) {
    const u = UUIDS[i % UUIDS.length]!;
    values.push(
      `(${i + 1}, '${u}', '${INET6[i % INET6.length]}', '${INET4[i % INET4.length]}', UNHEX(REPLACE('${u}', '-', '')), x'${hex4(INET4[i % INET4.length]!)}')`,
    );
  }
  await db.source.query(`INSERT INTO addr VALUES ${values.join(', ')}`);
  // Updates produce before and after images; one row moves to NULLs.
  await db.source.query(`UPDATE addr SET u = '00000000-0000-0000-0000-000000000000', i6 = '::' WHERE id = 2`);
  await db.source.query(`UPDATE addr SET u = NULL, i6 = NULL, i4 = NULL WHERE id = 3`);
  const expected = await selected(db.source);
  const total = n + 2;

  const stream = await open(decoder);
  const plainStream = await open(plainDecoder);
  try {
    const rows = await changes(stream, decoder, db.name, total);
    const plain = await changes(plainStream, plainDecoder, db.name, total);
    assert.equal(rows.length, total);
    const after = new Map<number, CellValue[]>();
    for (const r of rows) if (r.kind !== 'delete') after.set(Number(r.after[0]), r.after as CellValue[]);
    assert.equal(after.size, expected.size);
    for (const [id, want] of expected) {
      const got = after.get(id);
      assert.ok(got, `row ${id}`);
      assert.deepEqual(got.slice(0, 4), want.slice(0, 4), `row ${id}: decoded = SELECT CAST(col AS CHAR)`);
      // Plain BINARY(16)/BINARY(4) stay bytes, trailing zeros restored.
      assert.ok(Buffer.isBuffer(got[4]) && got[4].equals(want[4] as Buffer), `row ${id} plain16`);
      assert.ok(Buffer.isBuffer(got[5]) && got[5].equals(want[5] as Buffer), `row ${id} plain4`);
    }
    const update = rows.find((r) => r.kind === 'update' && r.before[0] === 2);
    assert.ok(update?.kind === 'update');
    assert.deepEqual(update.before.slice(1, 3), [UUIDS[1], INET6[1]]);
    assert.deepEqual(update.after.slice(1, 3), ['00000000-0000-0000-0000-000000000000', '::']);
    const cols = rows[0]!.table.columns;
    assert.deepEqual(
      cols.map((c) => c.dataType),
      ['int', 'uuid', 'inet6', 'inet4', 'binary', 'binary'],
    );
    // The control: without information_schema the same columns are 16/4 bytes.
    const first = plain.find((r) => r.kind === 'insert' && r.after[0] === 2);
    assert.ok(first?.kind === 'insert');
    assert.ok(Buffer.isBuffer(first.after[1]) && first.after[1].length === 16);
    assert.ok(Buffer.isBuffer(first.after[3]) && first.after[3].length === 4);
    assert.equal(resolver.queries, 1, 'one information_schema read for the table, however many transactions');

    // DDL: a BINARY(16) becomes a UUID (same bytes in the binlog); the next rows follow it.
    await db.source.query(`ALTER TABLE addr MODIFY plain16 UUID`);
    await db.source.query(
      `INSERT INTO addr (id, u, plain16) VALUES (100, NULL, '123e4567-e89b-12d3-a456-426655440000')`,
    );
    const later = await changes(stream, decoder, db.name, 1);
    assert.equal(later[0]?.kind, 'insert');
    assert.equal(later[0]?.kind === 'insert' && later[0].after[4], '123e4567-e89b-12d3-a456-426655440000');
    assert.equal(later[0]?.table.columns[4]?.dataType, 'uuid');
    assert.equal(resolver.queries, 2, 're-read after the DDL');
  } finally {
    await stream.close();
    await plainStream.close();
  }
});

test('UUID/INET4/INET6 round-trip through a pipeline to equal target tables', {
  timeout: 180_000,
}, async (t) => {
  const db = await freshDatabases(t, 'uuidp');
  await db.source.query(TABLE);
  await db.target.query(TABLE);
  const config = await samePipelineConfig(db.source, db.name);
  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    const values = INET6.map(
      (ip, i) =>
        `(${i + 1}, '${UUIDS[i % UUIDS.length]}', '${ip}', '${INET4[i % INET4.length]}', x'0102030405060708090a0b0c0d0e0000', x'01000000')`,
    );
    await db.source.query(`INSERT INTO addr VALUES ${values.join(', ')}`);
    await db.source.query(
      `UPDATE addr SET i4 = '0.0.0.0', u = '123e4567-e89b-12d3-a456-426655440000' WHERE id = 1`,
    );
    await db.source.query(`DELETE FROM addr WHERE id = 2`);
    const rows = await waitForExactTables(db.source, db.target, db.name, 'addr', handle);
    assert.equal(rows.length, INET6.length - 1);
    // dumpTableExact compares UUID/INET columns by their text and BINARY by HEX: also the stored bytes.
    const hexes = async (c: mysql.Connection) =>
      (
        await c.query<mysql.RowDataPacket[]>(
          'SELECT HEX(CAST(u AS BINARY)) h, HEX(CAST(i6 AS BINARY)) h6 FROM addr ORDER BY id',
        )
      )[0].map((r) => `${r.h}/${r.h6}`);
    assert.deepEqual(await hexes(db.target), await hexes(db.source));
    await handle.executeUpdate(stopUpdate);
    await handle.result();
  });
});
