import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { readEventHeader } from '../../src/binlog/event-header';
import { EventType } from '../../src/binlog/event-types';
import { PositionTracker } from '../../src/binlog/replica/position-tracker';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/binlog');

function* eventsOf(file: string): Generator<{ pos: number; ev: Buffer }> {
  const buf = fs.readFileSync(file);
  let pos = 4;
  while (pos + 19 <= buf.length) {
    const size = buf.readUInt32LE(pos + 9);
    yield { pos, ev: buf.subarray(pos, pos + size) };
    pos += size;
  }
}

for (const [name, checksum, transactions] of [
  ['mysql-bin.checksum-crc32', true, 60],
  ['mysql-bin.checksum-none', false, 40],
] as const) {
  test(`${name}: a boundary after every transaction, and each boundary is where the next transaction starts`, () => {
    const tracker = new PositionTracker('mysql', { file: name, pos: 4 }, { checksum });
    const starts = new Map<number, number>();
    const boundaries: number[] = [];
    for (const { pos, ev } of eventsOf(path.join(FIXTURES, name))) {
      const h = readEventHeader(ev);
      starts.set(pos, h.type);
      const seen = tracker.observe(ev, h);
      assert.equal(seen.pos, pos, 'event offset from log_pos - event_size');
      assert.equal(seen.file, name);
      if (seen.boundary && h.type === EventType.ROTATE) {
        // The closing ROTATE moves the resume point to the head of the next file.
        assert.deepEqual(seen.boundary, { file: 'mysql-bin.000002', pos: 4 });
      } else if (seen.boundary) {
        assert.equal(seen.boundary.file, name);
        boundaries.push(seen.boundary.pos);
      }
    }
    // Every transaction (each starts with an ANONYMOUS_GTID in MySQL 5.7) ends in exactly one boundary.
    const trxStarts = [...starts.values()].filter(
      (t) => t === EventType.ANONYMOUS_GTID || t === EventType.GTID,
    ).length;
    assert.equal(trxStarts, transactions);
    assert.equal(boundaries.length, transactions);
    // Resuming from a boundary must land on the first event of a transaction, or the file's end.
    const fileEnd = fs.statSync(path.join(FIXTURES, name)).size;
    for (const b of boundaries) {
      const next = starts.get(b);
      assert.ok(
        b === fileEnd ||
          next === EventType.ANONYMOUS_GTID ||
          next === EventType.GTID ||
          next === EventType.ROTATE ||
          next === EventType.STOP,
        `boundary ${b} is followed by event type ${next}`,
      );
    }
    // No GTIDs on these servers (PREVIOUS_GTIDS is empty): positions carry none.
    assert.deepEqual(
      tracker.resumePosition(),
      name.endsWith('crc32')
        ? { file: 'mysql-bin.000002', pos: 4 }
        : { file: name, pos: boundaries[boundaries.length - 1] },
    );
  });
}

// Synthetic MariaDB events, built from the binlog v4 layout.
function event(
  type: number,
  body: Buffer,
  logPos: number,
  opts: { serverId?: number; checksum?: boolean } = {},
): Buffer {
  const size = 19 + body.length + (opts.checksum === false ? 0 : 4);
  const h = Buffer.alloc(19);
  h.writeUInt32LE(1700000000, 0);
  h[4] = type;
  h.writeUInt32LE(opts.serverId ?? 101, 5);
  h.writeUInt32LE(size, 9);
  h.writeUInt32LE(logPos, 13);
  const ev = Buffer.concat([h, body, Buffer.alloc(opts.checksum === false ? 0 : 4)]);
  if (opts.checksum !== false) ev.writeUInt32LE(crc32(ev.subarray(0, size - 4)), size - 4);
  return ev;
}
const u64 = (n: bigint | number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const rotate = (file: string, pos: number, logPos: number) =>
  event(EventType.ROTATE, Buffer.concat([u64(pos), Buffer.from(file)]), logPos);
const mariaGtid = (seq: number, domain: number, flags: number, logPos: number) =>
  event(
    EventType.MARIADB_GTID,
    Buffer.concat([u64(seq), u32(domain), Buffer.from([flags]), Buffer.alloc(6)]),
    logPos,
  );
const query = (sql: string, logPos: number) =>
  event(
    EventType.QUERY,
    Buffer.concat([
      u32(1),
      u32(0),
      Buffer.from([2]),
      Buffer.alloc(2),
      Buffer.alloc(2),
      Buffer.from('db\0'),
      Buffer.from(sql),
    ]),
    logPos,
  );
const xid = (logPos: number) => event(EventType.XID, u64(77), logPos);
const rowsLike = (logPos: number) => event(EventType.WRITE_ROWS_V1, Buffer.alloc(10), logPos);

class Feed {
  pos = 4;
  constructor(readonly tracker: PositionTracker) {}
  /** Builds an event ending at the running position and observes it. */
  add(make: (logPos: number) => Buffer) {
    const probe = make(0);
    const ev = make(this.pos + probe.length);
    this.pos += ev.length;
    return this.tracker.observe(ev, readEventHeader(ev));
  }
}

test('MariaDB: GTID + rows + XID and standalone GTID + DDL give boundaries with the updated GTID position', () => {
  const t = new PositionTracker(
    'mariadb',
    { file: 'mysql-bin.000007', pos: 4, gtid: '0-101-9,5-7-100' },
    { checksum: true },
  );
  const fake = rotate('mysql-bin.000007', 4, 0);
  assert.equal(t.observe(fake, readEventHeader(fake)).pos, undefined, 'fake rotate has no position');
  const f = new Feed(t);
  assert.equal(f.add((p) => mariaGtid(10, 0, 0, p)).boundary, undefined);
  assert.equal(f.add((p) => rowsLike(p)).boundary, undefined);
  assert.ok(t.inTransaction());
  const c1 = f.add((p) => xid(p)).boundary;
  assert.deepEqual(c1, { file: 'mysql-bin.000007', pos: f.pos, gtid: '0-101-10,5-7-100' });
  assert.equal(t.inTransaction(), false);
  f.add((p) => mariaGtid(101, 5, 1 /* standalone */, p));
  const c2 = f.add((p) => query('CREATE TABLE x (id int)', p)).boundary;
  assert.deepEqual(c2, { file: 'mysql-bin.000007', pos: f.pos, gtid: '0-101-10,5-101-101' });
  // A transaction with BEGIN/COMMIT query events (non-transactional engines).
  f.add((p) => mariaGtid(11, 0, 0, p));
  assert.equal(f.add((p) => query('BEGIN', p)).boundary, undefined);
  assert.equal(
    f.add((p) => query('INSERT INTO t VALUES (1)', p)).boundary,
    undefined,
    'statement inside a transaction',
  );
  const c3 = f.add((p) => query('COMMIT', p)).boundary;
  assert.deepEqual(c3, { file: 'mysql-bin.000007', pos: f.pos, gtid: '0-101-11,5-101-101' });
  // A real ROTATE between transactions moves the resume point to the next file.
  const r = f.add((p) => rotate('mysql-bin.000008', 4, p));
  assert.deepEqual(r.boundary, { file: 'mysql-bin.000008', pos: 4, gtid: '0-101-11,5-101-101' });
  assert.deepEqual(t.resumePosition(), { file: 'mysql-bin.000008', pos: 4, gtid: '0-101-11,5-101-101' });
});

test('MariaDB GTID start: no file/position boundary before the first commit; GTID_LIST does not override a known state', () => {
  const t = new PositionTracker('mariadb', { gtid: '0-101-20' }, { checksum: true });
  const fake = rotate('mysql-bin.000003', 4, 0);
  assert.equal(t.observe(fake, readEventHeader(fake)).boundary, undefined);
  assert.deepEqual(t.resumePosition(), { gtid: '0-101-20' });
  const f = new Feed(t);
  f.pos = 1000;
  f.add((p) => event(EventType.MARIADB_GTID_LIST, Buffer.concat([u32(1), u32(0), u32(101), u64(3)]), p));
  f.add((p) => mariaGtid(21, 0, 0, p));
  f.add((p) => rowsLike(p));
  assert.deepEqual(f.add((p) => xid(p)).boundary, { file: 'mysql-bin.000003', pos: f.pos, gtid: '0-101-21' });
});

test('MariaDB file start without a known GTID: GTID_LIST at the head of the file gives the state', () => {
  const t = new PositionTracker('mariadb', { file: 'mysql-bin.000003', pos: 4 }, { checksum: true });
  const fake = rotate('mysql-bin.000003', 4, 0);
  t.observe(fake, readEventHeader(fake));
  const f = new Feed(t);
  // Two servers in domain 0: the newest (listed last) wins; domain 1 separately.
  f.add((p) =>
    event(
      EventType.MARIADB_GTID_LIST,
      Buffer.concat([u32(3), u32(0), u32(7), u64(40), u32(0), u32(101), u64(41), u32(1), u32(5), u64(2)]),
      p,
    ),
  );
  f.add((p) => mariaGtid(42, 0, 0, p));
  assert.deepEqual(f.add((p) => xid(p)).boundary, {
    file: 'mysql-bin.000003',
    pos: f.pos,
    gtid: '0-101-42,1-5-2',
  });
});

test('MySQL: GTID events accumulate into the executed set; the DDL after a GTID is its own transaction', () => {
  const uuid = Buffer.from('3e11fa4771ca11e19e33c80aa9429562', 'hex');
  const mysqlGtid = (gno: number, p: number) =>
    event(
      EventType.GTID,
      Buffer.concat([Buffer.from([1]), uuid, u64(gno), Buffer.from([2]), u64(0), u64(1)]),
      p,
    );
  const t = new PositionTracker(
    'mysql',
    { file: 'binlog.000001', pos: 4, gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5' },
    { checksum: false },
  );
  const f = new Feed(t);
  const noCrc = (make: (p: number) => Buffer) => (p: number) => {
    const ev = make(p);
    return ev.subarray(0, ev.length - 4);
  };
  // Build without checksums: shrink event_size accordingly.
  const shrink = (make: (p: number) => Buffer) => (p: number) => {
    const ev = Buffer.from(noCrc(make)(p));
    ev.writeUInt32LE(ev.length, 9);
    return ev;
  };
  f.add(shrink((p) => mysqlGtid(6, p)));
  assert.ok(t.inTransaction());
  f.add(shrink((p) => query('BEGIN', p)));
  f.add(shrink((p) => rowsLike(p)));
  assert.deepEqual(f.add(shrink((p) => xid(p))).boundary?.gtid, '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6');
  f.add(shrink((p) => mysqlGtid(8, p)));
  const ddl = f.add(shrink((p) => query('ALTER TABLE t ADD c INT', p))).boundary;
  assert.deepEqual(ddl, {
    file: 'binlog.000001',
    pos: f.pos,
    gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6:8',
  });
});
