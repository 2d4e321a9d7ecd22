import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { BinlogDecoder } from '../../src/binlog/decoder';
import { BinlogDecodeError } from '../../src/binlog/errors';
import { readEventHeader } from '../../src/binlog/event-header';
import { EventType } from '../../src/binlog/event-types';
import { readRowsPostHeader } from '../../src/binlog/rows-event';
import { decodeTableMap } from '../../src/binlog/table-map';
import { ColumnType, type RowImage } from '../../src/binlog/types';

/** A complete event: header + body (+ CRC32 footer). */
function makeEvent(type: number, body: Buffer, checksum: boolean, serverId = 7, logPos = 0): Buffer {
  const size = 19 + body.length + (checksum ? 4 : 0);
  const ev = Buffer.alloc(size);
  ev.writeUInt32LE(1700000000, 0);
  ev[4] = type;
  ev.writeUInt32LE(serverId, 5);
  ev.writeUInt32LE(size, 9);
  ev.writeUInt32LE(logPos, 13);
  ev.writeUInt16LE(0, 17);
  body.copy(ev, 19);
  if (checksum) ev.writeUInt32LE(crc32(ev.subarray(0, size - 4)), size - 4);
  return ev;
}

/** A FORMAT_DESCRIPTION body for a server version, with MySQL 5.7-like post-header lengths. */
function fdeBody(version: string, checksumAlg: number): Buffer {
  const lengths = Buffer.alloc(40, 0);
  lengths[EventType.QUERY - 1] = 13;
  lengths[EventType.ROTATE - 1] = 8;
  lengths[EventType.TABLE_MAP - 1] = 8;
  for (const t of [23, 24, 25]) lengths[t - 1] = 8;
  for (const t of [30, 31, 32]) lengths[t - 1] = 10;
  const v = Buffer.alloc(50);
  v.write(version, 'latin1');
  const head = Buffer.alloc(2 + 50 + 4 + 1);
  head.writeUInt16LE(4, 0);
  v.copy(head, 2);
  head[56] = 19;
  // The checksum algorithm byte; makeEvent adds the 4-byte footer after it.
  return Buffer.concat([head, lengths, Buffer.from([checksumAlg])]);
}

function fde(version: string, alg: number): Buffer {
  // The footer exists even with checksums off; fill it with the real CRC either way.
  return makeEvent(EventType.FORMAT_DESCRIPTION, fdeBody(version, alg), true);
}

/** Table map of `db`.`t` (id 42): INT, VARCHAR(30), ENUM('a','b'), DECIMAL(10,2), with FULL metadata. */
function tableMapBody(withNames: boolean): Buffer {
  const parts: Buffer[] = [];
  const post = Buffer.alloc(8);
  post.writeUIntLE(42, 0, 6);
  parts.push(post, Buffer.from([2]), Buffer.from('db\0'), Buffer.from([1]), Buffer.from('t\0'));
  parts.push(
    Buffer.from([4]),
    Buffer.from([ColumnType.LONG, ColumnType.VARCHAR, ColumnType.STRING, ColumnType.NEWDECIMAL]),
  );
  const meta = Buffer.from([30, 0, ColumnType.ENUM, 1, 10, 2]);
  parts.push(Buffer.from([meta.length]), meta, Buffer.from([0b0110]));
  // SIGNEDNESS: numeric columns are INT and DECIMAL; INT unsigned (MSB first).
  parts.push(Buffer.from([1, 1, 0b1000_0000]));
  // DEFAULT_CHARSET 45 (utf8mb4_general_ci) for the one character column.
  parts.push(Buffer.from([2, 1, 45]));
  if (withNames) {
    const names = Buffer.concat(
      ['id', 'name', 'kind', 'price'].map((n) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n)])),
    );
    parts.push(Buffer.from([4, names.length]), names);
  }
  // ENUM_STR_VALUE: one enum with two labels.
  parts.push(Buffer.from([6, 5, 2, 1, 0x61, 1, 0x62]));
  // SIMPLE_PRIMARY_KEY: column 0.
  parts.push(Buffer.from([8, 1, 0]));
  return Buffer.concat(parts);
}

test('event header: the 19 bytes map to timestamp, type, server id, size, next position, flags', () => {
  const ev = makeEvent(EventType.XID, Buffer.alloc(8), false, 101, 1234);
  assert.deepEqual(readEventHeader(ev), {
    timestamp: 1700000000,
    type: EventType.XID,
    serverId: 101,
    eventSize: 27,
    logPos: 1234,
    flags: 0,
  });
});

test('format description: version, MariaDB detection, checksum algorithm, post-header lengths', () => {
  const d = new BinlogDecoder();
  const ev = d.decode(fde('10.11.6-MariaDB-log', 1));
  assert.equal(ev.kind, 'formatDescription');
  if (ev.kind !== 'formatDescription') return;
  assert.equal(ev.serverVersion, '10.11.6-MariaDB-log');
  assert.equal(ev.isMariaDb, true);
  assert.equal(ev.checksumAlgorithm, 1);
  assert.equal(ev.postHeaderLengths[EventType.QUERY - 1], 13);
  assert.equal(d.hasChecksums, true);
  const mysql = new BinlogDecoder().decode(fde('5.7.21-log', 0));
  assert.equal(mysql.kind === 'formatDescription' && mysql.isMariaDb, false);
});

test('CRC32: a good footer passes, a changed body byte throws BinlogDecodeError with the position', () => {
  const d = new BinlogDecoder();
  d.decode(fde('8.0.28', 1));
  const xid = Buffer.alloc(8);
  xid.writeBigUInt64LE(99n);
  const ev = makeEvent(EventType.XID, xid, true);
  const ok = d.decode(ev, { file: 'b.000001', pos: 500 });
  assert.equal(ok.kind === 'xid' && ok.xid, 99n);
  ev[20] = ev[20]! ^ 1;
  assert.throws(
    () => d.decode(ev, { file: 'b.000001', pos: 500 }),
    (e: unknown) =>
      e instanceof BinlogDecodeError &&
      e.position === 500 &&
      e.file === 'b.000001' &&
      /CRC32/.test(e.message),
  );
});

test('table map: types, ENUM resolved from STRING, unsigned, charset, names, enum labels, primary key', () => {
  const body = tableMapBody(true);
  const { table, hasColumnNames } = decodeTableMap(body, 0, body.length, 8, false);
  assert.equal(hasColumnNames, true);
  assert.equal(table.tableId, 42n);
  assert.equal(table.schema, 'db');
  assert.equal(table.table, 't');
  assert.deepEqual(
    table.columns.map((c) => [c.name, c.type, c.meta, c.nullable, c.unsigned]),
    [
      ['id', ColumnType.LONG, 0, false, true],
      ['name', ColumnType.VARCHAR, 30, true, false],
      ['kind', ColumnType.ENUM, (ColumnType.ENUM << 8) | 1, true, false],
      ['price', ColumnType.NEWDECIMAL, (10 << 8) | 2, false, false],
    ],
  );
  assert.equal(table.columns[1]!.charset, 45);
  assert.deepEqual(table.columns[2]!.enumValues, ['a', 'b']);
  assert.deepEqual(table.primaryKey, [0]);
});

test('table map: a long CHAR keeps both meta bytes and resolves to STRING', () => {
  // CHAR(255) utf8mb4 = 1020 bytes: first byte 0xfe ^ ((1020 & 0x300) >> 4) = 0xce, second 0xfc.
  const post = Buffer.alloc(8);
  post.writeUIntLE(1, 0, 6);
  const body = Buffer.concat([
    post,
    Buffer.from([1, 0x64, 0, 1, 0x74, 0, 1, ColumnType.STRING, 2, 0xce, 0xfc, 0]),
  ]);
  const { table } = decodeTableMap(body, 0, body.length, 8, false);
  assert.equal(table.columns[0]!.type, ColumnType.STRING);
  assert.equal(table.columns[0]!.meta, 0xcefc);
  assert.equal(table.columns[0]!.name, '');
});

test('rows post-header: 6-byte table id, flags, v2 extra data skipped', () => {
  const v2 = Buffer.from([42, 0, 0, 0, 0, 0, 1, 0, 4, 0, 0xaa, 0xbb, 3]);
  assert.deepEqual(readRowsPostHeader(v2, 0, v2.length, 10, 2), { tableId: 42, flags: 1, bodyStart: 12 });
  const v1 = Buffer.from([7, 0, 0, 0, 0, 0, 0, 0, 3]);
  assert.deepEqual(readRowsPostHeader(v1, 0, v1.length, 8, 1), { tableId: 7, flags: 0, bodyStart: 8 });
});

test('rows event: the row-image decoder is called per image with the present bitmaps; absent stays undefined', () => {
  const calls: Array<{ offset: number; present: number }> = [];
  const d = new BinlogDecoder({
    rowDecoderFactory: () => ({
      // A fake image format for this test: one byte per row, value = that byte.
      decode(buf: Buffer, offset: number, present: Buffer, out: RowImage): number {
        calls.push({ offset, present: present[0]! });
        out[0] = buf[offset]!;
        return offset + 1;
      },
    }),
  });
  d.decode(fde('8.0.28', 1));
  d.decode(makeEvent(EventType.TABLE_MAP, tableMapBody(true), true));
  const post = Buffer.from([42, 0, 0, 0, 0, 0, 1, 0, 2, 0]);
  // 4 columns, before bitmap 0b0001 (id only: MINIMAL), after bitmap 0b0110; two rows.
  const body = Buffer.concat([post, Buffer.from([4, 0b0001, 0b0110, 10, 11, 20, 21])]);
  const ev = d.decode(makeEvent(EventType.UPDATE_ROWS_V2, body, true));
  assert.equal(ev.kind, 'rows');
  if (ev.kind !== 'rows') return;
  assert.equal(ev.change, 'update');
  assert.equal(ev.rows.length, 2);
  assert.deepEqual(
    calls.map((c) => c.present),
    [0b0001, 0b0110, 0b0001, 0b0110],
  );
  const first = ev.rows[0]!;
  assert.ok(first.kind === 'update');
  assert.equal(first.before[0], 10);
  assert.equal(first.after[0], 11);
  assert.equal(first.before[1], undefined);
  assert.equal(first.before.length, 4);
  assert.equal(first.table.columns[0]!.name, 'id');
});

test('unknown event types are skipped as kind unknown; GTID events decode for both flavours', () => {
  const d = new BinlogDecoder();
  d.decode(fde('10.11.6-MariaDB-log', 1));
  const unknown = d.decode(makeEvent(EventType.INTVAR, Buffer.alloc(9), true));
  assert.deepEqual(unknown.kind === 'unknown' && unknown.type, EventType.INTVAR);
  const g = Buffer.alloc(13);
  g.writeBigUInt64LE(1234n, 0);
  g.writeUInt32LE(3, 8);
  g[12] = 1; // standalone
  const gtid = d.decode(makeEvent(EventType.MARIADB_GTID, g, true, 101));
  assert.ok(gtid.kind === 'gtid' && gtid.flavor === 'mariadb');
  assert.equal(gtid.gtid, '3-101-1234');
  assert.equal(gtid.standalone, true);
});

test('query events: schema, text and what the statement means for transactions', () => {
  const d = new BinlogDecoder();
  d.decode(fde('10.11.6-MariaDB-log', 1));
  const make = (schema: string, sql: string) => {
    const post = Buffer.alloc(13);
    post[8] = schema.length;
    return makeEvent(EventType.QUERY, Buffer.concat([post, Buffer.from(`${schema}\0${sql}`)]), true);
  };
  const kinds = [
    'BEGIN',
    'COMMIT',
    'ROLLBACK',
    '/* x */ ALTER TABLE t ADD c INT',
    'INSERT INTO t VALUES (1)',
    'XA START 1',
  ].map((sql) => {
    const ev = d.decode(make('shop', sql));
    return ev.kind === 'query' ? [ev.schema, ev.statement] : [];
  });
  assert.deepEqual(kinds, [
    ['shop', 'begin'],
    ['shop', 'commit'],
    ['shop', 'rollback'],
    ['shop', 'ddl'],
    ['shop', 'dml'],
    ['shop', 'xa'],
  ]);
});

test('a table filter skips the rows of unselected tables without decoding them; selected tables decode as before', async () => {
  const { readBinlogFile } = await import('../../src/binlog/file-reader');
  const { readFile, writeFile, mkdtemp, rm } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const fixture = join(
    __dirname,
    '..',
    '..',
    '..',
    'shared',
    'fixtures',
    'binlog',
    'mysql-bin.checksum-crc32',
  );
  const rowsOf = async (path: string, options: Parameters<typeof readBinlogFile>[1]) => {
    const out: Array<{ pos: number; table: string; skipped: boolean; rows: unknown[] }> = [];
    for await (const e of readBinlogFile(path, options))
      if (e.event.kind === 'rows')
        out.push({
          pos: e.pos,
          table: `${e.event.table.schema}.${e.event.table.table}`,
          skipped: e.event.skipped === true,
          rows: e.event.rows.map((r) => (r.kind === 'delete' ? r.before : r.after)),
        });
    return out;
  };
  const all = await rowsOf(fixture, {});
  const keep = (schema: string) => schema === 'auth';
  const filtered = await rowsOf(fixture, { tableFilter: (schema) => keep(schema) });
  assert.equal(filtered.length, all.length);
  for (const [i, f] of filtered.entries()) {
    const a = all[i]!;
    assert.equal(f.table, a.table);
    if (a.table.startsWith('auth.')) assert.deepEqual(f, a);
    else assert.deepEqual([f.skipped, f.rows], [true, []], f.table);
  }
  assert.ok(filtered.some((f) => !f.skipped) && filtered.some((f) => f.skipped));

  // A rows event of a skipped table whose body is garbage is not read at all.
  const bytes = await readFile(fixture);
  const victim = all.find((a) => a.table === 'simu_file_dev.file')!;
  const size = bytes.readUInt32LE(victim.pos + 9);
  bytes.fill(0xff, victim.pos + 19 + 10, victim.pos + size - 4);
  const dir = await mkdtemp(join(tmpdir(), 'filter-'));
  try {
    const damaged = join(dir, 'damaged.000001');
    await writeFile(damaged, bytes);
    const survived = await rowsOf(damaged, { verifyChecksums: false, tableFilter: (schema) => keep(schema) });
    assert.equal(survived.length, all.length);
    await assert.rejects(rowsOf(damaged, { verifyChecksums: false }), BinlogDecodeError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
