import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AUTO_CHUNK,
  chunksFromBoundaries,
  rangeBoundaries,
  rowsPerChunk,
} from '../../src/backfill/chunk-plan';
import { keyCompare, keyIn, parseKey, stringifyKey } from '../../src/backfill/keys';
import { chunkSelect, type SourceTable } from '../../src/backfill/source-table';
import { RateLimit } from '../../src/backfill/throttle';
import { screenWhere } from '../../src/backfill/where-check';
import type { CellValue } from '../../src/binlog/types';

test('stored keys round-trip exactly: bigint beyond 2^53, bytes, null, strings, numbers', () => {
  const key: CellValue[] = [18446744073709551615n, Buffer.from([0, 255, 10]), null, 'a"b\u00e9🦦', -1.5, 7];
  const back = parseKey(stringifyKey(key));
  assert.equal(back[0], 18446744073709551615n);
  assert.deepEqual(back[1], Buffer.from([0, 255, 10]));
  assert.deepEqual(back.slice(2), [null, 'a"b\u00e9🦦', -1.5, 7]);
});

test('keyset comparison expands composite keys (a, b) > (x, y) into an index-friendly OR', () => {
  assert.deepEqual(keyCompare(['id'], [5], '>'), { sql: '`id` > ?', params: [5] });
  assert.deepEqual(keyCompare(['a', 'b'], ['x', 2], '>'), {
    sql: '(`a` > ? OR (`a` = ? AND `b` > ?))',
    params: ['x', 'x', 2],
  });
  assert.deepEqual(keyCompare(['a', 'b'], ['x', 2], '<='), {
    sql: 'NOT ((`a` > ? OR (`a` = ? AND `b` > ?)))',
    params: ['x', 'x', 2],
  });
  assert.throws(() => keyCompare(['a', 'b'], [1], '>'), /1 values for 2 key columns/);
  assert.deepEqual(
    keyIn(
      ['a', 'b'],
      [
        [1, 2],
        [3, 4],
      ],
    ),
    {
      sql: '(`a`, `b`) IN ((?, ?), (?, ?))',
      params: [1, 2, 3, 4],
    },
  );
});

test('chunks cover the whole key space: first open below, last open above, boundaries inclusive above', () => {
  assert.deepEqual(chunksFromBoundaries([]), [{}]);
  assert.deepEqual(chunksFromBoundaries([[10], [20]]), [
    { upTo: [10] },
    { after: [10], upTo: [20] },
    { after: [20] },
  ]);
});

test('a chunk SELECT combines range, keys and condition, in key order', () => {
  const table = {
    ref: { schema: 'd', table: 't' },
    schema: {
      tableId: 0n,
      schema: 'd',
      table: 't',
      columns: [
        { name: 'id', type: 3, meta: 0, nullable: false, unsigned: false },
        { name: 'v', type: 3, meta: 0, nullable: true, unsigned: false },
      ],
      primaryKey: [0],
    },
    keyColumns: ['id'],
    keyOrdinals: [0],
    estimatedRows: 0,
    averageRowBytes: 0,
  } satisfies SourceTable;
  assert.deepEqual(chunkSelect(table, { after: [1], upTo: [9], where: 'v > 3', limit: 100 }), {
    sql: 'SELECT `id`, `v` FROM `d`.`t` WHERE `id` > ? AND NOT (`id` > ?) AND (v > 3) ORDER BY `id` LIMIT 100',
    params: [1, 9],
  });
  assert.deepEqual(chunkSelect(table, { keys: [[1], [2]] }), {
    sql: 'SELECT `id`, `v` FROM `d`.`t` WHERE `id` IN (?, ?) ORDER BY `id`',
    params: [1, 2],
  });
});

test('rate limit: the average stays at or under the cap, no cap means no wait', () => {
  const free = new RateLimit(undefined, 0);
  assert.equal(free.take(1_000_000, 0), 0);
  const capped = new RateLimit(1000, 0);
  assert.equal(capped.take(500, 100), 400); // 500 rows may go by t=500ms
  assert.equal(capped.take(500, 1000), 0); // 1000 rows by t=1000ms: on schedule
  assert.equal(capped.take(2000, 1000), 2000);
  assert.equal(capped.wait(2500), 500);
});

test('WHERE screen: one expression only — no statements, comments, subqueries, locks, sleeps', () => {
  assert.equal(screenWhere("status = 'open' AND id BETWEEN 1 AND 10"), undefined);
  assert.match(screenWhere('1=1; DROP TABLE t') ?? '', /;/);
  assert.match(screenWhere('1=1 -- x') ?? '', /comment/);
  assert.match(screenWhere('1=1 /* x */') ?? '', /comment/);
  assert.match(screenWhere('id IN (SELECT id FROM other)') ?? '', /subquery/);
  assert.match(screenWhere('sleep(10) = 0') ?? '', /waits/);
  assert.match(screenWhere('   ') ?? '', /empty/);
});

test('integer key ranges: every size-th value up to the maximum; sparse ranges are left to the index walk', () => {
  assert.deepEqual(rangeBoundaries(1n, 10n, 10, 3, false), [[3], [6], [9]]);
  assert.deepEqual(chunksFromBoundaries(rangeBoundaries(1n, 10n, 10, 3, false)!), [
    { upTo: [3] },
    { after: [3], upTo: [6] },
    { after: [6], upTo: [9] },
    { after: [9] },
  ]);
  // as with the index walk, the last key can be a boundary (the open-ended chunk after it starts empty)
  assert.deepEqual(rangeBoundaries(1n, 9n, 9, 3, false), [[3], [6], [9]]);
  assert.deepEqual(rangeBoundaries(5n, 5n, 1, 1000, false), []);
  assert.deepEqual(rangeBoundaries(-10n, 9n, 20, 10, false), [[-1], [9]]);
  // BIGINT UNSIGNED at the top of its range stays exact as bigint
  const top = 18446744073709551615n;
  assert.deepEqual(rangeBoundaries(top - 5n, top, 6, 2, true), [[top - 4n], [top - 2n], [top]]);
  // sparse: 1..1,000,000 holding ~1000 rows
  assert.equal(rangeBoundaries(1n, 1_000_000n, 1000, 100, false), undefined);
  // an estimate of 0 rows (fresh statistics) only allows a range within one chunk
  assert.equal(rangeBoundaries(1n, 5000n, 0, 1000, false), undefined);
  assert.deepEqual(rangeBoundaries(1n, 999n, 0, 1000, false), []);
});

test("rows per chunk: the caller's choice, else about 4 MiB of rows within [100, 25000], at most a second of a throttled lane", () => {
  assert.equal(rowsPerChunk({ requested: 777, averageRowBytes: 10_000_000 }), 777);
  // Narrow rows (the bench's orders, about 80 bytes): the row cap.
  assert.equal(rowsPerChunk({ averageRowBytes: 80 }), AUTO_CHUNK.maxRows);
  // An empty table reports 0 bytes per row: the row cap too.
  assert.equal(rowsPerChunk({ averageRowBytes: 0 }), AUTO_CHUNK.maxRows);
  // 2 KiB rows: 2048 per 4 MiB chunk.
  assert.equal(rowsPerChunk({ averageRowBytes: 2048 }), 2048);
  // Huge rows: never fewer than 100.
  assert.equal(rowsPerChunk({ averageRowBytes: 50 * 1024 * 1024 }), AUTO_CHUNK.minRows);
  // Throttled to 4000 rows/s over 4 lanes: 1000 rows per chunk.
  assert.equal(rowsPerChunk({ averageRowBytes: 80, laneRowsPerSecond: 1000 }), 1000);
});
