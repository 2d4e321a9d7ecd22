import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyDumpError } from '../../src/binlog/replica/errors';
import { encodeGtidSetSidBlock } from '../../src/binlog/replica/gtid';
import {
  BinlogDumpFlag,
  binlogDumpGtidPayload,
  binlogDumpPayload,
  registerReplicaPayload,
} from '../../src/binlog/replica/packets';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('COM_REGISTER_SLAVE: command 0x15, server id, three length-prefixed strings, port, rank, master id', () => {
  const p = registerReplicaPayload({
    serverId: 0x01020304,
    hostname: 'ab',
    user: 'u',
    password: '',
    port: 3306,
  });
  assert.deepEqual(p, hex(`15 04030201 02 6162 01 75 00 ea0c 00000000 00000000`));
});

test('COM_BINLOG_DUMP: command 0x12, position u32, flags u16, server id u32, file name', () => {
  const p = binlogDumpPayload({
    serverId: 9001,
    file: 'mysql-bin.000003',
    pos: 10283,
    flags: BinlogDumpFlag.SEND_ANNOTATE_ROWS,
  });
  assert.deepEqual(p, Buffer.concat([hex('12 2b280000 0200 29230000'), Buffer.from('mysql-bin.000003')]));
});

test('COM_BINLOG_DUMP refuses positions that do not fit 32 bits and invalid server ids', () => {
  assert.throws(() => binlogDumpPayload({ serverId: 1, file: 'f', pos: 2 ** 32 }), /32-bit/);
  assert.throws(() => binlogDumpPayload({ serverId: 0, file: 'f', pos: 4 }), /server id/);
});

test('GTID set → SID block: n_sids, uuid bytes, n_intervals, [start, end) pairs, little-endian', () => {
  const block = encodeGtidSetSidBlock('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7');
  assert.deepEqual(
    block,
    hex(`
      0100000000000000
      3e11fa4771ca11e19e33c80aa9429562
      0200000000000000
      0100000000000000 0600000000000000
      0700000000000000 0800000000000000`),
  );
});

test('GTID set → SID block sorts UUIDs and merges overlapping/adjacent ranges', () => {
  const block = encodeGtidSetSidBlock(
    'ffffffff-0000-0000-0000-000000000001:1-2, 00000000-0000-0000-0000-00000000000a:5:3-4:6-9',
  );
  assert.deepEqual(
    block,
    hex(`
      0200000000000000
      0000000000000000000000000000000a 0100000000000000 0300000000000000 0a00000000000000
      ffffffff000000000000000000000001 0100000000000000 0100000000000000 0300000000000000`),
  );
  assert.deepEqual(encodeGtidSetSidBlock(''), hex('0000000000000000'));
});

test('GTID set with a tag → format 1 SID block, byte for byte what MySQL 9.7 writes in PREVIOUS_GTIDS', () => {
  // Body of a live MySQL 9.7.4 PREVIOUS_GTIDS event after `SET gtid_next = 'AUTOMATIC:tag_one'`.
  const captured = hex(`
    0102000000000001
    4c53c64ef18e11f194d302fc00000001 00 0100000000000000 0100000000000000 0500000000000000
    4c53c64ef18e11f194d302fc00000001 0e7461675f6f6e65 0100000000000000 0100000000000000 0200000000000000`);
  assert.deepEqual(encodeGtidSetSidBlock('4C53C64E-F18E-11F1-94D3-02FC00000001:1-4:TAG_ONE:1'), captured);
});

test('GTID set with a malformed tag or a tag without intervals is refused, naming the element', () => {
  assert.throws(() => encodeGtidSetSidBlock('3e11fa47-71ca-11e1-9e33-c80aa9429562:1tag:1-5'), /1tag/);
  assert.throws(
    () => encodeGtidSetSidBlock('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:tag_a'),
    /without an interval/,
  );
});

test('COM_BINLOG_DUMP_GTID: command 0x1e, flags with THROUGH_GTID, server id, name length, name, pos u64, block', () => {
  const sid = encodeGtidSetSidBlock('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5');
  const p = binlogDumpGtidPayload({ serverId: 7, sidBlock: sid });
  assert.deepEqual(
    p,
    Buffer.concat([
      hex('1e 0400 07000000 00000000 0400000000000000'),
      hex(sid.length.toString(16).padStart(2, '0') + '000000'),
      sid,
    ]),
  );
});

test('1236 "could not find first log file" is a purged position with what to do', () => {
  const e = classifyDumpError(
    { errno: 1236, message: 'Could not find first log file name in binary log index file' },
    'mysql-bin.000001:4',
  );
  assert.equal(e.kind, 'position-purged');
  assert.equal(e.errno, 1236);
  assert.match(e.message, /mysql-bin\.000001:4/);
  assert.match(e.message, /purged/);
  assert.match(e.message, /snapshot/);
});

test('1236 for a MariaDB GTID too old and for MySQL purged GTIDs are purged positions', () => {
  for (const message of [
    'Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.',
    "Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere, or provision a new replica from backup. Consider increasing the source's binary log expiration period. The GTID set sent by the replica is 'x', and the missing transactions are 'y'",
    'The slave is connecting using CHANGE MASTER TO MASTER_AUTO_POSITION = 1, but the master has purged binary logs containing GTIDs that the slave requires.',
  ]) {
    assert.equal(classifyDumpError({ errno: 1236, message }, 'GTID 0-1-5').kind, 'position-purged', message);
  }
});

test('other 1236 errors are invalid positions; kills are connection losses; the rest server errors', () => {
  assert.equal(
    classifyDumpError(
      { errno: 1236, message: 'Client requested master to start replication from impossible position' },
      'f:999999',
    ).kind,
    'invalid-position',
  );
  assert.equal(
    classifyDumpError({ errno: 1927, message: 'Connection was killed' }, 'x').kind,
    'connection-lost',
  );
  assert.equal(classifyDumpError({ errno: 1045, message: 'Access denied' }, 'x').kind, 'server-error');
});
