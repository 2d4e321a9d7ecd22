import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readDatetime2, readDatetime2Pieces } from '../../src/binlog/values/temporal';

// readDatetime2 has a one-piece fast path for fsp 0 and 6; it must give exactly the text of the
// general piece-by-piece path for every byte pattern, including values no server writes.

function check(bytes: number[], fsp: number): void {
  const buf = Buffer.from([0xaa, ...bytes, 0xbb]); // not at offset 0, with neighbours
  assert.equal(
    readDatetime2(buf, 1, fsp),
    readDatetime2Pieces(buf, 1, fsp),
    `${Buffer.from(bytes).toString('hex')} fsp ${fsp}`,
  );
}

test('DATETIME2 text: fast path equals the general path', () => {
  const edges = [
    [0x80, 0, 0, 0, 0, 0, 0, 0], // zero datetime
    [0x99, 0xb2, 0xba, 0xc8, 0xb8, 0x0a, 0x1b, 0x2c], // 2024-02-29 12:34:56.662316
    [0xfe, 0xf3, 0xff, 0x7e, 0xfb, 0x0f, 0x42, 0x3f], // 9999-12-31 23:59:59.999999
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // year > 9999, fraction > 999999
    [0x80, 0, 0, 0, 0, 0x0f, 0x42, 0x40], // fraction 1000000
    [0x8c, 0xb2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01], // year 1000, 1 microsecond
  ];
  for (const e of edges) for (let fsp = 0; fsp <= 6; fsp++) check(e, fsp);
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed & 0xff;
  };
  for (let i = 0; i < 20000; i++) {
    const bytes = Array.from({ length: 8 }, rnd);
    for (const fsp of [0, 3, 6]) check(bytes, fsp);
  }
});
