/**
 * Live streaming against the shared test source (127.0.0.1:23306): rows from a fresh database,
 * resume by file/position and by GTID across FLUSH BINARY LOGS with no row lost or repeated, and
 * a killed dump connection detected with a clear error.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import {
  type BinlogStream,
  BinlogStreamError,
  openBinlogStream,
  readServerBinlogState,
  type StartPosition,
} from '../../src/binlog/replica';
import { MysqlSource } from '../../src/replication/mysql-source';
import { connectTo, freshDatabases, testStack } from '../helpers/stack';

function streamOptions(start: StartPosition) {
  const s = testStack();
  // Random ids so parallel tests never share one (the server would drop the older dump).
  return {
    host: s.host,
    port: s.sourcePort,
    user: 'root',
    serverId: randomInt(100000, 2 ** 31),
    start,
    heartbeatSeconds: 2,
  };
}

/**
 * Reads the stream, collecting the ids inserted into `db`.t, until `stop` says so. Counts our
 * committed transactions (a commit after rows of `db`).
 */
async function collect(
  stream: BinlogStream,
  db: string,
  stop: (s: { ids: number[]; ourCommits: number; lastId: number | undefined }) => boolean,
) {
  const ids: number[] = [];
  const files = new Set<string>();
  /** Kinds of the events before the first transaction: a resume point must not land inside one. */
  const lead: string[] = [];
  let sawGtid = false;
  let ourCommits = 0;
  let inOurs = false;
  for await (const ev of stream) {
    if (ev.file) files.add(ev.file);
    const e = ev.event;
    if (e.kind === 'gtid') sawGtid = true;
    if (!sawGtid) lead.push(e.kind);
    if (e.kind === 'rows' && e.table.schema === db) {
      inOurs = true;
      for (const r of e.rows) if (r.kind === 'insert') ids.push(Number(r.after[0]));
    }
    if (ev.commit && inOurs) {
      inOurs = false;
      ourCommits++;
      if (stop({ ids, ourCommits, lastId: ids[ids.length - 1] })) break;
    }
  }
  return { ids, ourCommits, files, lead };
}

async function insertTransactions(
  conn: import('mysql2/promise').Connection,
  from: number,
  count: number,
  written: number[],
) {
  for (let i = 0; i < count; i++) {
    const a = from + 2 * i;
    await conn.query('INSERT INTO t VALUES (?, ?), (?, ?)', [a, `row ${a}`, a + 1, `row ${a + 1}`]);
    written.push(a, a + 1);
  }
}

test('streams inserts, then resumes by file/position and by GTID across binlog rotations with no row lost or repeated', {
  timeout: 120000,
}, async (t) => {
  const { name: db, source } = await freshDatabases(t, 'rpl');
  await source.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))');
  const start = await readServerBinlogState(source);
  assert.ok(start.gtid, 'MariaDB reports the GTID state at the start position');

  const written: number[] = [];
  const first = await openBinlogStream(streamOptions(start));
  await insertTransactions(source, 0, 30, written);
  const part1 = await collect(first, db, (s) => s.ourCommits === 15);
  const resume = first.committedPosition();
  await first.close();
  assert.equal(part1.ids.length, 30, '15 transactions of 2 rows');
  assert.deepEqual(part1.ids, written.slice(0, 30));
  assert.ok('file' in resume && resume.gtid, 'the resume position has a file, a position and a GTID');

  // More writes after the stop, across two rotations; the last row marks the end.
  const rotateFrom = await readServerBinlogState(source);
  await source.query('FLUSH BINARY LOGS');
  await insertTransactions(source, 1000, 20, written);
  await source.query('FLUSH BINARY LOGS');
  await insertTransactions(source, 2000, 10, written);
  const endId = 2000 + 2 * 10 - 1;

  for (const mode of ['position', 'gtid'] as const) {
    const from: StartPosition = mode === 'gtid' ? { gtid: resume.gtid! } : resume;
    const stream = await openBinlogStream(streamOptions(from));
    assert.equal(stream.info.mode, mode);
    const part2 = await collect(stream, db, (s) => s.lastId === endId);
    const last = stream.committedPosition();
    await stream.close();
    assert.deepEqual(
      [...part1.ids, ...part2.ids],
      written,
      `${mode}: every row exactly once, in commit order`,
    );
    assert.equal(new Set([...part1.ids, ...part2.ids]).size, written.length);
    // Nothing but file-level events before the first GTID: the resume point is a transaction start.
    const fileLevel = new Set(['rotate', 'formatDescription', 'mariadbGtidList', 'binlogCheckpoint']);
    assert.deepEqual(
      part2.lead.filter((k) => !fileLevel.has(k)),
      [],
      `${mode}: events before the first transaction: ${part2.lead.join(', ')}`,
    );
    // The stream crossed both rotations.
    const laterFiles = [...part2.files].filter((f) => f > rotateFrom.file);
    assert.ok(laterFiles.length >= 2, `${mode}: saw files ${[...part2.files].join(', ')}`);
    // Independent check of the GTID carried by the last commit position: the server's own answer.
    assert.ok('file' in last);
    const [rows] = await source.query('SELECT BINLOG_GTID_POS(?, ?) AS g', [last.file, last.pos]);
    assert.equal(
      (rows as Array<{ g: string }>)[0]?.g,
      last.gtid,
      `${mode}: GTID at ${last.file}:${last.pos}`,
    );
  }
});

test('a killed dump connection ends the stream with a connection-lost error', {
  timeout: 60000,
}, async () => {
  const admin = await connectTo('source');
  try {
    const stream = await openBinlogStream(streamOptions(await readServerBinlogState(admin)));
    // The outcome is captured at once: the failure may arrive before the KILL statement returns.
    const outcome = (async () => {
      for await (const _ of stream) {
        // drain
      }
    })().then(
      () => new Error('the stream ended without an error'),
      (err: unknown) => err,
    );
    await admin.query(`KILL ${stream.info.connectionId}`);
    const err = await outcome;
    assert.ok(err instanceof BinlogStreamError, String(err));
    assert.equal(err.kind, 'connection-lost');
    assert.match(err.message, /killed|closed/i);
    assert.match(err.message, /reconnect from the last committed position/);
  } finally {
    await admin.end();
  }
});

test("a replica server id equal to the source's own is refused before dumping", async () => {
  const admin = await connectTo('source');
  try {
    const [rows] = await admin.query('SELECT @@server_id AS id');
    const id = Number((rows as Array<{ id: number }>)[0]?.id);
    await assert.rejects(
      openBinlogStream({ ...streamOptions(await readServerBinlogState(admin)), serverId: id }),
      (err: unknown) =>
        err instanceof BinlogStreamError &&
        err.kind === 'setup-failed' &&
        /own @@server_id/.test(err.message),
    );
  } finally {
    await admin.end();
  }
});

test('a compressed dump connection (protocol compression) delivers every row exactly', {
  timeout: 120000,
}, async (t) => {
  const { name: db, source } = await freshDatabases(t, 'rplz');
  await source.query('CREATE TABLE z (id INT PRIMARY KEY, body MEDIUMTEXT, bin VARBINARY(64))');
  const start = await readServerBinlogState(source);
  const stream = await openBinlogStream({ ...streamOptions(start), compress: true });
  assert.equal(stream.info.compressed, true, 'the server reports the session as compressed');
  // Rows large and small: compressed packets that hold many events, and events spanning many packets.
  const expected = new Map<number, { body: string; bin: string }>();
  for (let i = 0; i < 40; i++) {
    const body = i % 10 === 0 ? `${'otter '.repeat(60_000)}${i}` : `row ${i} ${'x'.repeat(i * 37)}`;
    const bin = Buffer.from(Array.from({ length: 64 }, (_, k) => (i * 31 + k * 7) % 256));
    expected.set(i, { body, bin: bin.toString('hex') });
    await source.query('INSERT INTO z VALUES (?, ?, ?)', [i, body, bin]);
  }
  const seen = new Map<number, { body: string; bin: string }>();
  for await (const ev of stream) {
    const e = ev.event;
    if (e.kind === 'rows' && e.table.schema === db)
      for (const r of e.rows)
        if (r.kind === 'insert')
          seen.set(Number(r.after[0]), {
            body: String(r.after[1]),
            bin: Buffer.from(r.after[2] as Uint8Array).toString('hex'),
          });
    if (seen.size === expected.size) break;
  }
  await stream.close();
  assert.deepEqual(seen, expected);
});

test("a replicate run's source opens the binlog stream compressed when the datasource says compress: true", {
  timeout: 60000,
}, async () => {
  const s = testStack();
  const source = await connectTo('source');
  try {
    const start = await readServerBinlogState(source);
    for (const compress of [true, false]) {
      const ds = {
        name: 'src',
        kind: 'mariadb' as const,
        host: s.host,
        port: s.sourcePort,
        user: 'root',
        password: '',
        compress,
      };
      const run = await MysqlSource.open(ds, `compress-${compress}-${randomInt(1e9)}`);
      const warnings: string[] = [];
      try {
        await run.events(
          start,
          2,
          () => true,
          (m) => warnings.push(m),
        );
        assert.equal(run.streamCompressed, compress, `compress: ${compress}`);
        assert.deepEqual(warnings, []);
      } finally {
        await run.close();
      }
    }
  } finally {
    await source.end();
  }
});
