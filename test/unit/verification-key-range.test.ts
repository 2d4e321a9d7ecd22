import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chunkMayOverlap,
  chunksInKeyRange,
  keyRangeCondition,
  keyRangeProblems,
  typedKeyRange,
} from '../../src/verification/key-range';
import { ComparisonPlanError } from '../../src/verification/table-plan';

test('key range SQL: inclusive bounds in key order, parameters in the order of the placeholders', () => {
  const c = keyRangeCondition(['a', 'b'], { from: [5n, 'y'], to: [7n, 'x'] });
  assert.equal(
    c.sql,
    'NOT ((`a` < ?) OR (`a` = ? AND `b` < ?)) AND NOT ((`a` > ? OR (`a` = ? AND `b` > ?)))',
  );
  assert.deepEqual(c.params, [5n, 5n, 'y', 7n, 7n, 'x']);
  assert.deepEqual(keyRangeCondition(['id'], { to: [10n] }), { sql: 'NOT (`id` > ?)', params: [10n] });
  assert.deepEqual(keyRangeCondition(['id'], {}), { sql: 'TRUE', params: [] });
});

test('key range checks: one value per key column, integers for integer columns, named by field', () => {
  const key = [
    { name: 'a', dataType: 'int' },
    { name: 'b', dataType: 'varchar' },
  ];
  assert.deepEqual(keyRangeProblems({ from: [1, 'x'], to: ['2', 'y'] }, key, 'db.c'), []);
  assert.deepEqual(
    keyRangeProblems({ from: [1] }, key, 'db.c').map((p) => p.path),
    ['keyRange.from'],
  );
  assert.deepEqual(
    keyRangeProblems({ to: ['x', 'y'] }, key, 'db.c').map((p) => p.path),
    ['keyRange.to.0'],
  );
  assert.deepEqual(
    keyRangeProblems({ from: [7, 'a'], to: [5, 'z'] }, key, 'db.c').map((p) => p.path),
    ['keyRange'],
  );
  assert.deepEqual(
    keyRangeProblems({ from: [5, 'z'], to: [5, 'a'] }, key, 'db.c'),
    [],
    'text: the servers decide',
  );
  assert.deepEqual(typedKeyRange({ from: ['18446744073709551615', 'x'] }, ['bigint', 'varchar']), {
    from: [18446744073709551615n, 'x'],
  });
});

test('planned chunks (after, upTo] outside an integer range are left out; others are kept', () => {
  const range = typedKeyRange({ from: [1000], to: [2000] }, ['int']);
  assert.equal(chunkMayOverlap({ upTo: [999n] }, range), false);
  assert.equal(chunkMayOverlap({ after: [999n], upTo: [1000n] }, range), true);
  assert.equal(chunkMayOverlap({ after: [1999n], upTo: [2400n] }, range), true);
  assert.equal(chunkMayOverlap({ after: [2000n] }, range), false);
  assert.equal(chunkMayOverlap({}, range), true);
  // Text keys order by collation: only the servers decide.
  assert.equal(chunkMayOverlap({ upTo: ['a'] }, typedKeyRange({ from: ['b'] }, ['varchar'])), true);
  const target = {
    ref: { schema: 'db', table: 't' },
    keyColumns: ['id'],
    columns: [{ name: 'id', dataType: 'int' }],
  };
  const planned = [{ upTo: [500n] }, { after: [500n], upTo: [1500n] }, { after: [1500n] }];
  assert.deepEqual(chunksInKeyRange(planned, target, { from: [1000], to: [1200] }), [planned[1]]);
  assert.deepEqual(chunksInKeyRange(planned, target, { from: [-10], to: [-5] }), [planned[0]]);
  assert.throws(() => chunksInKeyRange(planned, target, { from: [1, 2] }), ComparisonPlanError);
});
