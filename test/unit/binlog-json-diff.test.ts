import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyJsonDiffs, parseJsonPath, readJsonDiffs } from '../../src/binlog/values/json-diff';

test('JSON diffs apply as MySQL applies them: replace, insert in key order, remove, array insert and append', () => {
  const before = '{"a": [1, 2, 3], "b": "x", "cc": {"d": 1}}';
  assert.equal(
    applyJsonDiffs(before, [
      { operation: 'replace', path: '$.a[0]', value: '5' },
      { operation: 'insert', path: '$.c', value: '[]' },
      { operation: 'insert', path: '$."key with space"', value: 'null' },
      { operation: 'remove', path: '$.cc.d' },
      { operation: 'insert', path: '$.a[1]', value: '"in"' },
      { operation: 'insert', path: '$.a[99]', value: '"end"' },
      { operation: 'remove', path: '$.a[last]' },
    ]),
    '{"a": [5, "in", 2, 3], "b": "x", "c": [], "cc": {}, "key with space": null}',
  );
  assert.equal(applyJsonDiffs('[1]', [{ operation: 'replace', path: '$', value: '"whole"' }]), '"whole"');
  // Scalars keep their printed text (64-bit integers, decimals, opaque values).
  assert.equal(
    applyJsonDiffs('{"d": 1.50, "n": 18446744073709551615}', [
      { operation: 'insert', path: '$.e', value: '1e300' },
    ]),
    '{"d": 1.50, "e": 1e300, "n": 18446744073709551615}',
  );
});

test('a diff whose path is not in the before value fails, naming the path', () => {
  assert.throws(
    () => applyJsonDiffs('{"a": 1}', [{ operation: 'replace', path: '$.b.c', value: '1' }]),
    /\$\.b\.c/,
  );
  assert.throws(() => applyJsonDiffs('{"a": 1}', [{ operation: 'remove', path: '$.z' }]), /\$\.z/);
});

test('paths: members, quoted members, indexes and last-n', () => {
  assert.deepEqual(parseJsonPath('$.a."b.c"[2][last-1]'), [
    { member: 'a' },
    { member: 'b.c' },
    { index: 2, fromEnd: false },
    { index: 1, fromEnd: true },
  ]);
});

test('the binary diff list: operation, path and binary JSON value', () => {
  // REPLACE $.a with true; REMOVE $.b
  const bytes = Buffer.from('00' + '03' + '242e61' + '02' + '0401' + '02' + '03' + '242e62', 'hex');
  assert.deepEqual(readJsonDiffs(bytes, 0, bytes.length), [
    { operation: 'replace', path: '$.a', value: 'true' },
    { operation: 'remove', path: '$.b' },
  ]);
  assert.throws(() => readJsonDiffs(bytes, 0, 5), /truncated/);
});
