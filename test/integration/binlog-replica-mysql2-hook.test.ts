/**
 * Guards the mysql2 internals the replica connection is built on (Command subclass,
 * connection.addCommand, writePacket, packet framing of dump events). mysql2 is pinned to an exact
 * version; if an upgrade changes this internal API, this test fails first and says why.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { readEventHeader } from '../../src/binlog/event-header';
import { EventType } from '../../src/binlog/event-types';
import { listBinaryLogs } from '../../src/binlog/replica';
import {
  internalsOf,
  MYSQL2_HOOK_VERSION,
  runSimpleCommand,
  startDump,
} from '../../src/binlog/replica/mysql2-commands';
import { BinlogDumpFlag, binlogDumpPayload, registerReplicaPayload } from '../../src/binlog/replica/packets';
import { connectTo } from '../helpers/stack';

test('mysql2 is the exact version the replica hook was written for', () => {
  const installed = (require('mysql2/package.json') as { version: string }).version;
  const declared = (require('../../package.json') as { dependencies: Record<string, string> }).dependencies
    .mysql2;
  assert.equal(declared, MYSQL2_HOOK_VERSION, 'package.json pins mysql2 exactly');
  assert.equal(installed, MYSQL2_HOOK_VERSION, 'installed mysql2');
});

test('our commands run on a mysql2 connection: register, non-blocking dump of a whole file, events framed exactly', {
  timeout: 60000,
}, async () => {
  const sql = await connectTo('source');
  const core = internalsOf((sql as unknown as { connection: import('mysql2').Connection }).connection);
  try {
    const [first] = await listBinaryLogs(sql);
    assert.ok(first, 'the source has a binlog file');
    // The server's own listing of that file, minus ANNOTATE_ROWS (only sent when asked for).
    const [listing] = await sql.query(`SHOW BINLOG EVENTS IN '${first.name}'`);
    const expected = (listing as Array<{ Pos: number; Event_type: string; End_log_pos: number }>).filter(
      (e) => e.Event_type !== 'Annotate_rows',
    );
    await sql.query('SET @master_binlog_checksum = @@global.binlog_checksum, @mariadb_slave_capability = 4');
    const serverId = randomInt(100000, 2 ** 31);
    await runSimpleCommand(core, registerReplicaPayload({ serverId, hostname: 'hook-test' }));

    const events: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      startDump(
        core,
        binlogDumpPayload({ serverId, file: first.name, pos: 4, flags: BinlogDumpFlag.NON_BLOCK }),
        {
          onEvent: (ev) => events.push(Buffer.from(ev)),
          onEnd: resolve,
          onError: reject,
        },
      );
    });
    assert.ok(events.length > 2);
    const h0 = readEventHeader(events[0]!);
    assert.equal(h0.type, EventType.ROTATE, 'the dump starts with a fake ROTATE');
    assert.equal(h0.logPos, 0);
    const inFile: Array<{ pos: number; end: number; type: number }> = [];
    for (const ev of events) {
      const h = readEventHeader(ev);
      assert.equal(h.eventSize, ev.length, 'one packet carries exactly one event');
      if (h.logPos !== 0 && h.logPos <= first.size && inFile.length < expected.length) {
        inFile.push({ pos: h.logPos - h.eventSize, end: h.logPos, type: h.type });
      }
    }
    assert.deepEqual(
      inFile.map((e) => [e.pos, e.end]),
      expected.map((e) => [Number(e.Pos), Number(e.End_log_pos)]),
      'the events of the first file, at the offsets SHOW BINLOG EVENTS lists',
    );
  } finally {
    core.close();
    core.stream.destroy();
  }
});

test('an ERR packet during the dump reaches our command as an error with the server errno', {
  timeout: 30000,
}, async () => {
  const sql = await connectTo('source');
  const core = internalsOf((sql as unknown as { connection: import('mysql2').Connection }).connection);
  try {
    await sql.query('SET @master_binlog_checksum = @@global.binlog_checksum');
    const serverId = randomInt(100000, 2 ** 31);
    await runSimpleCommand(core, registerReplicaPayload({ serverId }));
    const err = await new Promise<Error & { errno?: number }>((resolve, reject) => {
      startDump(core, binlogDumpPayload({ serverId, file: 'no-such-binlog.000001', pos: 4 }), {
        onEvent: () => reject(new Error('unexpected event')),
        onEnd: () => reject(new Error('unexpected EOF')),
        onError: resolve,
      });
    });
    assert.equal(err.errno, 1236);
    assert.match(err.message, /could not find first log file/i);
  } finally {
    core.close();
    core.stream.destroy();
  }
});
