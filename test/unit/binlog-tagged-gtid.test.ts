import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMysqlTaggedGtid, decodePreviousGtids } from '../../src/binlog/event-bodies';
import { MysqlGtidSet } from '../../src/binlog/gtid-set';
import {
  encodeVarlenUnsigned,
  readVarlenSigned,
  readVarlenUnsigned,
} from '../../src/binlog/mysql-serialization';

// Event bodies (after the 19-byte header, before the CRC32) captured from a live MySQL 9.7.4 server:
// `INSERT` (GTID 1-3), `SET gtid_next = 'AUTOMATIC:tag_one'; INSERT`, `INSERT`, FLUSH BINARY LOGS.
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const UUID = '4c53c64e-f18e-11f1-94d3-02fc00000001';
const TAGGED_GTID_BODY = hex(`
  02 78 00 00 00 02
  98 a6 1903 9c c503 3902 22 c503 5102 4d03 04 f103 00 00 00 02
  04 04 06 0e 7461675f6f6e65 08 08 0a 10 0c 7f1999104ff96106 10 9504 12 83120b`);
const TAGGED_PREVIOUS_GTIDS_BODY = hex(`
  0102000000000001
  4c53c64ef18e11f194d302fc00000001 00 0100000000000000 0100000000000000 0500000000000000
  4c53c64ef18e11f194d302fc00000001 0e7461675f6f6e65 0100000000000000 0100000000000000 0200000000000000`);
const UNTAGGED_PREVIOUS_GTIDS_BODY = hex(`
  0100000000000000 4c53c64ef18e11f194d302fc00000001 0100000000000000 0100000000000000 0500000000000000`);

test('GTID_TAGGED body: source uuid:tag, transaction number and logical clock', () => {
  const g = decodeMysqlTaggedGtid(TAGGED_GTID_BODY, 0, TAGGED_GTID_BODY.length);
  assert.equal(g.sid, `${UUID}:tag_one`);
  assert.equal(g.tag, 'tag_one');
  assert.equal(g.gno, 1n);
  assert.equal(g.lastCommitted, 2n);
  assert.equal(g.sequenceNumber, 4n);
});

test('GTID_TAGGED body cut short throws instead of reading past the event', () => {
  assert.throws(() => decodeMysqlTaggedGtid(TAGGED_GTID_BODY, 0, 20), /past the end/);
});

test('PREVIOUS_GTIDS in format 1 (tags) and in the classic format', () => {
  assert.equal(
    decodePreviousGtids(TAGGED_PREVIOUS_GTIDS_BODY, 0, TAGGED_PREVIOUS_GTIDS_BODY.length),
    `${UUID}:1-4:tag_one:1`,
  );
  assert.equal(
    decodePreviousGtids(UNTAGGED_PREVIOUS_GTIDS_BODY, 0, UNTAGGED_PREVIOUS_GTIDS_BODY.length),
    `${UUID}:1-4`,
  );
});

test('MySQL GTID set text with tags: parse, add a tagged GTID, print as MySQL does', () => {
  const set = MysqlGtidSet.parse(
    `${UUID.toUpperCase()}:1-4:TAG_ONE:1,\n00000000-0000-0000-0000-00000000000a:b:7`,
  );
  set.add(`${UUID}:tag_one`, 2n);
  set.add(`${UUID}:a_tag`, 9n);
  set.add(UUID, 5n);
  assert.equal(set.toString(), `00000000-0000-0000-0000-00000000000a:b:7,${UUID}:1-5:a_tag:9:tag_one:1-2`);
  assert.ok(set.hasTags);
  assert.ok(!MysqlGtidSet.parse(`${UUID}:1-4`).hasTags);
  assert.deepEqual(MysqlGtidSet.parse(set.toString()).toString(), set.toString());
});

test('varlen integers: the readme examples and the 9-byte form', () => {
  // 65535 in 3 bytes: value << 3 | 0b011.
  assert.deepEqual(readVarlenUnsigned(hex('fbff07'), 0, 3), { value: 65535n, next: 3 });
  assert.deepEqual(readVarlenSigned(hex('f3ff0f'), 0, 3), { value: 65535n, next: 3 });
  assert.deepEqual(readVarlenSigned(hex('ebff0f'), 0, 3), { value: -65535n, next: 3 });
  assert.deepEqual(readVarlenSigned(hex('fbff0f'), 0, 3), { value: -65536n, next: 3 });
  assert.deepEqual(readVarlenUnsigned(hex('ff ffffffffffffffff'), 0, 9), { value: 2n ** 64n - 1n, next: 9 });
  for (const v of [0, 1, 63, 127, 128, 16383, 16384, 2 ** 40 + 3]) {
    const b = encodeVarlenUnsigned(v);
    assert.deepEqual(readVarlenUnsigned(b, 0, b.length), { value: BigInt(v), next: b.length }, `value ${v}`);
  }
});
