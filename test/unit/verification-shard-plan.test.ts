import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkShardKeys, mergeShardBoundaries } from '../../src/verification/shard-plan';
import type { TableComparison } from '../../src/verification/table-plan';

test('merged shards: the union of the shards boundaries in integer key order, without repeats', () => {
  assert.deepEqual(mergeShardBoundaries([[[1000], [2000]], [[1500], [2000], [9_007_199_254_740_993n]], []]), [
    [1000],
    [1500],
    [2000],
    [9_007_199_254_740_993n],
  ]);
  assert.deepEqual(
    mergeShardBoundaries([
      [
        [1, 10],
        [2, 5],
      ],
      [
        [1, 9],
        [2, 5],
      ],
    ]),
    [
      [1, 9],
      [1, 10],
      [2, 5],
    ],
  );
});

const side = (table: string, keyType: string) => ({
  side: {
    ref: { schema: 'db', table },
    columns: [
      { name: 'id', dataType: keyType, charset: null },
      { name: 'v', dataType: 'varchar', charset: 'utf8mb4' },
    ],
    keyColumns: ['id'],
  },
  filterColumns: [],
});

test('merged shards on a target without MySQL SQL: integer keys only, the shard and column named', () => {
  const target = { ref: { schema: 'db', table: 'all' }, columns: [], keyColumns: ['id'] };
  const ok: TableComparison = { target, sources: [side('s_0', 'int'), side('s_1', 'bigint')] };
  assert.doesNotThrow(() => checkShardKeys(ok, 'oracle'));
  const text: TableComparison = { target, sources: [side('s_0', 'int'), side('s_1', 'varchar')] };
  assert.throws(
    () => checkShardKeys(text, 'oracle'),
    /db\.all: shards merged into one table are verified on oracle targets only with integer keys \(db\.s_1: id\)/,
  );
  assert.doesNotThrow(() => checkShardKeys({ target, sources: [side('one', 'varchar')] }, 'oracle'));
});
