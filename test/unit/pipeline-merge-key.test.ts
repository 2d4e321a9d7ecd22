import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import { encodeKey, mergeKey } from '../../src/pipeline/values';

// mergeKey must give SameValueZero-equal Map keys exactly when encodeKey gives equal strings (the
// identity the merger was defined with), for every pair of the values below.

const samples: CellValue[] = [
  null,
  0,
  -0,
  5,
  5n,
  -5,
  -5n,
  1.5,
  -1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.MAX_SAFE_INTEGER,
  BigInt(Number.MAX_SAFE_INTEGER),
  BigInt(Number.MAX_SAFE_INTEGER) + 1n,
  2 ** 60,
  2n ** 60n,
  -(2 ** 60),
  -(2n ** 60n),
  18446744073709551615n,
  '',
  '5',
  'i5;',
  'abc',
  'ABC',
  '\u0000babc',
  '\u0000sabc',
  '\u0000',
  'NaN',
  'fNaN;',
  Buffer.from('abc'),
  Buffer.from('ABC'),
  Buffer.alloc(0),
  Buffer.from([0, 0xff]),
];

const sameValueZero = (a: unknown, b: unknown) => new Map([[a, true]]).get(b) === true;

test('mergeKey has the identity of encodeKey for one-column keys', () => {
  for (const a of samples) {
    for (const b of samples) {
      const expected = encodeKey([a]) === encodeKey([b]);
      assert.equal(
        sameValueZero(mergeKey([a]), mergeKey([b])),
        expected,
        `${String(a)} (${typeof a}) vs ${String(b)} (${typeof b})`,
      );
    }
  }
});

test('mergeKey of several columns is the encodeKey string', () => {
  assert.equal(mergeKey([1, 'a']), encodeKey([1, 'a']));
  assert.equal(mergeKey([1n, 'a']), mergeKey([1, 'a']));
  assert.notEqual(mergeKey([1, 'a']), mergeKey([1, 'b']));
  assert.equal(mergeKey([]), encodeKey([]));
});
