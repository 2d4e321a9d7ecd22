import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chunkMayOverlap,
  chunksInKeyRange,
  inKeyRange,
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

test('in the worker, a key range keeps integer keys by value and other keys by their text, bounds inclusive', () => {
  const range = { from: [10n, 'b'], to: [200n, 'y'] };
  assert.equal(inKeyRange([10n, 'b'], range), true);
  assert.equal(inKeyRange(['10', 'a'], range), false); // integer text compares as its value
  assert.equal(inKeyRange([9, 'z'], range), false);
  assert.equal(inKeyRange(['100', 'a'], range), true); // 100 > 10 by value, though '100' < '2' as text
  assert.equal(inKeyRange([200n, 'y'], range), true);
  assert.equal(inKeyRange([200n, 'yz'], range), false);
  assert.equal(inKeyRange([201, ''], range), false);
  assert.equal(inKeyRange([5n], { to: [5n] }), true);
  assert.equal(inKeyRange(['2026-01-02 03:04:05'], { from: ['2026-01-01 00:00:00'] }), true);
});
