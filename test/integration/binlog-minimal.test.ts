/**
 * binlog_row_metadata=MINIMAL (MySQL 8's default) and NO_LOG (MariaDB's): table maps carry no column names, so the decoder
 * completes them from the source's information_schema. On a private mariadbd (port base+601 of test/helpers/ports.ts, data under
 * .otterflow/scratch/minimal/) switched to MINIMAL: a live stream decodes into named rows, follows
 * an ALTER (added column in the middle, renamed column) mid-stream, and a replay from before the ALTER
 * stops with a BinlogDecodeError naming the table and position instead of mislabelling a row. Then a
 * whole pipeline replicates from that source to the shared target.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { BinlogDecoder } from '../../src/binlog/decoder';
import { BinlogDecodeError } from '../../src/binlog/errors';
import type { BinlogEvent } from '../../src/binlog/events';
import { readBinlogFile } from '../../src/binlog/file-reader';
import { type BinlogStream, openBinlogStream, type StartPosition } from '../../src/binlog/replica';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { InformationSchemaResolver } from '../../src/binlog/schema-resolver';
import type { RowImage } from '../../src/binlog/types';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { projectRoot } from '../../src/config/stack';
import { instanceRecord, type MariaDbInstanceSpec, startMariaDb } from '../../src/devstack/mariadb';
import { stopProcess } from '../../src/devstack/processes';
import { findMariaDb } from '../../src/devstack/tools';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { startPipeline, waitForExactTables } from '../helpers/pipeline';
import { privatePort } from '../helpers/ports';
import { connectTo, testStack, uniqueName, withWorker } from '../helpers/stack';

const scratch = path.join(projectRoot, '.otterflow', 'scratch', 'minimal');
const dir = path.join(scratch, 'mariadb-24601');
const spec: MariaDbInstanceSpec = {
  name: 'minimal-test',
  host: '127.0.0.1',
  port: privatePort(601),
  serverId: 601,
  dir,
  runDir: path.join(dir, 'run'),
};
let admin: mysql.Connection;
/** The resolver's own connection (the dump connection is busy streaming). */
let schemaConn: mysql.Connection;

async function connect(): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: spec.host,
    port: spec.port,
    user: 'root',
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
    // As connectTo() does: the table dumps compare sorted text, so both sides must collate alike.
    charset: 'utf8mb4_general_ci',
  });
}

before(async () => {
  const tools = findMariaDb();
  if (!tools) throw new Error('mariadbd is not installed');
  await startMariaDb(spec, tools);
  admin = await connect();
  schemaConn = await connect();
  // Each test sets the global binlog_row_metadata (same effect as --binlog-row-metadata=… for every
  // table map written afterwards).
});

after(async () => {
  await admin?.end().catch(() => {});
  await schemaConn?.end().catch(() => {});
  const rec = instanceRecord(spec);
  if (rec) await stopProcess(rec, 60_000);
});

function streamFrom(start: StartPosition, decoder: BinlogDecoder): Promise<BinlogStream> {
  return openBinlogStream({
    host: spec.host,
    port: spec.port,
    user: 'root',
    serverId: randomInt(100000, 2 ** 31),
    start,
    heartbeatSeconds: 1,
    decoder,
  });
}

/** Table maps of the test databases that arrived without column names (proves MINIMAL is on). */
let unnamedTableMaps = 0;
/** The charset of column 2 as the last such table map had it (MINIMAL logs charsets, NO_LOG does not). */
let lastMappedCharset: number | undefined;

interface NamedChange {
  kind: string;
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

function named(columns: readonly { name: string }[], image: RowImage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  image.forEach((v, i) => {
    if (v !== undefined) out[columns[i]?.name || `@${i + 1}`] = Buffer.isBuffer(v) ? v.toString('hex') : v;
  });
  return out;
}

/**
 * Reads the stream (completing table maps through the decoder's resolver, as the replicator does)
 * until the commit after `count` row changes of database `db`.
 */
async function changesUntil(
  stream: BinlogStream,
  decoder: BinlogDecoder,
  db: string,
  count: number,
  seen: BinlogEvent[] = [],
): Promise<NamedChange[]> {
  const out: NamedChange[] = [];
  let done = false;
  for (;;) {
    const ev = await stream.next();
    assert.ok(ev, 'the stream ended early');
    if (ev.event.kind === 'tableMap' && ev.event.table.schema === db && ev.event.needsColumnNames) {
      unnamedTableMaps++;
      lastMappedCharset = ev.event.table.columns[1]?.charset;
    }
    await decoder.resolveSchema(ev.event);
    seen.push(ev.event);
    if (ev.event.kind === 'rows' && ev.event.table.schema === db) {
      const cols = ev.event.table.columns;
      for (const r of ev.event.rows) {
        const c: NamedChange = { kind: r.kind };
        if (r.kind !== 'insert') c.before = named(cols, r.before);
        if (r.kind !== 'delete') c.after = named(cols, r.after);
        out.push(c);
        if (out.length >= count) done = true;
      }
    }
    if (ev.commit && done) return out;
  }
}

// MINIMAL: no names, but signedness and charsets. NO_LOG (MariaDB's default): no optional metadata
// at all, so signedness and charsets come from information_schema too.
for (const metadata of ['MINIMAL', 'NO_LOG'])
  test(`${metadata} metadata: live rows get names from information_schema, ALTER mid-stream is followed, a replay from before the ALTER stops with a clear error`, {
    timeout: 120_000,
  }, async () => {
    await admin.query(`SET GLOBAL binlog_row_metadata = '${metadata}'`);
    const db = uniqueName('minimal');
    await admin.query(
      `CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT UNSIGNED PRIMARY KEY, name VARCHAR(20) CHARACTER SET latin1,
       kind ENUM('a','b,c','x''y') NOT NULL, big BIGINT UNSIGNED, bin BINARY(6), u UUID, ip INET6, at DATETIME(3))`,
    );
    const start = await readServerBinlogState(admin);
    const resolver = new InformationSchemaResolver(schemaConn);
    const decoder = new BinlogDecoder({ schemaResolver: resolver });
    const stream = await streamFrom({ file: start.file, pos: start.pos }, decoder);
    try {
      await admin.query(
        `INSERT INTO ${db}.t VALUES (1, 'caf\u00e9', 'b,c', 18446744073709551615, x'610000000000',
         '123e4567-e89b-12d3-a456-426655440000', '::ffff:1.2.3.4', '2024-02-29 12:34:56.789'),
       (4294967295, NULL, 'x''y', 0, x'000000000001', '00000000-0000-0000-0000-000000000000', '::', NULL)`,
      );
      await admin.query(`UPDATE ${db}.t SET kind = 'a', big = 9223372036854775808 WHERE id = 1`);
      const seen: BinlogEvent[] = [];
      const first = await changesUntil(stream, decoder, db, 3, seen);
      const map = seen.find((e) => e.kind === 'tableMap' && e.table.schema === db);
      assert.ok(map && map.kind === 'tableMap');
      assert.ok(
        decoder.tableById(map.table.tableId)?.columns.every((c) => c.name !== ''),
        'the table map was completed',
      );
      assert.ok(unnamedTableMaps >= 1, 'the server logs table maps without column names');
      assert.equal(
        lastMappedCharset,
        metadata === 'MINIMAL' ? 8 : undefined,
        'latin1 in the table map only with MINIMAL',
      );
      assert.deepEqual(first, [
        {
          kind: 'insert',
          after: {
            id: 1,
            name: 'caf\u00e9',
            kind: 'b,c',
            big: 18446744073709551615n,
            bin: '610000000000',
            u: '123e4567-e89b-12d3-a456-426655440000',
            ip: '::ffff:1.2.3.4',
            at: '2024-02-29 12:34:56.789',
          },
        },
        {
          kind: 'insert',
          after: {
            id: 4294967295,
            name: null,
            kind: "x'y",
            big: 0n,
            bin: '000000000001',
            u: '00000000-0000-0000-0000-000000000000',
            ip: '::',
            at: null,
          },
        },
        {
          kind: 'update',
          before: {
            id: 1,
            name: 'caf\u00e9',
            kind: 'b,c',
            big: 18446744073709551615n,
            bin: '610000000000',
            u: '123e4567-e89b-12d3-a456-426655440000',
            ip: '::ffff:1.2.3.4',
            at: '2024-02-29 12:34:56.789',
          },
          after: {
            id: 1,
            name: 'caf\u00e9',
            kind: 'a',
            big: 9223372036854775808n,
            bin: '610000000000',
            u: '123e4567-e89b-12d3-a456-426655440000',
            ip: '::ffff:1.2.3.4',
            at: '2024-02-29 12:34:56.789',
          },
        },
      ]);
      const queriesBefore = resolver.queries;

      // (b) A column added in the MIDDLE (a mislabel would shift every later name) and one renamed
      // with the same type (the table map bytes alone would not show it): rows after the ALTERs
      // decode with the new names.
      await admin.query(`ALTER TABLE ${db}.t ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n' AFTER id`);
      await admin.query(`ALTER TABLE ${db}.t RENAME COLUMN name TO title`);
      await admin.query(
        `INSERT INTO ${db}.t (id, note, title, kind, big) VALUES (7, 'seven', 'T', 'a', 1); DELETE FROM ${db}.t WHERE id = 4294967295`,
      );
      await admin.query(`UPDATE ${db}.t SET note = 'eight', id = 8 WHERE id = 7`);
      const second = await changesUntil(stream, decoder, db, 3);
      assert.deepEqual(
        second.map((c) => c.after ?? c.before),
        [
          { id: 7, note: 'seven', title: 'T', kind: 'a', big: 1n, bin: null, u: null, ip: null, at: null },
          {
            id: 4294967295,
            note: 'n',
            title: null,
            kind: "x'y",
            big: 0n,
            bin: '000000000001',
            u: '00000000-0000-0000-0000-000000000000',
            ip: '::',
            at: null,
          },
          { id: 8, note: 'eight', title: 'T', kind: 'a', big: 1n, bin: null, u: null, ip: null, at: null },
        ],
      );
      assert.deepEqual(
        second.map((c) => c.kind),
        ['insert', 'delete', 'update'],
      );
      assert.ok(resolver.queries > queriesBefore, 'the DDL made the resolver read information_schema again');
    } finally {
      await stream.close();
    }

    // (c) Replay from before the ALTERs: information_schema has the new definition (9 columns), the
    // old table maps 8. The stream stops at the first table map with a BinlogDecodeError naming the
    // table and the table map's position; no row of the table is delivered.
    const replayDecoder = new BinlogDecoder({ schemaResolver: new InformationSchemaResolver(schemaConn) });
    const replay = await streamFrom({ file: start.file, pos: start.pos }, replayDecoder);
    const delivered: BinlogEvent[] = [];
    let failure: unknown;
    let mapAt: { file?: string; pos?: number } | undefined;
    try {
      for (;;) {
        const ev = await replay.next();
        if (!ev) break;
        if (ev.event.kind === 'tableMap' && ev.event.table.schema === db)
          mapAt = { file: ev.file, pos: ev.pos };
        try {
          await replayDecoder.resolveSchema(ev.event);
        } catch (err) {
          failure = err;
          break;
        }
        delivered.push(ev.event);
      }
    } finally {
      await replay.close();
    }
    assert.ok(failure instanceof BinlogDecodeError, `expected a BinlogDecodeError, got ${failure}`);
    assert.match(
      failure.message,
      new RegExp(`schema mismatch for ${db}\\.t: the binlog has 8 columns, information_schema has 9`),
    );
    assert.ok(mapAt);
    assert.equal(failure.file, mapAt.file);
    assert.equal(failure.position, mapAt.pos);
    assert.match(failure.message, new RegExp(`at ${mapAt.file}:${mapAt.pos}\\)`));
    assert.equal(
      delivered.filter((e) => e.kind === 'rows' && e.table.schema === db).length,
      0,
      'no row of the table was delivered',
    );

    // The same replay from a captured file: a changed column TYPE (INT → BIGINT at the same count)
    // is refused as well, by the file reader.
    await admin.query(`ALTER TABLE ${db}.t MODIFY id BIGINT UNSIGNED, DROP COLUMN note`);
    const captured = path.join(scratch, `capture-${db}`);
    fs.mkdirSync(captured, { recursive: true });
    const { execFileSync } = await import('node:child_process');
    execFileSync('mariadb-binlog', [
      '--read-from-remote-server',
      '--raw',
      `-h${spec.host}`,
      `-P${spec.port}`,
      '-uroot',
      `--result-file=${captured}/`,
      start.file,
    ]);
    await assert.rejects(
      async () => {
        for await (const e of readBinlogFile(path.join(captured, start.file), {
          startPosition: start.pos,
          schemaResolver: new InformationSchemaResolver(schemaConn),
        }))
          if (e.event.kind === 'rows' && e.event.table.schema === db) assert.fail('a row was delivered');
      },
      (err: unknown) =>
        err instanceof BinlogDecodeError &&
        err.file === start.file &&
        /column 1 is LONG in the binlog but `id` bigint\(20\) unsigned in information_schema/.test(
          err.message,
        ),
    );
    fs.rmSync(captured, { recursive: true, force: true });
    await admin.query(`DROP DATABASE ${db}`);
  });

test('a pipeline replicates from a MINIMAL-metadata source, across an ALTER TABLE', {
  timeout: 180_000,
}, async () => {
  await admin.query("SET GLOBAL binlog_row_metadata = 'MINIMAL'");
  const db = uniqueName('minpipe');
  const target = await connectTo('target');
  const ddl = `CREATE TABLE ${db}.items (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(40), kind ENUM('x','y,z'),
    qty INT UNSIGNED, u UUID, ip4 INET4)`;
  await admin.query(`CREATE DATABASE ${db}; ${ddl}`);
  await target.query(`CREATE DATABASE ${db}`);
  await target.query(ddl);
  const source = await connect();
  await source.query(`USE ${db}`);
  const home = path.join(scratch, 'homes', uniqueName('home'));
  fs.mkdirSync(home, { recursive: true });
  const catalog = new DatasourceCatalog(catalogFile(home));
  const s = testStack();
  catalog.put({ name: 'minimal', kind: 'mariadb', host: spec.host, port: spec.port, user: 'root' });
  catalog.put({ name: 'target', kind: 'mariadb', host: s.host, port: s.targetPort, user: 'root' });
  const start = await readServerBinlogState(admin);
  try {
    await withWorker(
      async ({ client, taskQueue }) => {
        const handle = await startPipeline(client, taskQueue, {
          name: uniqueName('p'),
          source: 'minimal',
          target: 'target',
          mappings: [{ source: { schema: db, table: '/.*/' } }],
          start: { file: start.file, pos: start.pos },
          options: { ddl: 'apply' },
        });
        await source.query(
          `INSERT INTO items VALUES (1, 'one', 'y,z', 4294967295, '123e4567-e89b-12d3-a456-426655440000', '10.0.0.0'),
             (18446744073709551615, NULL, 'x', 0, NULL, '255.255.255.255')`,
        );
        await source.query(`UPDATE items SET qty = qty - 1, name = 'uno' WHERE id = 1`);
        await waitForExactTables(source, target, db, 'items', handle);
        await source.query(`ALTER TABLE items ADD COLUMN note VARCHAR(10) AFTER id`);
        await source.query(`INSERT INTO items (id, note, name, kind) VALUES (2, 'after', 'two', 'x')`);
        await source.query(`UPDATE items SET note = 'changed' WHERE id = 1`);
        const rows = await waitForExactTables(source, target, db, 'items', handle);
        assert.equal(rows.length, 3);
        const [cols] = await target.query<mysql.RowDataPacket[]>(
          'SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
          [db, 'items'],
        );
        assert.deepEqual(
          cols.map((c) => c.COLUMN_NAME),
          ['id', 'note', 'name', 'kind', 'qty', 'u', 'ip4'],
        );
        const [[one]] = await target.query<mysql.RowDataPacket[]>(
          `SELECT note, name, kind, qty, CAST(u AS CHAR) AS u, CAST(ip4 AS CHAR) AS ip4 FROM ${db}.items WHERE id = 1`,
        );
        assert.deepEqual(
          { ...one },
          {
            note: 'changed',
            name: 'uno',
            kind: 'y,z',
            qty: 4294967294,
            u: '123e4567-e89b-12d3-a456-426655440000',
            ip4: '10.0.0.0',
          },
        );
        await handle.executeUpdate(stopUpdate);
        await handle.result();
      },
      { home },
    );
  } finally {
    await source.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
    await target.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
    await target.end().catch(() => {});
    fs.rmSync(home, { recursive: true, force: true });
  }
});
