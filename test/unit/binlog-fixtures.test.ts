import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { BinlogEvent } from '../../src/binlog/events';
import { readBinlogFile } from '../../src/binlog/file-reader';
import type { RowChange } from '../../src/binlog/types';
import { compareWithOracle, oracleRows } from '../helpers/mariadb-binlog-oracle';

const FIXTURES = join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'binlog');

interface Summary {
  events: number;
  rows: Record<string, number>;
  changes: Array<{ pos: number; change: RowChange }>;
  kinds: Record<string, number>;
  inner: BinlogEvent[];
}

async function summarize(path: string): Promise<Summary> {
  const s: Summary = {
    events: 0,
    rows: { insert: 0, update: 0, delete: 0 },
    changes: [],
    kinds: {},
    inner: [],
  };
  for await (const e of readBinlogFile(path)) {
    s.events++;
    s.kinds[e.event.kind] = (s.kinds[e.event.kind] ?? 0) + 1;
    const events = e.event.kind === 'transactionPayload' ? e.event.events : [e.event];
    if (e.event.kind === 'transactionPayload') s.inner.push(...e.event.events);
    for (const ev of events) {
      if (ev.kind !== 'rows') continue;
      for (const change of ev.rows) {
        s.rows[change.kind] = (s.rows[change.kind] ?? 0) + 1;
        s.changes.push({ pos: e.pos, change });
      }
    }
  }
  return s;
}

async function assertMatchesOracle(
  path: string,
  changes: Summary['changes'],
  minValues: number,
): Promise<void> {
  const result = compareWithOracle(changes, await oracleRows(path));
  assert.deepEqual(result.mismatches.slice(0, 20), []);
  assert.ok(result.compared >= minValues, `compared only ${result.compared} values`);
}

test('MySQL 5.7 with CRC32: 303 events, 34 INSERT / 23 UPDATE / 6 DELETE rows, values equal mariadb-binlog', async () => {
  const path = join(FIXTURES, 'mysql-bin.checksum-crc32');
  const s = await summarize(path);
  assert.equal(s.events, 303);
  assert.deepEqual(s.rows, { insert: 34, update: 23, delete: 6 });
  assert.equal(s.kinds.formatDescription, 1);
  assert.equal(s.kinds.xid, 60);
  await assertMatchesOracle(path, s.changes, 1000);
});

test('MySQL 5.7 without checksums: 191 events, 34 INSERT / 2 UPDATE rows, values equal mariadb-binlog', async () => {
  const path = join(FIXTURES, 'mysql-bin.checksum-none');
  const s = await summarize(path);
  assert.equal(s.events, 191);
  assert.deepEqual(s.rows, { insert: 34, update: 2, delete: 0 });
  assert.equal(s.kinds.stop, 1);
  await assertMatchesOracle(path, s.changes, 200);
});

test('MySQL 8.0 compressed transaction: 5 top-level events, the zstd payload decodes to a whole transaction', async () => {
  const s = await summarize(join(FIXTURES, 'mysql-bin.compressed'));
  assert.equal(s.events, 5);
  assert.equal(s.kinds.transactionPayload, 1);
  assert.deepEqual(
    s.inner.map((e) => e.kind),
    ['query', 'tableMap', 'rows', 'xid'],
  );
  assert.deepEqual(s.rows, { insert: 0, update: 1, delete: 0 });
  const change = s.changes[0]!.change;
  assert.equal(change.kind, 'update');
  assert.equal(change.table.schema, 'demo');
  assert.equal(change.table.table, 'movies');
  if (change.kind !== 'update') return;
  // The first column is the primary key and is unchanged by the update.
  assert.equal(change.before[0], change.after[0]);
  assert.equal(change.before.length, 11);
});

test('MySQL 5.5 Sakila (v1 rows events): 1,462 events, 47,273 INSERT rows, values equal mariadb-binlog', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sakila-'));
  try {
    const path = join(dir, 'mysql-bin.sakila');
    await writeFile(path, gunzipSync(await readFile(join(FIXTURES, 'mysql-bin.sakila.gz'))));
    const s = await summarize(path);
    assert.equal(s.events, 1462);
    assert.deepEqual(s.rows, { insert: 47273, update: 0, delete: 0 });
    await assertMatchesOracle(path, s.changes, 47273);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
